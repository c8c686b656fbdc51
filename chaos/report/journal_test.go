package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

func verdicts(ss SteadyState) map[string]string {
	out := map[string]string{}
	for _, p := range ss.Probes {
		out[p.Probe] = p.Verdict
	}
	return out
}

func TestJournalVerdicts(t *testing.T) {
	tests := []struct {
		name         string
		fx           func(*fixture)
		wantDeviated bool
		wantBefore   bool
		wantAfter    bool
		wantFailed   string // a probe that must fail
		wantVerdict  string
	}{
		{"recovered", func(*fixture) {}, false, true, true, "", "steady state met before and after"},
		{"sync still slow after the fault", func(f *fixture) { f.syncRecoveryP99 = 300 }, true, true, false, "sync p99 latency", "did not return"},
		{"async orders still slow to become final after the fault", func(f *fixture) { f.windowAfterP99 = 6200 }, true, true, false, "async consistency window p99", "did not return"},
		{"backlog left once settled", func(f *fixture) { f.finalBacklog = 3 }, true, true, false, "async backlog drains to 0", "did not return"},
		{"unhealthy before the fault", func(f *fixture) { f.baselineOK = 0.5 }, true, false, true, "sync success rate", "NOT met before"},
		{"an order lost", func(f *fixture) { f.asyncLost = 2 }, true, true, true, "", "accounting failed: async: no accepted order lost"},
		{"an outbox row parked: a finding, not loss", func(f *fixture) { f.asyncParked = 1 }, true, true, true, "", "accounting failed: async: no outbox row parked"},
		{"a record dead-lettered: a finding, not loss", func(f *fixture) { f.asyncDeadLetter = 2 }, true, true, true, "", "accounting failed: async: no record dead-lettered"},
		{"the fault did not take effect", func(f *fixture) { f.faultNotSeen = true }, true, true, true, "", "the fault did NOT take effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := defaultFixture()
			tt.fx(&fx)
			j := fx.journal()
			if j.Deviated != tt.wantDeviated {
				t.Errorf("deviated = %v, want %v (verdict %q)", j.Deviated, tt.wantDeviated, j.Verdict)
			}
			if j.SteadyStates.Before.Met != tt.wantBefore || j.SteadyStates.After.Met != tt.wantAfter {
				t.Errorf("met before/after = %v/%v, want %v/%v", j.SteadyStates.Before.Met, j.SteadyStates.After.Met, tt.wantBefore, tt.wantAfter)
			}
			if !strings.Contains(j.Verdict, tt.wantVerdict) {
				t.Errorf("verdict %q does not say %q", j.Verdict, tt.wantVerdict)
			}
			if tt.wantFailed != "" {
				all := map[string]string{}
				for k, v := range verdicts(j.SteadyStates.Before) {
					all[k] = v
				}
				for k, v := range verdicts(j.SteadyStates.After) {
					if v == VerdictFail {
						all[k] = v
					}
				}
				if all[tt.wantFailed] != VerdictFail {
					t.Errorf("probe %q: verdict %q, want fail (%v)", tt.wantFailed, all[tt.wantFailed], all)
				}
			}
			for _, p := range j.SteadyStates.During.Probes {
				if p.Verdict != VerdictInfo {
					t.Errorf("during the fault, probe %q has verdict %q, want %q", p.Probe, p.Verdict, VerdictInfo)
				}
			}
		})
	}
}

func TestBacklogProbeWindows(t *testing.T) {
	res := defaultFixture().result()
	p := DefaultHypothesis().Probes[3]
	before, _, ok := measure(res, p, WindowBefore)
	if !ok || before != 0 {
		t.Errorf("before: lowest baseline backlog = %v (ok %v), want 0", before, ok)
	}
	during, _, _ := measure(res, p, WindowDuring)
	if during < 100 {
		t.Errorf("during: highest backlog = %v, want the fault's peak (>= 100)", during)
	}
	after, what, _ := measure(res, p, WindowAfter)
	if after != 0 || !strings.Contains(what, "20.5") {
		t.Errorf("after: %v (%s), want 0 from the last sample at 20.5 s", after, what)
	}
	// A failed read is skipped, not taken as a backlog of -1 or 0.
	stats := res.Modes[scenario.ModeAsync].Stats
	for i := range stats {
		if stats[i].At < res.Schedule.FaultStart {
			stats[i].Orders["PENDING"] = 1
		}
	}
	stats[0].OrderErr = "connection refused"
	if v, _, _ := measure(res, p, WindowBefore); v != 1 {
		t.Errorf("before with a failed read: lowest backlog %v, want 1", v)
	}
}

func TestJournalFileRoundTrip(t *testing.T) {
	j := defaultFixture().journal()
	dir := filepath.Join(t.TempDir(), "out")
	path, err := j.WriteFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "journal-inventory-down-20260301T115958Z.json"; filepath.Base(path) != want {
		t.Errorf("file name %s, want %s", filepath.Base(path), want)
	}
	if want := "report-inventory-down-20260301T115958Z.html"; j.ReportFileName() != want {
		t.Errorf("report name %s, want %s", j.ReportFileName(), want)
	}
	got, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seed != 42 || got.Experiment.Schedule.FaultEnd != 13.02 || got.Measurements.Modes["async"].Stats[10].At != 2.5 {
		t.Errorf("round trip lost data: seed %d, fault end %v", got.Seed, got.Experiment.Schedule.FaultEnd)
	}
	if len(got.Activities) != 4 || got.Activities[1].Type != "action" || got.Activities[1].StartOffset != 5.01 || got.Activities[2].EndOffset != 13.02 {
		t.Errorf("activities = %+v", got.Activities)
	}
	if !got.FaultTookEffect || len(got.Experiment.Actions) != 1 || len(got.Experiment.Schedule.Steps) != 1 || len(got.Experiment.Schedule.Steps[0].Evidence) != 2 {
		t.Errorf("schedule and evidence lost: took effect %v, actions %+v, steps %+v", got.FaultTookEffect, got.Experiment.Actions, got.Experiment.Schedule.Steps)
	}

	// The keys a reader relies on are present.
	var raw map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "status", "seed", "platform", "experiment", "steady_states", "accounting", "fault_took_effect", "deviated", "verdict", "measurements", "spans_dropped"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("journal has no %q", k)
		}
	}
	rec := raw["measurements"].(map[string]any)["modes"].(map[string]any)["async"].(map[string]any)
	for _, k := range []string{"recovery_seconds", "outbox_parked", "dead_lettered", "dead_letters_dropped", "failed"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("measurements.modes.async has no %s (0 must be written as 0)", k)
		}
	}
	if smp := rec["stats"].([]any)[0].(map[string]any); smp["outbox_parked"] == nil || smp["inventory_dead_letters_dropped"] == nil {
		t.Errorf("a /stats sample lacks outbox_parked or inventory_dead_letters_dropped: %v", smp)
	}
}

func TestReadJournalRejectsOtherFormats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(path, []byte(`{"format":"chaostoolkit/1","status":"completed"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJournal(path); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("ReadJournal = %v, want a format error", err)
	}
}

func TestCurrentPlatformNamesComponents(t *testing.T) {
	p := CurrentPlatform("embedded")
	if p.Go == "" || p.CPUs < 1 || p.Lane != "embedded" {
		t.Errorf("platform = %+v", p)
	}
	versions := map[string]string{}
	for _, c := range p.Components {
		versions[c.Module] = c.Version
	}
	// This package links all of them (through chaos/scenario and chaos/stack).
	for _, mod := range []string{"github.com/IBM/sarama", "github.com/Shopify/toxiproxy/v2", "github.com/twmb/franz-go/pkg/kfake",
		"github.com/HdrHistogram/hdrhistogram-go", "github.com/go-echarts/go-echarts/v2"} {
		if !strings.HasPrefix(versions[mod], "v") {
			t.Errorf("%s version = %q, want a module version", mod, versions[mod])
		}
	}
}

func TestFailedJournal(t *testing.T) {
	j := FailedJournal(scenario.Scenario{Name: "kafka-down"}, scenario.Options{Seed: 7}, DefaultHypothesis(), Meta{}, nil, os.ErrDeadlineExceeded)
	if j.Status != StatusFailed || !j.Deviated || j.Seed != 7 || !strings.Contains(j.Verdict, "harness failed") {
		t.Errorf("failed journal = %+v", j)
	}
}

func TestSummary(t *testing.T) {
	s := SummaryOf(defaultFixture().journal())
	for _, want := range []string{"inventory-down (embedded lane, 20 req/s", "sync :", "fault 0.0%", "5xx=160", "async:", "recovered in 1.5s", "verdict: steady state met"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// The spans the collector dropped at its cap reach the journal.
func TestJournalCarriesSpansDropped(t *testing.T) {
	fx := defaultFixture()
	res := fx.result()
	res.SpansDropped = 7
	j := NewJournal(res, DefaultHypothesis(), Meta{Start: res.StartedAt, End: res.StartedAt.Add(21 * time.Second)})
	path, err := j.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.SpansDropped != 7 || got.Measurements.SpansDropped != 7 {
		t.Errorf("journal spans_dropped %d (measurements %d), want 7", got.SpansDropped, got.Measurements.SpansDropped)
	}
}
