package scenario

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Phase names, in schedule order.
const (
	PhaseBaseline = "baseline"
	PhaseFault    = "fault"
	PhaseRecovery = "recovery"
)

// Phases lists the phases in order.
var Phases = []string{PhaseBaseline, PhaseFault, PhaseRecovery}

// Placement modes.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
)

// Modes lists the modes in display order.
var Modes = []string{ModeSync, ModeAsync}

// Result is what one run measured; the CLI prints it and writes it as
// JSON (--json), and the suites assert on it.
type Result struct {
	Scenario    string                 `json:"scenario"`
	Description string                 `json:"description"`
	Lane        string                 `json:"lane"`
	StartedAt   time.Time              `json:"started_at"`
	Rate        int                    `json:"rate_per_second"` // per mode
	Schedule    Schedule               `json:"schedule"`
	Modes       map[string]*ModeResult `json:"modes"` // keys "sync", "async"
}

// Schedule is the fault schedule as it really ran. Offsets are seconds
// since the load started.
type Schedule struct {
	DurationSeconds float64   `json:"duration_seconds"`
	FaultStart      float64   `json:"fault_start_seconds"`
	FaultEnd        float64   `json:"fault_end_seconds"`
	FaultStartedAt  time.Time `json:"fault_started_at"`
	FaultEndedAt    time.Time `json:"fault_ended_at"`
	SettleSeconds   float64   `json:"settle_seconds"` // how long accounting waited for async orders after the load
}

// ModeResult is one placement mode's measurements and accounting.
//
// Accounting comes from the services' state, not from load counters:
// Accepted = the API acknowledged the order (201 sync / 202 async);
// Completed = the order service reports a final status (CONFIRMED or
// REJECTED) at the end of the settle time; Lost = Accepted - Completed;
// DuplicatedEffects = accepted orders for which inventory's ledger shows
// more than one stock movement.
type ModeResult struct {
	Requests          int `json:"requests"`
	Accepted          int `json:"accepted"`
	Completed         int `json:"completed"`
	Lost              int `json:"lost"`
	DuplicatedEffects int `json:"duplicated_effects"`
	// RecoverySeconds: from the fault's end until the per-second success
	// rate stays within 5 percentage points of baseline and every order
	// accepted before the fault's end is final. -1: not within the run.
	RecoverySeconds float64                 `json:"recovery_seconds"`
	Phases          map[string]*PhaseResult `json:"phases"`
	Timeline        []Second                `json:"timeline"`
}

// PhaseResult summarises the requests sent during one phase. Latencies are
// wall time from send to response or error, in milliseconds, from an
// HdrHistogram (3 significant digits).
type PhaseResult struct {
	Requests    int            `json:"requests"`
	Successes   int            `json:"successes"`
	SuccessRate float64        `json:"success_rate"` // 0..1; 0 when no requests
	P50Ms       float64        `json:"p50_ms"`
	P99Ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	Errors      map[string]int `json:"errors,omitempty"` // by class: timeout, refused, reset, 5xx, 4xx, shed, other
}

// Second is one second of a mode's timeline.
type Second struct {
	T         int     `json:"t"` // seconds since the load started
	Requests  int     `json:"requests"`
	Successes int     `json:"successes"`
	P99Ms     float64 `json:"p99_ms"`
	// Backlog (async only): orders PENDING plus unpublished outbox rows,
	// sampled at the end of the second; -1 when the sample failed, absent
	// for sync.
	Backlog *int `json:"backlog,omitempty"`
}

// WriteTable prints the side-by-side comparison.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nscenario %s (%s lane): %s\n", r.Scenario, r.Lane, r.Description)
	fmt.Fprintf(w, "load %d req/s per mode for %.0fs; fault from %.1fs to %.1fs\n\n",
		r.Rate, r.Schedule.DurationSeconds, r.Schedule.FaultStart, r.Schedule.FaultEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tmode\trequests\tsuccess\tp50 ms\tp99 ms\terrors\t")
	for _, ph := range Phases {
		for _, m := range Modes {
			p := r.Modes[m].Phases[ph]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%.1f\t%.1f\t%s\t\n", ph, m, p.Requests, 100*p.SuccessRate, p.P50Ms, p.P99Ms, errorSummary(p.Errors))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\taccepted\tcompleted\tlost\tduplicated\trecovery s\t")
	for _, m := range Modes {
		mr := r.Modes[m]
		rec := "not recovered"
		if mr.RecoverySeconds >= 0 {
			rec = fmt.Sprintf("%.1f", mr.RecoverySeconds)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", m, mr.Accepted, mr.Completed, mr.Lost, mr.DuplicatedEffects, rec)
	}
	tw.Flush()
}

func errorSummary(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	var parts []string
	for _, c := range errorClasses {
		if n := errs[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", c, n))
		}
	}
	return strings.Join(parts, " ")
}
