package scenario

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/telemetry"
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
	ModeSync   = "sync"
	ModeAsync  = "async"
	ModeHybrid = "hybrid" // a sync stock read answers, the reservation is async
)

// Modes lists the modes in display order.
var Modes = []string{ModeSync, ModeAsync, ModeHybrid}

// orderURLs maps each mode to its order-service instance on st.
func orderURLs(st *stack.Stack) map[string]string {
	return map[string]string{ModeSync: st.OrderSyncURL, ModeAsync: st.OrderAsyncURL, ModeHybrid: st.OrderHybridURL}
}

// successCodes maps each mode to the status of an accepted order.
var successCodes = map[string]int{ModeSync: http.StatusCreated, ModeAsync: http.StatusAccepted, ModeHybrid: http.StatusAccepted}

// Result is what one run measured; the CLI prints it and writes it as
// JSON (--json), and the suites assert on it.
type Result struct {
	Scenario    string                 `json:"scenario"`
	Description string                 `json:"description"`
	Lane        string                 `json:"lane"`
	StartedAt   time.Time              `json:"started_at"`
	Rate        int                    `json:"rate_per_second"` // per mode
	Schedule    Schedule               `json:"schedule"`
	Modes       map[string]*ModeResult `json:"modes"` // keys "sync", "async", "hybrid"
	// Load is the load as configured, with the seed of its randomness.
	Load LoadSettings `json:"load"`
	// Setup describes how the scenario configured order-sync (its
	// resilience mitigations), "" for the defaults.
	Setup string `json:"setup,omitempty"`
	// SyncProbe is the health of order-sync's unrelated endpoint
	// (GET /healthz) and its load, per phase.
	SyncProbe *Probe `json:"sync_probe,omitempty"`
	// Breakdown is the scenario's own table (Scenario.Report), e.g. per
	// Kafka partition; nil for most scenarios.
	Breakdown *Breakdown `json:"breakdown,omitempty"`
	// BrokerDownSeconds: kafka-broker-restart's measured downtime, from
	// the kill to the broker answering again; 0 otherwise.
	BrokerDownSeconds float64 `json:"broker_down_seconds,omitempty"`
	// Actions is the scenario's schedule as declared (faults, hops,
	// parameters, timing); Schedule.Steps is how it was planned and ran.
	Actions []Action `json:"actions"`
	// SyncGuard is order-sync's inventory guard as it ran (breaker,
	// bulkhead, retry budget), read before the load; nil when unread.
	SyncGuard *order.ResilienceStats `json:"sync_guard,omitempty"`
	// InventoryLoad is inventory-side requests per sync placement during
	// the fault (retries amplify it); nil when not measurable.
	InventoryLoad *InventoryLoad `json:"inventory_load,omitempty"`
	// ConsumerLag is the consumer lag at the broker, per group and
	// partition, sampled once a second (chaos/lag).
	ConsumerLag *ConsumerLag `json:"consumer_lag,omitempty"`
	// Stack describes the stack the run used; Teardown what putting it
	// back showed (Execute).
	Stack    StackInfo `json:"stack"`
	Teardown *Teardown `json:"teardown,omitempty"`
	// Interrupted: the run's context ended (Ctrl-C) before it finished;
	// Modes then hold what was measured until then (per phase, per second,
	// the /stats series) and no accounting (accepted, lost, recovery are 0).
	Interrupted bool `json:"interrupted,omitempty"`
	// Fanout is what the run saw of notification-service (lag at the
	// broker, one notification per accepted async order); nil unless
	// the scenario follows it (Scenario.Fanout).
	Fanout *Fanout `json:"fanout,omitempty"`
	// Traces are the span waterfalls of the slowest order of each mode
	// placed during the fault (Execute, from the stack's span collector).
	Traces []Waterfall `json:"traces,omitempty"`
	// Spans are every span the stack's services finished during the run
	// (package telemetry), kept out of the JSON result: the journal writes
	// them to a spans file of their own (report.Journal.WriteFile).
	Spans []telemetry.Span `json:"-"`
	// SpansDropped is how many finished spans the stack's collector
	// dropped, oldest first, once it held telemetry.DefaultMaxSpans: Spans
	// and Traces then miss the run's beginning. 0: none dropped.
	SpansDropped int64 `json:"spans_dropped"`
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
	// PlannedFaultStart and PlannedFaultEnd are the schedule as asked
	// (25% and 65% of the duration); FaultStart/FaultEnd are as it ran.
	PlannedFaultStart float64   `json:"planned_fault_start_seconds"`
	PlannedFaultEnd   float64   `json:"planned_fault_end_seconds"`
	LoadEndedAt       time.Time `json:"load_ended_at"` // the last request completed
	// Steps are the fault steps as planned from the scenario's actions and
	// the seed, with when each ran and the evidence it took effect.
	Steps []Step `json:"steps"`
}

// ModeResult is one placement mode's measurements and accounting.
//
// Accounting comes from the services' state, not from load counters:
// Accepted = the API acknowledged the order (201 sync / 202 async);
// Completed = the order service reports a final status (CONFIRMED,
// REJECTED, or FAILED after its outbox row was parked: see Failed) at the
// end of the settle time; Lost = Accepted - Completed;
// DuplicatedEffects = accepted orders for which inventory's ledger shows
// more than one stock movement.
type ModeResult struct {
	Requests          int `json:"requests"`
	Accepted          int `json:"accepted"`
	Completed         int `json:"completed"`
	Lost              int `json:"lost"`
	DuplicatedEffects int `json:"duplicated_effects"`
	// OrphanedReservations (sync only): stock reserved in inventory for
	// orders the order service reports FAILED, i.e. the caller got a 503
	// but the stock is held (the call timed out after inventory reserved).
	// Inventory's reserved count minus both services' CONFIRMED orders.
	OrphanedReservations int `json:"orphaned_reservations"`
	// PromisesBroken: orders answered 202 (accepted) that the order
	// service now reports REJECTED, read from its GET /stats at the end
	// (promises_broken). 0 in sync mode by construction: a 201 is final.
	PromisesBroken int `json:"promises_broken"`
	// Failed: accepted orders order-service now reports FAILED: final, not
	// lost (counted in Completed), but their promise was not kept: in
	// async and hybrid modes, an outbox row parked after a permanent
	// publish failure (reason publish_failed).
	Failed int `json:"failed"`
	// Parked, DeadLettered and DeadLettersDropped are the last /stats
	// sample's (Stats) outbox rows parked by order-service, records
	// dead-lettered on the mode's path (its order-service's consumer and,
	// for async, inventory's) and poison records that could not be
	// dead-lettered either. Findings, not loss: each is visible (GET
	// /outbox/parked, the dead-letter topic) with its reason.
	Parked             int   `json:"outbox_parked"`
	DeadLettered       int64 `json:"dead_lettered"`
	DeadLettersDropped int64 `json:"dead_letters_dropped"`
	// RecoverySeconds: from the fault's end until the per-second success
	// rate stays within 5 percentage points of baseline and every order
	// accepted before the fault's end is final. -1: not within the run.
	RecoverySeconds float64                 `json:"recovery_seconds"`
	Phases          map[string]*PhaseResult `json:"phases"`
	Timeline        []Second                `json:"timeline"`
	// Recovery breaks RecoverySeconds down by criterion (see measure.go).
	Recovery *Recovery `json:"recovery,omitempty"`
	// Window is the consistency window: how long each accepted order took
	// from its acknowledgement to its final state (window.go).
	Window *ConsistencyWindow `json:"consistency_window,omitempty"`
	// Stats is the service-state series behind this mode: order-service
	// and inventory-service GET /stats, sampled four times a second from
	// the load's start until settled.
	Stats []StatsSample `json:"stats,omitempty"`
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
	// Answers: latency per kind of answer, keyed "201", "503 circuit_open",
	// "503 inventory_unavailable", "timeout", … (status and error code from
	// the body, or the error class when there was no response).
	Answers map[string]*AnswerStats `json:"answers,omitempty"`
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
	// P50Ms is the second's median latency; Errors its failed requests
	// by class (absent when none failed).
	P50Ms  float64        `json:"p50_ms"`
	Errors map[string]int `json:"errors,omitempty"`
	// Stats is the last service-state sample taken during the second
	// (nil when none was).
	Stats *StatsSample `json:"stats,omitempty"`
}

// WriteTable prints the side-by-side comparison.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nscenario %s (%s lane): %s\n", r.Scenario, r.Lane, r.Description)
	fmt.Fprintf(w, "load %d req/s per mode for %.0fs; fault from %.1fs to %.1fs\n",
		r.Rate, r.Schedule.DurationSeconds, r.Schedule.FaultStart, r.Schedule.FaultEnd)
	r.writeSteps(w)
	fmt.Fprintln(w)
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
	fmt.Fprintln(tw, "mode\taccepted\tcompleted\tlost\tduplicated\tpromises broken\tparked\tdead-lettered\trecovery s\t")
	for _, m := range Modes {
		mr := r.Modes[m]
		rec := "not recovered"
		if mr.RecoverySeconds >= 0 {
			rec = fmt.Sprintf("%.1f", mr.RecoverySeconds)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", m, mr.Accepted, mr.Completed, mr.Lost, mr.DuplicatedEffects, mr.PromisesBroken, mr.Parked, mr.DeadLettered, rec)
	}
	tw.Flush()
	if n := r.Modes[ModeSync].OrphanedReservations; n > 0 {
		fmt.Fprintf(w, "\nsync: %d orphaned reservations: inventory holds stock for orders whose caller got a 503 (the call timed out after inventory had reserved)\n", n)
	}
	if l := r.InventoryLoad; l != nil && l.PerClientRequest > 1.05 {
		fmt.Fprintf(w, "\nsync: inventory received %.2f requests per placement sent during the fault (%d for %d: retries)\n", l.PerClientRequest, l.InventoryRequests, l.ClientRequests)
	}
	if r.SpansDropped > 0 {
		fmt.Fprintf(w, "\ntracing: the span collector dropped its %d oldest spans at its cap (%d): the spans file misses the run's beginning\n", r.SpansDropped, telemetry.DefaultMaxSpans)
	}
	r.writeWindow(w)
	r.writeResilience(w)
	r.writeBreakdown(w)
}

// writeSteps prints the fault steps as they ran, collapsing more than
// four into the first two, a count and the last.
func (r *Result) writeSteps(w io.Writer) {
	steps := r.Schedule.Steps
	line := func(s Step) {
		took := "took effect"
		if err := (&Result{Schedule: Schedule{Steps: []Step{s}}}).FaultsTookEffect(); err != nil {
			took = "DID NOT TAKE EFFECT"
		}
		fmt.Fprintf(w, "  step %d  %5.1fs-%5.1fs  %s: %s\n", s.Index, s.PlannedStart, s.PlannedEnd, s.Fault, took)
	}
	for i, s := range steps {
		if len(steps) > 4 && i >= 2 && i < len(steps)-1 {
			if i == 2 {
				fmt.Fprintf(w, "  ... %d more steps\n", len(steps)-3)
			}
			continue
		}
		line(s)
	}
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
