package report

import (
	"testing"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// The steady state before the fault judges the consistency window only
// until the fault started (BeforeFault): orders the fault caught in the
// baseline's last milliseconds do not fail it, a slow steady state does.
// After the fault the recovery phase's whole windows count.
func TestWindowProbeBeforeTheFault(t *testing.T) {
	probe := Hypothesis{Probes: []Probe{{Name: "async consistency window p99", Mode: scenario.ModeAsync, Metric: MetricWindowP99, Op: "<", Threshold: 5000, Unit: "ms"}}}
	result := func(before *scenario.WindowStats) *scenario.Result {
		return &scenario.Result{Modes: map[string]*scenario.ModeResult{scenario.ModeAsync: {Window: &scenario.ConsistencyWindow{
			Phases: map[string]*scenario.WindowStats{
				scenario.PhaseBaseline: {Orders: 101, P99Ms: 8355.8, MaxMs: 8544.3}, // two orders held by the fault
				scenario.PhaseRecovery: {Orders: 139, P99Ms: 490.8},
			},
			BeforeFault: before,
		}}}}
	}

	ss := probe.Check(result(&scenario.WindowStats{Orders: 101, P99Ms: 45, MaxMs: 48}), WindowBefore)
	if !ss.Met || ss.Probes[0].Value != 45 {
		t.Errorf("held orders cut at the fault's start: %+v, want met at 45 ms", ss.Probes)
	}
	ss = probe.Check(result(&scenario.WindowStats{Orders: 101, P99Ms: 5200, MaxMs: 5300}), WindowBefore)
	if ss.Met || ss.Probes[0].Verdict != VerdictFail {
		t.Errorf("a steady state slow before the fault: %+v, want failed", ss.Probes)
	}
	// A result written before BeforeFault existed: the baseline phase.
	ss = probe.Check(result(nil), WindowBefore)
	if ss.Met || ss.Probes[0].Value != 8355.8 {
		t.Errorf("no BeforeFault: %+v, want the baseline phase's 8355.8 ms, failed", ss.Probes)
	}
	if ss := probe.Check(result(&scenario.WindowStats{Orders: 101, P99Ms: 45}), WindowAfter); !ss.Met || ss.Probes[0].Value != 490.8 {
		t.Errorf("after the fault: %+v, want the recovery phase's 490.8 ms", ss.Probes)
	}
}
