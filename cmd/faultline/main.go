// Command faultline runs the sync-vs-async chaos comparison: it starts the
// system under test (embedded Kafka and Toxiproxy unless KAFKA_BROKERS and
// TOXIPROXY_URL are set), drives both placement modes with the same
// open-loop load, applies a scenario's fault and prints what happened.
//
//	faultline list
//	faultline run [--scenario NAME[,NAME...]|all] [--duration 20s] [--rate 20] [--settle 30s] [--json PATH] [--service-log PATH]
//
// Exit status: 0 when every run completed (whatever sync's numbers were:
// those are the finding), 1 when the harness failed (a service did not
// start, a fault could not be applied or removed), 2 on bad usage.
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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "faultline:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "faultline: harness failure:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

const usage = `usage:
  faultline list                      list the scenarios
  faultline run [flags]               run scenarios and print the sync-vs-async comparison

run flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command given")}
	}
	switch args[0] {
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, s := range scenario.All() {
			fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Description)
		}
		return tw.Flush()
	case "run":
		return runScenarios(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
}

func runScenarios(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := fs.String("scenario", "all", "scenario name, comma-separated names, or all")
	var opts scenario.Options
	fs.DurationVar(&opts.Duration, "duration", 20*time.Second, "whole load per scenario: baseline 25%, fault 40%, recovery 35%")
	fs.IntVar(&opts.Rate, "rate", 20, "requests per second sent to EACH placement mode")
	fs.DurationVar(&opts.Settle, "settle", 30*time.Second, "max wait after the load for accepted async orders to complete")
	jsonPath := fs.String("json", "", "write the result as JSON to this file (one object for one scenario, an array for several)")
	serviceLog := fs.String("service-log", "", "append the services' logs to this file (default: discarded)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
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
	opts.Progress = func(p scenario.Progress) {
		backlog := "?"
		if p.AsyncBacklog >= 0 {
			backlog = fmt.Sprint(p.AsyncBacklog)
		}
		fmt.Fprintf(stderr, "  [%-8s %5.1fs/%.0fs] sync %d done %s ok | async %d done %s ok, backlog %s\n",
			p.Phase, p.Elapsed.Seconds(), p.Total.Seconds(), p.SyncSent, pct(p.SyncOK, p.SyncSent), p.AsyncSent, pct(p.AsyncOK, p.AsyncSent), backlog)
	}

	var results []*scenario.Result
	for _, sc := range scs {
		cfg := stack.ConfigFromEnv()
		cfg.Log = logger.With("scenario", sc.Name)
		fmt.Fprintf(stderr, "faultline: starting stack for %s...\n", sc.Name)
		st, err := stack.Start(ctx, cfg)
		if err != nil {
			return fmt.Errorf("start stack: %w", err)
		}
		fmt.Fprintf(stderr, "faultline: %s lane up (toxiproxy %s, kafka %s); running %s for %s at %d req/s per mode\n",
			st.Lane, st.ToxiproxyURL, strings.Join(st.KafkaBrokers, ","), sc.Name, opts.Duration, opts.Rate)
		res, runErr := scenario.Run(ctx, st, sc, opts)
		closeErr := st.Close()
		if runErr != nil {
			return fmt.Errorf("scenario %s: %w", sc.Name, runErr)
		}
		if closeErr != nil {
			fmt.Fprintf(stderr, "faultline: warning: stopping the stack: %v\n", closeErr)
		}
		res.WriteTable(stdout)
		results = append(results, res)
	}
	if *jsonPath != "" {
		var v any = results
		if len(results) == 1 {
			v = results[0]
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		fmt.Fprintf(stderr, "faultline: wrote %s\n", *jsonPath)
	}
	return nil
}

func pct(ok, n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(ok)/float64(n))
}
