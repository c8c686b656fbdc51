package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/internal/testkit"

	_ "modernc.org/sqlite" // driver "sqlite", to delete an order behind the service's back
)

// fakeExecute stands in for scenario.Execute: it returns res as the run's
// measurements, after change has altered them (the injected outcome).
func fakeExecute(change func(*scenario.Result)) executeFunc {
	return func(_ context.Context, sc scenario.Scenario, _ scenario.Options, _ stack.Config) (*scenario.Result, error) {
		res := heldResult(sc.Name)
		change(res)
		return res, nil
	}
}

// runExit runs `faultline run` with execute, returns the exit status and
// the journal it wrote.
func runExit(t *testing.T, execute executeFunc, extra ...string) (int, *report.Journal, string) {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--scenario", "inventory-down", "--duration", "4s", "--journal-dir", dir, "--report", dir, "--json", filepath.Join(dir, "result.json")}, extra...)
	var stdout, stderr bytes.Buffer
	err := runScenarios(t.Context(), args, &stdout, &stderr, execute)
	code := exitCode(err, &stderr)
	return code, onlyJournal(t, dir, stderr.String()), dir
}

// onlyJournal reads the one journal-*.json in dir and stops the test when
// there is not exactly one (output: the run's, for the failure message).
func onlyJournal(t *testing.T, dir, output string) *report.Journal {
	t.Helper()
	journals, _ := filepath.Glob(filepath.Join(dir, "journal-*.json"))
	if len(journals) != 1 {
		t.Fatalf("journals in %s: %v, want exactly one\n%s", dir, journals, output)
	}
	j, err := report.ReadJournal(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// The exit status follows the hypothesis: a lost or duplicated accepted
// order exits 3, a deviated steady state 1, --no-fail 0.
func TestRunExitStatus(t *testing.T) {
	loseOne := func(res *scenario.Result) { // an accepted async order never completes: deleted from the store
		mr := res.Modes[scenario.ModeAsync]
		mr.Completed--
		mr.Lost++
	}
	for name, tc := range map[string]struct {
		change func(*scenario.Result)
		flags  []string
		want   int
	}{
		"held":                {func(*scenario.Result) {}, nil, exitHeld},
		"accepted order lost": {loseOne, nil, exitLost},
		"stock moved twice":   {func(res *scenario.Result) { res.Modes[scenario.ModeSync].DuplicatedEffects = 1 }, nil, exitLost},
		"steady state not restored": {func(res *scenario.Result) {
			ph := res.Modes[scenario.ModeSync].Phases[scenario.PhaseRecovery]
			ph.Successes, ph.SuccessRate = 5, 0.5
		}, nil, exitDeviated},
		"outbox row parked: a finding, not loss": {func(res *scenario.Result) {
			mr := res.Modes[scenario.ModeAsync]
			mr.Parked, mr.Failed = 1, 1
		}, nil, exitDeviated},
		"record dead-lettered":      {func(res *scenario.Result) { res.Modes[scenario.ModeHybrid].DeadLettered = 1 }, nil, exitDeviated},
		"fault did not take effect": {func(res *scenario.Result) { res.Schedule.Steps[0].Evidence[0].TookEffect = false }, nil, exitDeviated},
		"lost, --no-fail":           {loseOne, []string{"--no-fail"}, exitHeld},
	} {
		t.Run(name, func(t *testing.T) {
			code, j, _ := runExit(t, fakeExecute(tc.change), tc.flags...)
			if code != tc.want {
				t.Errorf("exit %d, want %d (journal verdict: %s)", code, tc.want, j.Verdict)
			}
			if j.Status != report.StatusCompleted {
				t.Errorf("journal status %q", j.Status)
			}
		})
	}
}

// Ctrl-C ends the run with status interrupted, keeps what was measured
// (journal, --json, report) and exits 130.
func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	interrupt := func(_ context.Context, sc scenario.Scenario, _ scenario.Options, _ stack.Config) (*scenario.Result, error) {
		res := heldResult(sc.Name) // what was measured before the signal
		res.Interrupted = true
		cancel()
		return res, context.Canceled
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runScenarios(ctx, []string{"--scenario", "inventory-down,kafka-down", "--duration", "4s", "--journal-dir", dir, "--report", dir,
		"--json", filepath.Join(dir, "result.json")}, &stdout, &stderr, interrupt)
	if code := exitCode(err, io.Discard); code != exitInterrupted {
		t.Fatalf("exit %d (%v), want 130", code, err)
	}
	j := onlyJournal(t, dir, "want the interrupted scenario's only, the next one not started\n"+stderr.String())
	if j.Status != report.StatusInterrupted || j.Measurements == nil || j.Measurements.Modes[scenario.ModeAsync].Requests == 0 || j.Deviated {
		t.Errorf("journal: status %q, measurements kept %v, deviated %v; want interrupted with the partial data and no verdict", j.Status, j.Measurements != nil, j.Deviated)
	}
	var res scenario.Result
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil || json.Unmarshal(b, &res) != nil || !res.Interrupted || res.Modes[scenario.ModeSync] == nil {
		t.Errorf("--json after the interrupt: %v %s", err, b)
	}
	page, err := os.ReadFile(filepath.Join(dir, j.ReportFileName()))
	if err != nil || !strings.Contains(string(page), "interrupted") || !strings.Contains(string(page), "s0_success") {
		t.Errorf("report after the interrupt: %v; want the partial charts marked interrupted", err)
	}
}

// Usage problems exit 2 before any stack starts; help exits 0.
func TestUsageAndHelpExitStatus(t *testing.T) {
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		t.Log("running as root: the read-only directory case is skipped")
	}
	never := func(context.Context, scenario.Scenario, scenario.Options, stack.Config) (*scenario.Result, error) {
		t.Error("a scenario ran despite bad usage")
		return nil, errors.New("should not run")
	}
	cases := map[string][]string{
		"zero duration":        {"--duration", "0"},
		"negative duration":    {"--duration", "-5s"},
		"report dir is a file": {"--report", filepath.Join("exit_test.go", "x")},
	}
	if os.Getuid() != 0 {
		cases["report dir not writable"] = []string{"--report", readOnly}
		cases["journal dir not writable"] = []string{"--journal-dir", filepath.Join(readOnly, "sub")}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := runScenarios(t.Context(), args, io.Discard, &stderr, never)
			if code := exitCode(err, &stderr); code != exitUsage {
				t.Errorf("exit %d (%v), want 2", code, err)
			}
		})
	}
	for _, args := range [][]string{{"run", "-h"}, {"report", "-h"}, {"bench", "-h"}, {"list", "-h"}, {"help"}} {
		var out bytes.Buffer
		err := run(t.Context(), args, &out, &out)
		if code := exitCode(err, io.Discard); code != exitHeld || (err != nil && !errors.Is(err, flag.ErrHelp)) {
			t.Errorf("%q: exit %d (%v), want 0", args, code, err)
		}
	}
	var out bytes.Buffer
	_ = run(t.Context(), []string{"run", "-h"}, &out, &out)
	if !strings.Contains(out.String(), "130") || !strings.Contains(out.String(), "lost or its stock") {
		t.Errorf("run -h does not document the exit statuses:\n%s", out.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "faultline ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("version: %q", out.String())
	}
	if err := run(t.Context(), []string{"version", "extra"}, &out, &out); exitCode(err, io.Discard) != exitUsage {
		t.Errorf("version extra: %v, want a usage error", err)
	}
}

// runInjectingAfterFault runs `faultline run` on the embedded lane
// (inventory-latency, 5 orders/s, seed 3) and, once the run is past its
// fault (recovery or settle), calls inject once with the async mode's
// order-service database. A failed inject fails the test; a run in which
// inject never ran stops it (nothing was injected: the test would prove
// nothing). It returns the exit status, the journal and inject's result
// (an order ID).
func runInjectingAfterFault(t *testing.T, what string, inject func(ctx context.Context, ordersDB string) (string, error)) (int, *report.Journal, string) {
	t.Helper()
	var injected atomic.Value // inject's result
	execute := func(ctx context.Context, sc scenario.Scenario, opts scenario.Options, cfg stack.Config) (*scenario.Result, error) {
		cfg.DataDir = t.TempDir()
		cfg.Log = testkit.Logger(t)
		progress := opts.Progress
		var once sync.Once
		opts.Progress = func(p scenario.Progress) {
			progress(p)
			if p.Phase == scenario.PhaseBaseline || p.Phase == scenario.PhaseFault { // after the fault: recovery or settle
				return
			}
			once.Do(func() {
				id, err := inject(ctx, filepath.Join(cfg.DataDir, "orders-"+scenario.ModeAsync+".db"))
				if err != nil {
					t.Errorf("%s: %v", what, err)
					return
				}
				injected.Store(id)
			})
		}
		return scenario.Execute(ctx, sc, opts, cfg)
	}
	code, j, _ := runExit(t, execute, "--scenario", "inventory-latency", "--rate", "5", "--seed", "3")
	id, _ := injected.Load().(string)
	if id == "" {
		t.Fatalf("%s: not done during the run, nothing was injected", what)
	}
	return code, j, id
}

// withOneConfirmed finds one CONFIRMED order in an order-service SQLite
// store, behind the service's back, calls change with the database and the
// order's ID, and returns the ID.
func withOneConfirmed(ctx context.Context, path string, change func(db *sql.DB, id string) error) (string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var id string
	if err := db.QueryRowContext(ctx, `SELECT id FROM orders WHERE status = 'CONFIRMED' ORDER BY created_at LIMIT 1`).Scan(&id); err != nil {
		return "", fmt.Errorf("find a confirmed order: %w", err)
	}
	if err := change(db, id); err != nil {
		return "", err
	}
	return id, nil
}

// A real run on the embedded lane in which one accepted, confirmed async
// order is deleted from order-service's store after the fault:
// the accounting finds it lost and `faultline run` exits 3.
func TestRunExitsNonZeroWhenAnAcceptedOrderIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	code, j, deleted := runInjectingAfterFault(t, "inject the loss", func(ctx context.Context, path string) (string, error) {
		return withOneConfirmed(ctx, path, func(db *sql.DB, id string) error {
			if _, err := db.ExecContext(ctx, `DELETE FROM orders WHERE id = ?`, id); err != nil {
				return fmt.Errorf("delete order %s: %w", id, err)
			}
			return nil
		})
	})
	if mr := j.Measurements.Modes[scenario.ModeAsync]; mr.Lost != 1 {
		t.Errorf("async accounting: accepted %d, completed %d, lost %d; want the deleted order %v lost", mr.Accepted, mr.Completed, mr.Lost, deleted)
	}
	if code != exitLost {
		t.Errorf("exit %d, want %d (an accepted order lost); verdict: %s", code, exitLost, j.Verdict)
	}
}

// A real run on the embedded lane in which one accepted async order's
// outbox row is parked after the fault, as the relay parks a row after a
// permanent publish failure (row parked_at and park_reason, order FAILED
// with reason publish_failed; the relay's own parking is tested in
// services/order, TestRelayParksPermanentFailure): the harness reads it
// from order-service's /stats, the accounting counts the order final
// (FAILED, not lost) and flags the parked row, and `faultline run` exits 1.
func TestRunFlagsAParkedOutboxRow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	// Park the published outbox row of one CONFIRMED order as the relay
	// does after a permanent failure.
	code, j, parked := runInjectingAfterFault(t, "park a row", func(ctx context.Context, path string) (string, error) {
		return withOneConfirmed(ctx, path, func(db *sql.DB, id string) error {
			now := time.Now().UTC().Format(time.RFC3339Nano)
			if _, err := db.ExecContext(ctx, `UPDATE outbox SET parked_at = ?, park_reason = 'forced by test: record too large' WHERE order_id = ?`, now, id); err != nil {
				return fmt.Errorf("park the row of order %s: %w", id, err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE orders SET status = 'FAILED', reason = 'publish_failed', updated_at = ? WHERE id = ?`, now, id); err != nil {
				return fmt.Errorf("fail order %s: %w", id, err)
			}
			return nil
		})
	})
	mr := j.Measurements.Modes[scenario.ModeAsync]
	if mr.Parked != 1 || mr.Failed != 1 || mr.Lost != 0 {
		t.Errorf("async accounting: parked %d, failed %d, lost %d; want the row of order %v parked, its order FAILED, nothing lost", mr.Parked, mr.Failed, mr.Lost, parked)
	}
	found := false
	for _, a := range j.Accounting {
		if a.Metric == report.MetricParked && a.Mode == scenario.ModeAsync {
			found = true
			if a.ToleranceMet || a.Value != 1 {
				t.Errorf("accounting probe %q: value %v, met %v; want 1, not met", a.Probe, a.Value, a.ToleranceMet)
			}
		}
	}
	if !found {
		t.Error("the journal's accounting has no async parked probe")
	}
	if code != exitDeviated {
		t.Errorf("exit %d, want %d (a finding, not loss); verdict: %s", code, exitDeviated, j.Verdict)
	}
}
