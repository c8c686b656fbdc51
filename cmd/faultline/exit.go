package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/faultline-harness/faultline/chaos/report"
)

// Exit statuses of faultline, for CI (documented in `faultline run -h`
// and the README).
const (
	exitHeld        = 0   // every run completed and its hypothesis held (or --no-fail)
	exitDeviated    = 1   // a steady-state hypothesis deviated (before or after the fault), the async side did not recover, or the fault did not take effect
	exitUsage       = 2   // bad usage: unknown command or flag, invalid value, unwritable output
	exitLost        = 3   // an accepted order was lost or its stock moved twice (accounting); wins over 1
	exitHarness     = 4   // the harness failed: a service did not start, a fault could not be applied or removed
	exitInterrupted = 130 // SIGINT or SIGTERM: the journal says "interrupted" and keeps what was measured
)

const exitHelp = `Exit status:
  0    every scenario ran and its steady-state hypothesis held: nothing
       accepted was lost or duplicated (also: any outcome with --no-fail)
  1    a hypothesis deviated: the steady state was not met before or after
       the fault, async did not recover within the run, or the fault did
       not take effect
  3    an accepted order was lost or its stock movement applied twice
       (takes precedence over 1)
  2    bad usage (unknown flag, invalid value, unwritable --report/--json)
  4    the harness failed (a service did not start, a fault could not be
       applied or removed); the journal's status is "failed"
  130  interrupted (Ctrl-C, SIGTERM): the journal's status is "interrupted";
       the journal, --json and --report are written from what was measured
`

type usageError struct{ error }

// outcomeError is a run whose hypothesis did not hold: the exit status says
// which way.
type outcomeError struct {
	code int
	msg  string
}

func (e outcomeError) Error() string { return e.msg }

// interruptedError is a run stopped by SIGINT or SIGTERM.
type interruptedError struct{ error }

func (e interruptedError) Unwrap() error { return e.error }

// exitCode maps run's error to the process's exit status and prints it.
func exitCode(err error, stderr io.Writer) int {
	var (
		ue usageError
		oe outcomeError
		ie interruptedError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitHeld
	case errors.As(err, &ie), errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "faultline: interrupted:", err)
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "faultline:", err)
		return exitUsage
	case errors.As(err, &oe):
		fmt.Fprintln(stderr, "faultline:", err)
		return oe.code
	default:
		fmt.Fprintln(stderr, "faultline: harness failure:", err)
		return exitHarness
	}
}

// lostOrDuplicated reports whether j's accounting found an accepted order
// lost or applied twice.
func lostOrDuplicated(j *report.Journal) bool {
	for _, a := range j.Accounting {
		if !a.ToleranceMet && (a.Metric == report.MetricLost || a.Metric == report.MetricDuplicated) {
			return true
		}
	}
	return false
}
