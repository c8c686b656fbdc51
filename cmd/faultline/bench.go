package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/faultline-harness/faultline/chaos/bench"
)

// runBench is `faultline bench`: the harness's overheads as ratios.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.Config
	fs.DurationVar(&cfg.Window, "window", 3*time.Second, "how long each throughput measurement runs")
	fs.IntVar(&cfg.Workers, "workers", 16, "concurrency of the closed-loop measurements")
	fs.IntVar(&cfg.Messages, "messages", 20000, "1 KB records read by each consume measurement")
	fs.IntVar(&cfg.OutboxOrders, "outbox-orders", 20000, "async orders the outbox relay drains (half of it with one broker cut)")
	quick := fs.Bool("quick", false, "small windows and counts (a smoke run, not figures to quote)")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	markdown := fs.Bool("markdown", false, "print the table as Markdown")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))}
	}
	if cfg.Window <= 0 || cfg.Workers <= 0 || cfg.Messages <= 0 || cfg.OutboxOrders <= 0 {
		return usageError{fmt.Errorf("bench: --window, --workers, --messages and --outbox-orders must be positive")}
	}
	if *quick {
		cfg.Window, cfg.Messages, cfg.OutboxOrders = 500*time.Millisecond, 2000, 300
	}
	cfg.Progress = stderr
	fmt.Fprintf(stderr, "faultline bench: %s per measurement, %d workers, loopback only\n", cfg.Window, cfg.Workers)
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *markdown {
		rep.WriteMarkdown(stdout)
	} else if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write bench report: %w", err)
		}
		fmt.Fprintf(stderr, "faultline: wrote %s\n", *jsonPath)
	}
	return nil
}
