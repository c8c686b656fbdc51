// Command faultline runs the sync-vs-async chaos comparison: it starts the
// system under test (embedded Kafka and Toxiproxy unless KAFKA_BROKERS and
// TOXIPROXY_URL are set), drives both placement modes with the same
// open-loop load, applies a scenario's fault and prints what happened.
//
//	faultline list [--json]
//	faultline run [--scenario NAME[,NAME...]|all] [--duration 20s] [--rate 20] [--settle 30s] [--json PATH] [--service-log PATH]
//	              [--seed N] [--jitter 0.2] [--broker-down 5s] [--journal-dir out] [--report DIR] [--no-fail]
//	faultline report JOURNAL.json [JOURNAL.json...] [-o report.html]
//	faultline bench [--quick]
//	faultline version
//
// Every scenario runs through scenario.Execute, which starts a fresh stack
// for it, runs it under this command's context (Ctrl-C stops it), restores
// what it faulted and closes the stack. Every run writes a JSON journal per
// scenario (--journal-dir, default out/journal-<scenario>-<UTC time>.json):
// the fault schedule as declared and as run (each step's exact times and
// the evidence it took effect), the seed, component versions, the
// steady-state hypothesis checked before and after the fault, every
// measurement and a verdict per check.
// `faultline report` renders journals as one self-contained HTML page;
// `run --report DIR` writes one per scenario directly.
//
// Exit status (see exitHelp, printed by `faultline run -h`): 0 every
// hypothesis held; 1 a steady-state hypothesis deviated; 3 an accepted
// order was lost or duplicated; 2 bad usage; 4 the harness failed; 130
// interrupted (Ctrl-C or SIGTERM: the journal's status is "interrupted"
// and the journal, --json and --report keep what was measured). --no-fail
// turns 1 and 3 into 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/internal/buildinfo"
	"github.com/faultline-harness/faultline/services/order"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

const usage = `usage:
  faultline list [--json]             list the scenarios (--json: with their fault schedules and parameters)
  faultline run [flags]               run scenarios and print the sync-vs-async comparison
  faultline report JOURNAL.json... [-o report.html]
                                      render journals as a self-contained HTML report
  faultline bench [--quick]           measure the harness's own overheads and print ratios
  faultline version                   print the module version and VCS revision

Run 'faultline run -h' for the run flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command given")}
	}
	switch args[0] {
	case "list":
		return runList(args[1:], stdout, stderr)
	case "run":
		return runScenarios(ctx, args[1:], stdout, stderr, scenario.Execute)
	case "report":
		return runReport(args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		return runVersion(args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
}

// runList is `faultline list [--json]`.
func runList(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the scenarios as a JSON array: name, description, setup, the fault window and each action's fault (type, hops, stream, toxicity, attributes) and timing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("list: unexpected argument %q", fs.Arg(0))}
	}
	if *asJSON {
		b, err := json.MarshalIndent(scenario.All(), "", "  ")
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(b, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, s := range scenario.All() {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Description)
	}
	return tw.Flush()
}

// executeFunc runs one scenario: scenario.Execute, or a test's stand-in.
type executeFunc func(ctx context.Context, sc scenario.Scenario, opts scenario.Options, cfg stack.Config) (*scenario.Result, error)

func runScenarios(ctx context.Context, args []string, stdout, stderr io.Writer, execute executeFunc) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: faultline run [flags]\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+exitHelp)
	}
	names := fs.String("scenario", "all", "scenario name, comma-separated names, or all")
	var opts scenario.Options
	fs.DurationVar(&opts.Duration, "duration", 20*time.Second, "whole load per scenario: baseline 25%, fault 40%, recovery 35%")
	fs.IntVar(&opts.Rate, "rate", 20, "requests per second sent to EACH placement mode")
	fs.DurationVar(&opts.Settle, "settle", 30*time.Second, "max wait after the load for accepted async orders to complete")
	fs.DurationVar(&opts.BrokerDown, "broker-down", scenario.DefaultBrokerDown, "how long kafka-broker-restart keeps the broker down before restarting it")
	jsonPath := fs.String("json", "", "write the result as JSON to this file (one object for one scenario, an array for several)")
	serviceLog := fs.String("service-log", "", "append the services' logs to this file (default: discarded)")
	hybridTimeout := fs.Duration("hybrid-read-timeout", 200*time.Millisecond, "order-hybrid's stock read timeout (GET /stock/{sku})")
	hybridPolicy := fs.String("hybrid-on-read-failure", string(order.AcceptOnReadFailure), `what order-hybrid does when the stock read fails: "accept" (202, stock_check "unverified") or "refuse" (503 stock_unavailable)`)
	noFail := fs.Bool("no-fail", false, "only report: exit 0 when every run completed, whatever the hypotheses found (a harness failure still exits 4, Ctrl-C 130)")
	outs := addOutputFlags(fs, &opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: name scenarios with --scenario", fs.Arg(0))}
	}
	if opts.Duration <= 0 {
		return usageError{fmt.Errorf("--duration must be positive (got %s)", opts.Duration)}
	}
	if opts.Rate <= 0 || opts.Settle <= 0 {
		return usageError{fmt.Errorf("--rate and --settle must be positive (got %d, %s)", opts.Rate, opts.Settle)}
	}
	if opts.BrokerDown <= 0 {
		return usageError{fmt.Errorf("--broker-down must be positive (got %s)", opts.BrokerDown)}
	}
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	if *hybridTimeout <= 0 {
		return usageError{fmt.Errorf("--hybrid-read-timeout must be positive (got %s)", *hybridTimeout)}
	}
	hybrid := order.HybridConfig{ReadTimeout: *hybridTimeout, OnReadFailure: order.ReadFailurePolicy(*hybridPolicy)}
	if p := hybrid.OnReadFailure; p != order.AcceptOnReadFailure && p != order.RefuseOnReadFailure {
		return usageError{fmt.Errorf("--hybrid-on-read-failure %q: want %q or %q", p, order.AcceptOnReadFailure, order.RefuseOnReadFailure)}
	}
	// Outputs that cannot be written fail now, not after the run.
	if *jsonPath != "" {
		if err := checkWritableDir(filepath.Dir(*jsonPath)); err != nil {
			return usageError{fmt.Errorf("--json %s: %w", *jsonPath, err)}
		}
	}
	for flagName, dir := range map[string]string{"--journal-dir": outs.journalDir, "--report": outs.reportDir} {
		if dir == "" {
			continue
		}
		if err := checkWritableDir(dir); err != nil {
			return usageError{fmt.Errorf("%s %s: %w", flagName, dir, err)}
		}
	}
	var scs []scenario.Scenario
	if *names == "all" {
		scs = scenario.All()
	} else {
		for _, n := range strings.Split(*names, ",") {
			sc, err := scenario.Lookup(strings.TrimSpace(n))
			if err != nil {
				return usageError{err}
			}
			scs = append(scs, sc)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *serviceLog != "" {
		f, err := os.OpenFile(*serviceLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return usageError{fmt.Errorf("open service log: %w", err)}
		}
		defer f.Close()
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	opts.Progress = progressPrinter(stderr)
	pickSeed(&opts, stderr)

	var results []*scenario.Result
	for _, sc := range scs {
		cfg := stack.ConfigFromEnv() // Execute adds the scenario's own setup
		cfg.Log = logger.With("scenario", sc.Name)
		cfg.Hybrid = hybrid
		fmt.Fprintf(stderr, "faultline: starting stack for %s...\n", sc.Name)
		o := opts
		o.StackReady = func(info scenario.StackInfo) {
			fmt.Fprintf(stderr, "faultline: %s lane up (toxiproxy %s, kafka %s); running %s for %s at %d req/s per mode\n",
				info.Lane, info.ToxiproxyURL, strings.Join(info.KafkaBrokers, ","), sc.Name, o.Duration, o.Rate)
		}
		started := time.Now()
		res, runErr := execute(ctx, sc, o, cfg)
		meta := report.Meta{Command: os.Args, Platform: report.CurrentPlatform(""), Start: started, End: time.Now()}
		if ctx.Err() != nil { // Ctrl-C or SIGTERM: keep what was measured
			err := fmt.Errorf("scenario %s: %w", sc.Name, context.Cause(ctx))
			if runErr != nil {
				err = fmt.Errorf("scenario %s: %w", sc.Name, runErr)
			}
			if e := outs.record(report.InterruptedJournal(sc, o, report.DefaultHypothesis(), meta, res, err), stderr); e != nil {
				fmt.Fprintf(stderr, "faultline: %v\n", e)
			}
			if res != nil && len(res.Modes) > 0 {
				results = append(results, res)
			}
			if e := writeResults(*jsonPath, results, outs); e != nil {
				fmt.Fprintf(stderr, "faultline: %v\n", e)
			}
			outs.finish(stderr)
			return interruptedError{err}
		}
		if errors.Is(runErr, scenario.ErrNotApplicable) { // e.g. one-broker-down on a single real broker
			fmt.Fprintf(stderr, "faultline: skipped: %v\n", runErr)
			continue
		}
		if runErr != nil {
			runErr = fmt.Errorf("scenario %s: %w", sc.Name, runErr)
			if err := outs.record(report.FailedJournal(sc, o, report.DefaultHypothesis(), meta, res, runErr), stderr); err != nil {
				fmt.Fprintf(stderr, "faultline: %v\n", err)
			}
			outs.finish(stderr)
			return runErr
		}
		if res.Teardown != nil && res.Teardown.CloseError != "" {
			fmt.Fprintf(stderr, "faultline: warning: stopping the stack: %s\n", res.Teardown.CloseError)
		}
		res.WriteTable(stdout)
		results = append(results, res)
		if err := outs.record(report.NewJournal(res, report.DefaultHypothesis(), meta), stderr); err != nil {
			return err
		}
	}
	if err := writeResults(*jsonPath, results, outs); err != nil {
		return err
	}
	outs.finish(stderr)
	switch {
	case *noFail:
		return nil
	case len(outs.lost) > 0:
		return outcomeError{exitLost, "an accepted order was lost or duplicated in " + strings.Join(outs.lost, ", ") + " (exit 3; --no-fail only reports)"}
	case len(outs.deviated) > 0:
		return outcomeError{exitDeviated, "the steady-state hypothesis deviated in " + strings.Join(outs.deviated, ", ") + " (exit 1; --no-fail only reports)"}
	}
	return nil
}

// writeResults writes --json: one object for one scenario, an array for
// several; nothing when path is "".
func writeResults(path string, results []*scenario.Result, outs *outputs) error {
	if path == "" {
		return nil
	}
	var v any = results
	if len(results) == 1 {
		v = results[0]
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	outs.written = append(outs.written, "result  "+path)
	return nil
}

// checkWritableDir creates dir if needed and checks a file can be created
// in it.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".faultline-write-check-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// runVersion is `faultline version`: the module version and the VCS
// revision the binary was built from (debug.ReadBuildInfo).
func runVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("version: unexpected argument %q", args[0])}
	}
	_, err := fmt.Fprintln(stdout, "faultline", buildinfo.String())
	return err
}
