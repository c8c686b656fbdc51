package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
)

// outputs are what `faultline run` leaves behind besides the table: one
// JSON journal per scenario (always, unless --journal-dir is empty) and,
// with --report DIR, one HTML report per scenario.
type outputs struct {
	journalDir string
	reportDir  string
	written    []string
	deviated   []string // scenarios whose hypothesis deviated (exit 1)
	lost       []string // scenarios that lost or duplicated an accepted order (exit 3)
}

func addOutputFlags(fs *flag.FlagSet, opts *scenario.Options) *outputs {
	o := &outputs{}
	fs.Uint64Var(&opts.Seed, "seed", 0, "seed of the run's randomness (the arrival jitter and the fault schedule's: a flapping fault's periods); 0 picks one from the clock; recorded in the journal")
	fs.Float64Var(&opts.Jitter, "jitter", 0.2, "arrival jitter, 0..1 of the interval between requests (0: a metronome)")
	fs.StringVar(&o.journalDir, "journal-dir", "out", "write each scenario's JSON journal here as journal-<scenario>-<UTC time>.json (empty: none)")
	fs.StringVar(&o.reportDir, "report", "", "also write each scenario's self-contained HTML report into this directory")
	return o
}

// pickSeed fills opts.Seed when the user left it 0 and says which it is.
func pickSeed(opts *scenario.Options, stderr io.Writer) {
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	fmt.Fprintf(stderr, "faultline: seed %d (replay the same arrivals and fault steps with --seed %d --jitter %g)\n", opts.Seed, opts.Seed, opts.Jitter)
}

// record writes the journal (and report) of one scenario run.
func (o *outputs) record(j *report.Journal, stderr io.Writer) error {
	fmt.Fprintf(stderr, "faultline: %s: %s\n", j.Experiment.Scenario, j.Verdict)
	if j.Status == report.StatusCompleted {
		switch {
		case lostOrDuplicated(j):
			o.lost = append(o.lost, j.Experiment.Scenario)
		case j.Deviated:
			o.deviated = append(o.deviated, j.Experiment.Scenario)
		}
	}
	var journalPath string
	if o.journalDir != "" {
		p, err := j.WriteFile(o.journalDir)
		if err != nil {
			return err
		}
		journalPath = p
		o.written = append(o.written, "journal "+p)
	}
	if o.reportDir != "" && j.Measurements != nil { // completed, or interrupted with partial data
		p, err := writeReport(filepath.Join(o.reportDir, j.ReportFileName()), report.Source{Journal: j, Path: journalPath})
		if err != nil {
			return err
		}
		o.written = append(o.written, "report  "+p)
	}
	return nil
}

// finish says where everything went.
func (o *outputs) finish(stderr io.Writer) {
	if len(o.written) == 0 {
		return
	}
	fmt.Fprintln(stderr, "\nfaultline: wrote")
	for _, w := range o.written {
		fmt.Fprintln(stderr, "  "+w)
	}
}

func writeReport(path string, sources ...report.Source) (string, error) {
	return path, report.WriteHTMLFile(path, sources...)
}

// runReport is `faultline report JOURNAL.json... [-o report.html]`.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the HTML here (default: report-<scenario>-<time>.html beside the first journal)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: faultline report JOURNAL.json [JOURNAL.json...] [-o report.html]")
		fs.PrintDefaults()
	}
	// Flags may come before or after the journals.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) == 0 {
		fs.Usage()
		return usageError{fmt.Errorf("report: no journal given")}
	}
	var sources []report.Source
	for _, f := range files {
		j, err := report.ReadJournal(f)
		if err != nil {
			return usageError{err}
		}
		sources = append(sources, report.Source{Journal: j, Path: f})
	}
	path := *out
	if path == "" {
		path = filepath.Join(filepath.Dir(files[0]), sources[0].Journal.ReportFileName())
	}
	p, err := writeReport(path, sources...)
	if err != nil {
		return err
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Journal.Experiment.Scenario
	}
	fmt.Fprintf(stdout, "faultline: wrote %s (%s)\n", p, strings.Join(names, ", "))
	return nil
}

// lagSummary prints consumer lag per group label, sorted: "inventory-service
// 12 order-service ?" (? = the broker did not answer).
func lagSummary(lags map[string]int64) string {
	labels := make([]string, 0, len(lags))
	for l := range lags {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	parts := make([]string, len(labels))
	for i, l := range labels {
		v := "?"
		if lags[l] >= 0 {
			v = strconv.FormatInt(lags[l], 10)
		}
		parts[i] = strings.TrimSuffix(l, "-service") + " " + v
	}
	return strings.Join(parts, " ")
}

// progressPrinter prints one line a second: phase, elapsed, this second's
// request rate and success per mode, the async backlog and the consumer
// lag of each group at the broker.
func progressPrinter(w io.Writer) func(scenario.Progress) {
	var last scenario.Progress
	return func(p scenario.Progress) {
		rate := func(now, before int64) int64 { return max(0, now-before) }
		okPct := func(ok, okBefore, n, nBefore int64) string {
			if n-nBefore <= 0 {
				return "  -"
			}
			return fmt.Sprintf("%3.0f%%", 100*float64(ok-okBefore)/float64(n-nBefore))
		}
		async := "backlog ?"
		if p.AsyncBacklog >= 0 {
			async = fmt.Sprintf("backlog %d", p.AsyncBacklog)
		}
		if s := p.Async; s != nil && s.OrderErr == "" {
			async += fmt.Sprintf(" (outbox %d)", s.OutboxBacklog)
		}
		if len(p.Lag) > 0 {
			async += ", lag " + lagSummary(p.Lag)
		}
		fmt.Fprintf(w, "  [%-8s %5.1fs/%.0fs] sync %3d/s ok %s | hybrid %3d/s ok %s | async %3d/s ok %s %s\n",
			p.Phase, p.Elapsed.Seconds(), p.Total.Seconds(),
			rate(p.SyncSent, last.SyncSent), okPct(p.SyncOK, last.SyncOK, p.SyncSent, last.SyncSent),
			rate(p.HybridSent, last.HybridSent), okPct(p.HybridOK, last.HybridOK, p.HybridSent, last.HybridSent),
			rate(p.AsyncSent, last.AsyncSent), okPct(p.AsyncOK, last.AsyncOK, p.AsyncSent, last.AsyncSent), async)
		last = p
	}
}
