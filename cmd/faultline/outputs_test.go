package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
)

// journalFile writes a small completed journal and returns its path.
func journalFile(t *testing.T, dir, name string) string {
	t.Helper()
	res := heldResult(name)
	start := res.StartedAt
	j := report.NewJournal(res, report.DefaultHypothesis(), report.Meta{Platform: report.CurrentPlatform("embedded"), Start: start, End: start.Add(5 * time.Second)})
	path, err := j.WriteFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// heldResult is a small run in which every hypothesis held: the fault
// took effect, both modes answered every request, nothing was lost.
func heldResult(name string) *scenario.Result {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	res := &scenario.Result{
		Scenario: name, Lane: "embedded", StartedAt: start, Rate: 10, Modes: map[string]*scenario.ModeResult{},
		Schedule: scenario.Schedule{DurationSeconds: 4, FaultStart: 1, FaultEnd: 2.6, Steps: []scenario.Step{{
			AppliedAt: start.Add(time.Second), Evidence: []scenario.Evidence{{Hop: "inventory-http", Listed: "disabled", TookEffect: true}},
		}}},
	}
	for _, m := range scenario.Modes {
		mr := &scenario.ModeResult{Requests: 40, Accepted: 40, Completed: 40, Phases: map[string]*scenario.PhaseResult{}}
		for _, ph := range scenario.Phases {
			mr.Phases[ph] = &scenario.PhaseResult{Requests: 10, Successes: 10, SuccessRate: 1, P99Ms: 3}
		}
		for s := 0; s < 4; s++ {
			mr.Timeline = append(mr.Timeline, scenario.Second{T: s, Requests: 10, Successes: 10, P99Ms: 3})
		}
		mr.Stats = []scenario.StatsSample{{At: 0.5, Orders: map[string]int{}}, {At: 4.2, Orders: map[string]int{}}}
		mr.Window = &scenario.ConsistencyWindow{Final: 30, Phases: map[string]*scenario.WindowStats{}}
		for _, ph := range scenario.Phases {
			mr.Window.Phases[ph] = &scenario.WindowStats{Orders: 10, P50Ms: 5, P99Ms: 20, MaxMs: 25}
		}
		res.Modes[m] = mr
	}
	return res
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := journalFile(t, dir, "inventory-down"), journalFile(t, dir, "kafka-down")
	var stdout, stderr bytes.Buffer

	out := filepath.Join(dir, "html", "both.html")
	if err := run(context.Background(), []string{"report", a, "-o", out, b}, &stdout, &stderr); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr.String())
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "s0_success") || !strings.Contains(string(page), "s1_success") {
		t.Error("the page does not chart both journals")
	}
	if !strings.Contains(stdout.String(), "inventory-down, kafka-down") {
		t.Errorf("stdout = %q, want where it wrote and what", stdout.String())
	}

	// Without -o the report goes beside the journal.
	stdout.Reset()
	if err := run(context.Background(), []string{"report", a}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report-inventory-down-20260301T090000Z.html")); err != nil {
		t.Errorf("default report path: %v (stdout %q)", err, stdout.String())
	}
}

func TestReportCommandUsage(t *testing.T) {
	var ue usageError
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"report"}, &stdout, &stderr); !errors.As(err, &ue) {
		t.Errorf("report without a journal: %v, want a usage error", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"report", bad}, &stdout, &stderr); !errors.As(err, &ue) || !strings.Contains(err.Error(), "format") {
		t.Errorf("report of a non-journal: %v, want a usage error about the format", err)
	}
	if err := run(context.Background(), []string{"run", "--jitter", "2", "--scenario", "nope"}, &stdout, &stderr); !errors.As(err, &ue) {
		t.Errorf("run with an unknown scenario: %v, want a usage error", err)
	}
}

func TestProgressPrinterShowsRates(t *testing.T) {
	var b bytes.Buffer
	p := progressPrinter(&b)
	p(scenario.Progress{Phase: "baseline", Elapsed: time.Second, Total: 8 * time.Second, SyncSent: 10, SyncOK: 10, AsyncSent: 10, AsyncOK: 10})
	p(scenario.Progress{Phase: "fault", Elapsed: 2 * time.Second, Total: 8 * time.Second, SyncSent: 20, SyncOK: 12, AsyncSent: 21, AsyncOK: 21,
		AsyncBacklog: 7, Async: &scenario.StatsSample{OutboxBacklog: 3},
		Lag: map[string]int64{"order-service": -1, "inventory-service": 4}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), b.String())
	}
	for _, want := range []string{"[fault", "2.0s/8s", "sync  10/s ok  20%", "async  11/s ok 100%", "backlog 7 (outbox 3), lag inventory 4 order ?"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("progress line %q lacks %q", lines[1], want)
		}
	}
}
