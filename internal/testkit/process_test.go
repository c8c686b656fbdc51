package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
)

// TestProcessExitCodeOutputAndSignal: Wait reports the exit code and
// Output what the process wrote; a process stopped by a signal it does not
// handle reports -1.
func TestProcessExitCodeOutputAndSignal(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p := testkit.StartProcess(t, sh, "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
	if code := p.Wait(t, 10*time.Second); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if out := p.Output(); !strings.Contains(out, "to-stdout") || !strings.Contains(out, "to-stderr") {
		t.Fatalf("output %q", out)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	sleeper := testkit.StartProcess(t, sleep, "30")
	sleeper.Signal(t, syscall.SIGTERM)
	if code := sleeper.Wait(t, 10*time.Second); code != -1 {
		t.Fatalf("exit code %d after SIGTERM, want -1 (killed by the signal)", code)
	}
}

// recorder is a testing.TB that records Errorf and Fatalf (which ends the
// goroutine, as testing.T's does) instead of failing the test; the rest
// (Cleanup, TempDir...) is the real test's.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// failures runs check with a recorder in its own goroutine and returns
// what it reported.
func failures(t *testing.T, check func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); check(r) }()
	<-done
	return r.failures
}

// TestCheckExitsOutputAndStopClean: ExitCase.Check (CheckExits' per-case
// check) passes a run that meets the case and fails one with the wrong
// code or output; CheckOutput fails once per missing string; StopClean
// passes a process that exits 0 on SIGTERM and fails one killed by it.
func TestCheckExitsOutputAndStopClean(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	testkit.CheckExits(t, sh, []testkit.ExitCase{{Args: []string{"-c", "echo usage; exit 2"}, Code: 2, Want: "usage"}})
	for name, tc := range map[string]struct {
		check func(tb testing.TB)
		fails int
	}{
		"exit as told": {func(tb testing.TB) {
			testkit.ExitCase{Args: []string{"-c", "echo usage; exit 2"}, Code: 2, Want: "usage"}.Check(tb, sh)
		}, 0},
		"wrong code": {func(tb testing.TB) {
			testkit.ExitCase{Args: []string{"-c", "echo usage; exit 1"}, Code: 2, Want: "usage"}.Check(tb, sh)
		}, 1},
		"wrong output": {func(tb testing.TB) {
			testkit.ExitCase{Args: []string{"-c", "echo help; exit 2"}, Code: 2, Want: "usage"}.Check(tb, sh)
		}, 1},
		"output has all": {func(tb testing.TB) {
			p := testkit.StartProcess(tb, sh, "-c", "echo starting mode=sync")
			p.Wait(tb, 10*time.Second)
			p.CheckOutput(tb, "starting", "mode=sync")
		}, 0},
		"output lacks two": {func(tb testing.TB) {
			p := testkit.StartProcess(tb, sh, "-c", "echo starting")
			p.Wait(tb, 10*time.Second)
			p.CheckOutput(tb, "starting", "mode=sync", "breaker")
		}, 2},
		"exits 0 on SIGTERM": {func(tb testing.TB) {
			p := testkit.StartProcess(tb, sh, "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done")
			testkit.Eventually(tb, 10*time.Second, func() (bool, string) { return strings.Contains(p.Output(), "ready"), "trap not set yet" })
			testkit.StopClean(tb, 10*time.Second, p)
		}, 0},
		"killed by SIGTERM": {func(tb testing.TB) {
			testkit.StopClean(tb, 10*time.Second, testkit.StartProcess(tb, sh, "-c", "sleep 30"))
		}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			if got := failures(t, tc.check); len(got) != tc.fails {
				t.Errorf("%d failures reported, want %d: %q", len(got), tc.fails, got)
			}
		})
	}
}

// TestServe: the returned base URL reaches the listener Run got; stop
// ends Run's context and reports a Run that returns an error or never
// returns.
func TestServe(t *testing.T) {
	for name, tc := range map[string]struct {
		result error
		fails  int
	}{
		"returns nil":      {nil, 0},
		"returns an error": {errors.New("shutdown failed"), 1},
	} {
		t.Run(name, func(t *testing.T) {
			got := failures(t, func(tb testing.TB) {
				served := make(chan string, 1)
				base, stop := testkit.Serve(tb, func(ctx context.Context, ln net.Listener) error {
					served <- "http://" + ln.Addr().String()
					<-ctx.Done()
					return tc.result
				})
				if addr := <-served; addr != base {
					tb.Errorf("base URL %s, Run's listener at %s", base, addr)
				}
				stop()
				stop() // idempotent: reports once
			})
			if len(got) != tc.fails {
				t.Errorf("%d failures reported, want %d: %q", len(got), tc.fails, got)
			}
		})
	}
}
