package suites_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// Latency bounds of the resilience specs. They compare with the timeouts
// the mitigations avoid (500 ms for the breaker, 5 s and the 2 s probe
// timeout for the bulkhead), with room for a loaded CI machine: a 2-core
// runner under -race shows p99s of 100-250 ms even without a fault.
const (
	failFastMs = 250  // half order-sync's 500 ms inventory timeout
	healthyMs  = 1000 // half the probe's 2 s timeout
)

// answer returns the sync answers of one kind in a phase (zero when none).
func answer(res *scenario.Result, phase, kind string) scenario.AnswerStats {
	if a := res.Modes[scenario.ModeSync].Phases[phase].Answers[kind]; a != nil {
		return *a
	}
	return scenario.AnswerStats{}
}

// Serial on the real lane only. Their thresholds are latencies (fail fast
// within 250 ms, /healthz within 1 s); on the embedded lane the specs
// running next to them leave most of the two cores idle (without the
// race detector, see test.mk), and `make soak` is the proof that these
// thresholds hold in SUITE_PROCS processes.
var _ = Describe("chaos: resilience patterns in order-sync", Label("chaos", "resilience"), serialOnRealLane(), func() {
	It("chaos: inventory blackholed without a breaker -> every sync placement waits for the 500 ms timeout", Label("nc-timeout"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-blackhole", chaosOptions(), nil)
		unavailable := answer(res, scenario.PhaseFault, "503 inventory_unavailable")
		Expect(unavailable.Count).To(BeNumerically(">=", 20), "sync placements during the blackhole")
		Expect(unavailable.P50Ms).To(BeNumerically(">=", 450), "each waited for the client timeout")
		Expect(answer(res, scenario.PhaseFault, "503 circuit_open").Count).To(BeZero())
		expectRecovered(res.Modes[scenario.ModeSync])
	}, SpecTimeout(chaosTimeout))

	It("chaos: inventory blackholed with a breaker -> once open, sync placements fail fast and it closes after recovery", Label("nc-timeout", "nc-breaker"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-blackhole-breaker", chaosOptions(), nil)
		sync := res.Modes[scenario.ModeSync]

		By("order-sync runs with its breaker")
		Expect(res.SyncGuard).NotTo(BeNil())
		Expect(res.SyncGuard.Breaker).NotTo(Equal("off"), "the breaker the scenario asked for is on")

		By("the breaker opened during the fault and placements failed fast")
		open := answer(res, scenario.PhaseFault, "503 circuit_open")
		Expect(open.Count).To(BeNumerically(">=", 10), "placements refused by the open breaker")
		Expect(open.P99Ms).To(BeNumerically("<", failFastMs), "fail fast: p99 in ms, not the 500 ms timeout")
		timedOut := answer(res, scenario.PhaseFault, "503 inventory_unavailable")
		Expect(timedOut.Count).To(BeNumerically("<", open.Count), "only the calls before it opened, and the probes, waited")
		Expect(sync.Phases[scenario.PhaseFault].P50Ms).To(BeNumerically("<", failFastMs), "most fault-phase placements were fast")
		Expect(res.SyncProbe.Phases[scenario.PhaseFault].Breaker).To(ContainElement("open"))

		By("after the fault a probe closed it again")
		Expect(res.SyncProbe.Phases[scenario.PhaseRecovery].Breaker).To(ContainElement("closed"))
		Expect(sync.Timeline[len(sync.Timeline)-1].Successes).To(Equal(sync.Timeline[len(sync.Timeline)-1].Requests), "the last second is all successes")
		Expect(sync.Phases[scenario.PhaseRecovery].SuccessRate).To(BeNumerically(">=", 0.5), "at most one open period (1 s) after the fault")
		Expect(sync.Lost).To(BeZero())
	}, SpecTimeout(chaosTimeout))

	It("chaos: inventory blackholed with long timeouts and no bulkhead -> hung calls pile up and /healthz degrades", Label("nc-timeout"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-blackhole-pileup", chaosOptions(), nil)
		base, fault := res.SyncProbe.Phases[scenario.PhaseBaseline], res.SyncProbe.Phases[scenario.PhaseFault]
		Expect(base.P99Ms).To(BeNumerically("<", healthyMs), "healthy before the fault")
		Expect(fault.MaxInventoryInFlight).To(BeNumerically(">=", scenario.PileupWorkers), "every worker stuck in an inventory call")
		Expect(fault.MaxWaitingRequests).To(BeNumerically(">", 0), "requests queued for a worker")
		Expect(fault.MaxInFlightRequests).To(BeNumerically(">", base.MaxInFlightRequests))
		Expect(fault.MaxGoroutines).To(BeNumerically(">", base.MaxGoroutines))
		Expect(fault.P99Ms).To(BeNumerically(">=", healthyMs), "GET /healthz waited behind the hung calls")
	}, SpecTimeout(chaosTimeout))

	It("chaos: inventory blackholed with a bulkhead -> calls over it fail fast and /healthz stays healthy", Label("nc-timeout", "nc-bulkhead"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-blackhole-bulkhead", chaosOptions(), nil)
		fault := res.SyncProbe.Phases[scenario.PhaseFault]

		By("order-sync runs with its bulkhead")
		Expect(res.SyncGuard).NotTo(BeNil())
		Expect(res.SyncGuard.Bulkhead).To(Equal(scenario.BulkheadLimit), "the bulkhead the scenario asked for is on")

		full := answer(res, scenario.PhaseFault, "503 bulkhead_full")
		Expect(full.Count).To(BeNumerically(">=", 10), "placements turned away by the bulkhead")
		Expect(full.P99Ms).To(BeNumerically("<", failFastMs), "turned away at once, not after the 5 s timeout")
		Expect(fault.MaxInventoryInFlight).To(BeNumerically("<=", scenario.BulkheadLimit))
		Expect(fault.MaxInFlightRequests).To(BeNumerically("<", 2*scenario.PileupWorkers), "no pile-up of requests")
		Expect(fault.Failures).To(BeZero(), "every /healthz probe answered")
		Expect(fault.P99Ms).To(BeNumerically("<", healthyMs), "GET /healthz stayed fast")
		Expect(res.Modes[scenario.ModeSync].Lost).To(BeZero())
	}, SpecTimeout(chaosTimeout))
})
