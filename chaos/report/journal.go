// Package report turns a chaos run into things people can look at: a JSON
// journal of the experiment (the Chaos Toolkit's journal, in Go: the
// scenario and its fault schedule with exact times, the seed, component
// versions, the steady-state hypothesis checked before and after the
// fault, every measurement and a verdict per check), a self-contained HTML
// report rendered from journals (ECharts, inlined: it opens with no
// network), and a one-line summary for test reports.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// JournalFormat names the journal's schema; bump it on incompatible change.
const JournalFormat = "faultline-journal/1"

// Run statuses.
const (
	StatusCompleted = "completed" // the experiment ran; see Deviated for the finding
	StatusFailed    = "failed"    // the harness failed (Error says why); no verdict
	// StatusInterrupted: the run was stopped (Ctrl-C, SIGTERM) before it
	// finished; Measurements hold what was measured until then, no verdict.
	StatusInterrupted = "interrupted"
)

// Journal is the record of one scenario run.
type Journal struct {
	Format  string    `json:"format"`
	Status  string    `json:"status"`
	Error   string    `json:"error,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"duration_seconds"` // End - Start, wall time
	Command []string  `json:"command,omitempty"`
	// Seed seeded the run's randomness (the arrival jitter and the fault
	// schedule's): the same seed replays the same arrivals and steps.
	Seed       uint64     `json:"seed"`
	Platform   Platform   `json:"platform"`
	Experiment Experiment `json:"experiment"`
	// Activities are the timed steps of the run, in order.
	Activities []Activity `json:"activities"`
	// SteadyStates is the hypothesis checked before, during (observed)
	// and after the fault.
	SteadyStates SteadyStates `json:"steady_states"`
	// Accounting checks the whole run: nothing lost, nothing twice.
	Accounting []ProbeResult `json:"accounting"`
	// FaultTookEffect: every step of the schedule was applied and seen to
	// take effect (listed by the control plane and observed by a probe,
	// see experiment.schedule.steps[].evidence). When false the run proves
	// nothing about the fault, and the verdict says so.
	FaultTookEffect bool `json:"fault_took_effect"`
	// Deviated: the steady state did not hold before or after the fault,
	// an accounting check failed, or the fault did not take effect.
	Deviated bool   `json:"deviated"`
	Verdict  string `json:"verdict"`
	// Measurements is everything the engine measured: per phase, per
	// second and the /stats series, per mode, and the accounting.
	Measurements *scenario.Result `json:"measurements,omitempty"`
	// SpansFile names the run's spans file beside the journal (see
	// WriteFile); "" when the run collected no spans.
	SpansFile string `json:"spans_file,omitempty"`
	// SpansDropped is the spans the stack's collector dropped at its cap
	// (Measurements.SpansDropped): the spans file then lacks the oldest.
	SpansDropped int64 `json:"spans_dropped"`
}

// Experiment is what was attempted.
type Experiment struct {
	Scenario    string                `json:"scenario"`
	Description string                `json:"description"`
	Setup       string                `json:"setup,omitempty"`
	Hypothesis  Hypothesis            `json:"steady_state_hypothesis"`
	Load        scenario.LoadSettings `json:"load"`
	// Actions is the scenario's fault schedule as declared: each fault
	// with its type, hops, stream, toxicity and attributes (latency,
	// jitter, timeout, rate), its offset into the fault window and its
	// length, flapping or ramping.
	Actions []scenario.Action `json:"actions"`
	// Schedule is the fault schedule as run, with the planned steps
	// (schedule.steps) and each one's evidence.
	Schedule scenario.Schedule `json:"schedule"`
}

// SteadyStates holds the hypothesis in each window.
type SteadyStates struct {
	Before SteadyState `json:"before"`
	During SteadyState `json:"during"`
	After  SteadyState `json:"after"`
}

// Activity is one timed step of a run.
type Activity struct {
	Type  string    `json:"type"` // load, action, rollback, settle
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Offsets in seconds since the load started.
	StartOffset float64 `json:"start_offset_seconds"`
	EndOffset   float64 `json:"end_offset_seconds"`
}

// Meta is what the caller knows about a run that the result does not.
type Meta struct {
	Command  []string
	Platform Platform // CurrentPlatform(lane), plus what the stack reported
	Start    time.Time
	End      time.Time
}

// NewJournal builds the journal of a completed run and checks h.
func NewJournal(res *scenario.Result, h Hypothesis, meta Meta) *Journal {
	j := &Journal{
		Format: JournalFormat, Status: StatusCompleted,
		Start: meta.Start, End: meta.End, Seconds: round3(meta.End.Sub(meta.Start).Seconds()),
		Command: meta.Command, Seed: res.Load.Seed, Platform: meta.Platform,
		Experiment: Experiment{
			Scenario: res.Scenario, Description: res.Description, Setup: res.Setup, Hypothesis: h,
			Load: res.Load, Actions: res.Actions, Schedule: res.Schedule,
		},
		Measurements: res, SpansDropped: res.SpansDropped,
	}
	j.Platform.fill(res.Stack, res.Lane)
	j.Activities = activities(res)
	j.SteadyStates = SteadyStates{
		Before: h.Check(res, WindowBefore),
		During: h.Check(res, WindowDuring),
		After:  h.Check(res, WindowAfter),
	}
	j.Accounting = CheckAccounting(res, AccountingProbes())
	accountingOK := true
	for _, a := range j.Accounting {
		accountingOK = accountingOK && a.ToleranceMet
	}
	tookEffect := res.FaultsTookEffect()
	j.FaultTookEffect = tookEffect == nil
	j.Deviated = !j.SteadyStates.Before.Met || !j.SteadyStates.After.Met || !accountingOK || !j.FaultTookEffect
	j.Verdict = verdict(j, accountingOK)
	if tookEffect != nil {
		j.Verdict = "the fault did NOT take effect, so the run shows nothing about it (" + tookEffect.Error() + "); " + j.Verdict
	}
	return j
}

// FailedJournal records a run the harness could not complete. partial is
// what the run knew when it failed (Execute's result with its error; nil
// when it failed before starting): the stack, the steps applied so far.
func FailedJournal(sc scenario.Scenario, opts scenario.Options, h Hypothesis, meta Meta, partial *scenario.Result, err error) *Journal {
	j := &Journal{
		Format: JournalFormat, Status: StatusFailed, Error: err.Error(),
		Start: meta.Start, End: meta.End, Seconds: round3(meta.End.Sub(meta.Start).Seconds()),
		Command: meta.Command, Seed: opts.Seed, Platform: meta.Platform,
		Experiment: Experiment{Scenario: sc.Name, Description: sc.Description, Setup: sc.Setup, Hypothesis: h, Actions: sc.Schedule},
		Deviated:   true,
		Verdict:    "no verdict: the harness failed: " + err.Error(),
	}
	if partial != nil {
		j.Experiment.Load, j.Experiment.Schedule = partial.Load, partial.Schedule
		j.Platform.fill(partial.Stack, partial.Lane)
	}
	return j
}

// InterruptedJournal records a run stopped before it finished (Ctrl-C):
// partial is Execute's result, whose Modes hold what was measured until
// then (nil when the stop came before the load started). It has no
// verdict: Deviated is false and no probe is checked.
func InterruptedJournal(sc scenario.Scenario, opts scenario.Options, h Hypothesis, meta Meta, partial *scenario.Result, err error) *Journal {
	j := FailedJournal(sc, opts, h, meta, partial, err)
	j.Status, j.Deviated = StatusInterrupted, false
	j.Verdict = "no verdict: interrupted; what was measured until then is kept, nothing was accounted"
	if partial != nil && len(partial.Modes) > 0 {
		j.Measurements = partial
		j.Activities = activities(partial)
		j.Experiment.Actions = partial.Actions
	}
	return j
}

func verdict(j *Journal, accountingOK bool) string {
	failed := func(ss SteadyState) string {
		s := ""
		for _, p := range ss.Probes {
			if !p.ToleranceMet {
				if s != "" {
					s += "; "
				}
				s += fmt.Sprintf("%s (%s, got %s)", p.Probe, p.Tolerance, trimFloat(round3(p.Value)))
			}
		}
		return s
	}
	switch {
	case !j.SteadyStates.Before.Met:
		return "steady state NOT met before the fault, so the run shows nothing about the fault: " + failed(j.SteadyStates.Before)
	case !j.SteadyStates.After.Met:
		return "deviated: the steady state did not return after the fault: " + failed(j.SteadyStates.After)
	case !accountingOK:
		s := ""
		for _, a := range j.Accounting {
			if !a.ToleranceMet {
				if s != "" {
					s += "; "
				}
				s += fmt.Sprintf("%s (got %s)", a.Probe, trimFloat(a.Value))
			}
		}
		return "deviated: accounting failed: " + s
	}
	return "steady state met before and after the fault; nothing lost or duplicated"
}

func activities(res *scenario.Result) []Activity {
	s := res.Schedule
	at := func(off float64) time.Time { return res.StartedAt.Add(time.Duration(off * float64(time.Second))) }
	off := func(t time.Time) float64 { return round3(t.Sub(res.StartedAt).Seconds()) }
	loadEnd := s.LoadEndedAt
	if loadEnd.IsZero() {
		loadEnd = at(s.DurationSeconds)
	}
	settled := loadEnd.Add(time.Duration(s.SettleSeconds * float64(time.Second)))
	out := []Activity{
		{Type: "load", Name: fmt.Sprintf("open-loop load, %d req/s on each mode", res.Rate), Start: res.StartedAt, End: loadEnd, StartOffset: 0, EndOffset: off(loadEnd)},
	}
	for _, st := range s.Steps {
		if st.AppliedAt.IsZero() {
			continue
		}
		end := st.RemovedAt
		if end.IsZero() {
			end = st.AppliedAt
		}
		out = append(out,
			Activity{Type: "action", Name: fmt.Sprintf("step %d: %s", st.Index, st.Fault), Start: st.AppliedAt, End: end, StartOffset: off(st.AppliedAt), EndOffset: off(end)},
			Activity{Type: "rollback", Name: fmt.Sprintf("step %d: remove it", st.Index), Start: end, End: end, StartOffset: off(end), EndOffset: off(end)})
	}
	return append(out, Activity{Type: "settle", Name: "wait for accepted async orders to become final", Start: loadEnd, End: settled, StartOffset: off(loadEnd), EndOffset: off(settled)})
}

// FileName is the journal's default name: journal-<scenario>-<UTC start>.json.
func (j *Journal) FileName() string { return baseName("journal", j) + ".json" }

// ReportFileName is the matching HTML report's name.
func (j *Journal) ReportFileName() string { return baseName("report", j) + ".html" }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func baseName(kind string, j *Journal) string {
	return fmt.Sprintf("%s-%s-%s", kind, unsafeName.ReplaceAllString(j.Experiment.Scenario, "_"), j.Start.UTC().Format("20060102T150405Z"))
}

// SpansFileName is the matching spans file's name:
// spans-<scenario>-<UTC start>.jsonl.
func (j *Journal) SpansFileName() string { return baseName("spans", j) + ".jsonl" }

// WriteFile writes j as indented JSON to dir/FileName() (creating dir)
// and returns the path. When the run collected spans
// (Measurements.Spans) it first writes them to dir/SpansFileName(), one
// telemetry.Span JSON object per line, in the order they ended, and names
// that file in j.SpansFile:
//
//	{"trace_id":"…","span_id":"…","parent_span_id":"…","name":"process order-placed",
//	 "service":"inventory-service","kind":"consumer","start":"…","end":"…",
//	 "duration_ms":1.2,"status":"unset","attributes":{"order.id":"…",…}}
func (j *Journal) WriteFile(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create journal dir: %w", err)
	}
	if j.Measurements != nil && len(j.Measurements.Spans) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, s := range j.Measurements.Spans {
			if err := enc.Encode(s); err != nil {
				return "", fmt.Errorf("encode spans: %w", err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, j.SpansFileName()), buf.Bytes(), 0o644); err != nil {
			return "", fmt.Errorf("write spans: %w", err)
		}
		j.SpansFile = j.SpansFileName()
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode journal: %w", err)
	}
	path := filepath.Join(dir, j.FileName())
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write journal: %w", err)
	}
	return path, nil
}

// ReadJournal reads a journal file and checks its format.
func ReadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	if j.Format != JournalFormat {
		return nil, fmt.Errorf("read journal %s: format %q, want %q", path, j.Format, JournalFormat)
	}
	if j.Status == StatusCompleted && j.Measurements == nil {
		return nil, errors.New("read journal " + path + ": completed run without measurements")
	}
	return &j, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
