package report

import (
	"fmt"
	"math"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// Metrics a probe can read.
const (
	MetricSuccessRate = "success_rate" // successes / requests of the window's phase, 0..1
	MetricP99         = "p99_ms"       // the phase's p99 latency
	MetricBacklog     = "backlog"      // PENDING orders + outbox rows, from order-service's /stats samples
	MetricLost        = "lost"         // accepted orders not final after the settle time
	MetricDuplicated  = "duplicated"   // accepted orders with more than one stock movement
	// MetricParked is the outbox rows order-service parked after a
	// permanent publish failure; MetricDeadLettered the records the mode's
	// consumers dead-lettered plus those they could not: findings, not
	// loss.
	MetricParked       = "outbox_parked"
	MetricDeadLettered = "dead_lettered"
	MetricRecovery     = "recovery_seconds"
	// MetricWindowP99 is the p99 consistency window of the orders sent in
	// the window's phase: acknowledgement to final state, from
	// order-service's created_at/updated_at (scenario.ConsistencyWindow).
	MetricWindowP99 = "consistency_window_p99_ms"
)

// Windows a steady state is checked in.
const (
	WindowBefore = "before" // the baseline phase, before the fault
	WindowDuring = "during" // the fault phase: observed, not a verdict
	WindowAfter  = "after"  // the recovery phase and the settled state
)

// Probe is one tolerance of the steady-state hypothesis.
type Probe struct {
	Name      string  `json:"name"`
	Mode      string  `json:"mode"` // sync, async
	Metric    string  `json:"metric"`
	Op        string  `json:"op"` // ">=", "<", "<=", "=="
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit,omitempty"`
}

// Tolerance is the probe's condition as text, e.g. "p99_ms < 250 ms".
func (p Probe) Tolerance() string {
	return fmt.Sprintf("%s %s %s%s", p.Metric, p.Op, trimFloat(p.Threshold), unitSuffix(p.Unit))
}

func (p Probe) holds(v float64) bool {
	switch p.Op {
	case ">=":
		return v >= p.Threshold
	case ">":
		return v > p.Threshold
	case "<":
		return v < p.Threshold
	case "<=":
		return v <= p.Threshold
	case "==":
		return v == p.Threshold
	}
	return false
}

// Hypothesis is the steady state the system should show before the fault
// and return to after it (the Chaos Toolkit's steady-state hypothesis).
type Hypothesis struct {
	Title  string  `json:"title"`
	Probes []Probe `json:"probes"`
}

// DefaultHypothesis: sync success rate >= 0.95 and p99 < 250 ms; async
// success rate >= 0.99; async orders reach their final state within 5 s
// (p99 consistency window); the async backlog drains to 0.
func DefaultHypothesis() Hypothesis {
	return Hypothesis{
		Title: "orders are placed: sync success rate >= 0.95 and p99 < 250 ms; async success rate >= 0.99 and p99 consistency window < 5 s; the async backlog drains to 0",
		Probes: []Probe{
			{Name: "sync success rate", Mode: scenario.ModeSync, Metric: MetricSuccessRate, Op: ">=", Threshold: 0.95},
			{Name: "sync p99 latency", Mode: scenario.ModeSync, Metric: MetricP99, Op: "<", Threshold: 250, Unit: "ms"},
			{Name: "async success rate", Mode: scenario.ModeAsync, Metric: MetricSuccessRate, Op: ">=", Threshold: 0.99},
			{Name: "async backlog drains to 0", Mode: scenario.ModeAsync, Metric: MetricBacklog, Op: "==", Threshold: 0},
			{Name: "async consistency window p99", Mode: scenario.ModeAsync, Metric: MetricWindowP99, Op: "<", Threshold: 5000, Unit: "ms"},
		},
	}
}

// AccountingProbes are checked once, after the run: nothing accepted is
// lost or applied twice, async recovers within the run, and no outbox row
// is parked nor any record dead-lettered on the async and hybrid paths (a
// finding, exit 1: the order is FAILED or the record is on the dead-letter
// topic, visible with its reason; not loss, exit 3).
func AccountingProbes() []Probe {
	return []Probe{
		{Name: "sync: no accepted order lost", Mode: scenario.ModeSync, Metric: MetricLost, Op: "==", Threshold: 0},
		{Name: "async: no accepted order lost", Mode: scenario.ModeAsync, Metric: MetricLost, Op: "==", Threshold: 0},
		{Name: "sync: no duplicated stock movement", Mode: scenario.ModeSync, Metric: MetricDuplicated, Op: "==", Threshold: 0},
		{Name: "async: no duplicated stock movement", Mode: scenario.ModeAsync, Metric: MetricDuplicated, Op: "==", Threshold: 0},
		{Name: "hybrid: no accepted order lost", Mode: scenario.ModeHybrid, Metric: MetricLost, Op: "==", Threshold: 0},
		{Name: "hybrid: no duplicated stock movement", Mode: scenario.ModeHybrid, Metric: MetricDuplicated, Op: "==", Threshold: 0},
		{Name: "async recovered within the run", Mode: scenario.ModeAsync, Metric: MetricRecovery, Op: ">=", Threshold: 0, Unit: "s"},
		{Name: "async: no outbox row parked", Mode: scenario.ModeAsync, Metric: MetricParked, Op: "==", Threshold: 0},
		{Name: "async: no record dead-lettered", Mode: scenario.ModeAsync, Metric: MetricDeadLettered, Op: "==", Threshold: 0},
		{Name: "hybrid: no outbox row parked", Mode: scenario.ModeHybrid, Metric: MetricParked, Op: "==", Threshold: 0},
		{Name: "hybrid: no record dead-lettered", Mode: scenario.ModeHybrid, Metric: MetricDeadLettered, Op: "==", Threshold: 0},
	}
}

// Verdicts of a probe.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
	VerdictInfo = "observed" // during the fault: recorded, not judged
)

// ProbeResult is one probe checked in one window.
type ProbeResult struct {
	Probe        string  `json:"probe"`
	Mode         string  `json:"mode"`
	Metric       string  `json:"metric"`
	Tolerance    string  `json:"tolerance"`
	Value        float64 `json:"value"`
	Measured     string  `json:"measured"` // what Value is, in words
	ToleranceMet bool    `json:"tolerance_met"`
	Verdict      string  `json:"verdict"`
}

// SteadyState is the hypothesis checked in one window.
type SteadyState struct {
	Window string        `json:"window"`
	Span   string        `json:"span"` // the window's time span
	Met    bool          `json:"steady_state_met"`
	Probes []ProbeResult `json:"probes"`
}

// Check evaluates h against res in window. During the fault the probes
// are observed (Verdict "observed") and Met reports whether they held.
func (h Hypothesis) Check(res *scenario.Result, window string) SteadyState {
	ss := SteadyState{Window: window, Span: span(res, window), Met: true}
	for _, p := range h.Probes {
		v, what, ok := measure(res, p, window)
		pr := ProbeResult{Probe: p.Name, Mode: p.Mode, Metric: p.Metric, Tolerance: p.Tolerance(), Value: v, Measured: what}
		pr.ToleranceMet = ok && p.holds(v)
		switch {
		case window == WindowDuring:
			pr.Verdict = VerdictInfo
		case pr.ToleranceMet:
			pr.Verdict = VerdictPass
		default:
			pr.Verdict = VerdictFail
		}
		ss.Met = ss.Met && pr.ToleranceMet
		ss.Probes = append(ss.Probes, pr)
	}
	return ss
}

// CheckAccounting evaluates probes on the whole run.
func CheckAccounting(res *scenario.Result, probes []Probe) []ProbeResult {
	var out []ProbeResult
	for _, p := range probes {
		v, what, ok := measure(res, p, WindowAfter)
		pr := ProbeResult{Probe: p.Name, Mode: p.Mode, Metric: p.Metric, Tolerance: p.Tolerance(), Value: v, Measured: what}
		pr.ToleranceMet = ok && p.holds(v)
		pr.Verdict = VerdictFail
		if pr.ToleranceMet {
			pr.Verdict = VerdictPass
		}
		out = append(out, pr)
	}
	return out
}

var windowPhase = map[string]string{WindowBefore: scenario.PhaseBaseline, WindowDuring: scenario.PhaseFault, WindowAfter: scenario.PhaseRecovery}

func span(res *scenario.Result, window string) string {
	s := res.Schedule
	switch window {
	case WindowBefore:
		return fmt.Sprintf("baseline phase, 0 to %.1f s", s.FaultStart)
	case WindowDuring:
		return fmt.Sprintf("fault phase, %.1f to %.1f s", s.FaultStart, s.FaultEnd)
	default:
		return fmt.Sprintf("recovery phase, %.1f to %.0f s, then settled (%.1f s)", s.FaultEnd, s.DurationSeconds, s.SettleSeconds)
	}
}

// measure reads p's metric in window; ok is false when there is nothing
// to read (no requests in the phase, no samples).
func measure(res *scenario.Result, p Probe, window string) (v float64, what string, ok bool) {
	mr := res.Modes[p.Mode]
	if mr == nil {
		return 0, "mode not measured", false
	}
	phase := windowPhase[window]
	switch p.Metric {
	case MetricSuccessRate, MetricP99:
		ph := mr.Phases[phase]
		if ph == nil || ph.Requests == 0 {
			return 0, "no requests in the " + phase + " phase", false
		}
		if p.Metric == MetricP99 {
			return ph.P99Ms, fmt.Sprintf("p99 of %d requests in the %s phase", ph.Requests, phase), true
		}
		return ph.SuccessRate, fmt.Sprintf("%d/%d requests in the %s phase", ph.Successes, ph.Requests, phase), true
	case MetricWindowP99:
		if mr.Window == nil {
			return 0, "no consistency window measured", false
		}
		ws := mr.Window.Phases[phase]
		until := "final state"
		if window == WindowBefore && mr.Window.BeforeFault != nil {
			// The steady state before the fault: each order's window
			// counted until the fault started (scenario.ConsistencyWindow.BeforeFault).
			ws, until = mr.Window.BeforeFault, "final state or the fault's start"
		}
		if ws == nil || ws.Orders == 0 {
			return 0, "no final order sent in the " + phase + " phase", false
		}
		return ws.P99Ms, fmt.Sprintf("p99 of %d orders sent in the %s phase, acknowledgement to %s", ws.Orders, phase, until), true
	case MetricBacklog:
		return backlogIn(res, mr, window)
	case MetricLost:
		return float64(mr.Lost), fmt.Sprintf("%d accepted, %d completed", mr.Accepted, mr.Completed), true
	case MetricDuplicated:
		return float64(mr.DuplicatedEffects), fmt.Sprintf("of %d accepted orders", mr.Accepted), true
	case MetricRecovery:
		return mr.RecoverySeconds, "seconds from the fault's end (-1: not recovered)", true
	case MetricParked:
		return float64(mr.Parked), fmt.Sprintf("last /stats sample; %d accepted orders FAILED (final, not lost)", mr.Failed), len(mr.Stats) > 0
	case MetricDeadLettered:
		return float64(mr.DeadLettered + mr.DeadLettersDropped), fmt.Sprintf("last /stats sample: %d dead-lettered, %d could not be", mr.DeadLettered, mr.DeadLettersDropped), len(mr.Stats) > 0
	}
	return 0, "unknown metric " + p.Metric, false
}

// backlogIn judges the orders still waiting, from order-service's own
// state: PENDING orders plus outbox rows not yet published. Before the
// fault, the lowest sample of the baseline (the backlog keeps returning to
// 0 between arrivals); during it, the highest sample; after it, the last
// sample, taken once settled. The consumer lag read at the broker is
// reported beside it but not added: committed offsets trail the work by
// up to the consumers' commit interval (500 ms), so a healthy consumer
// shows a lag of about half a second of arrivals at any instant, while an
// order a consumer has not handled stays PENDING and is counted here.
func backlogIn(res *scenario.Result, mr *scenario.ModeResult, window string) (float64, string, bool) {
	s := res.Schedule
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	var last *scenario.StatsSample
	for i := range mr.Stats {
		smp := &mr.Stats[i]
		b := smp.Backlog()
		if b < 0 {
			continue
		}
		v := float64(b)
		switch {
		case window == WindowBefore && smp.At < s.FaultStart,
			window == WindowDuring && smp.At >= s.FaultStart && smp.At < s.FaultEnd:
			lo, hi, n = math.Min(lo, v), math.Max(hi, v), n+1
		case window == WindowAfter:
			last = smp
		}
	}
	switch {
	case window == WindowAfter && last != nil:
		return float64(last.Backlog()),
			fmt.Sprintf("last sample at %.1f s: %d pending+outbox (consumer lag at the broker %d)", last.At, last.Backlog(), last.Lag()), true
	case window == WindowBefore && n > 0:
		return lo, fmt.Sprintf("lowest of %d baseline samples", n), true
	case window == WindowDuring && n > 0:
		return hi, fmt.Sprintf("highest of %d samples during the fault", n), true
	}
	return 0, "no /stats samples", false
}

func trimFloat(v float64) string { return fmt.Sprintf("%g", v) }

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}
