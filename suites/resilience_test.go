package suites_test

import (
	"context"
	"log/slog"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// runResilienceScenario is runScenario for scenarios that set order-sync
// up: the stack starts with the scenario's configuration.
func runResilienceScenario(name string) *scenario.Result {
	GinkgoHelper()
	sc, err := scenario.Lookup(name)
	Expect(err).NotTo(HaveOccurred())
	cfg := sc.StackConfig(stack.ConfigFromEnv())
	cfg.Log = slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := stack.Start(sctx, cfg)
	Expect(err).NotTo(HaveOccurred(), "start the stack")
	DeferCleanup(func() { Expect(st.Close()).To(Succeed(), "stop the stack") })
	DeferCleanup(func(ctx SpecContext) { Expect(st.Restore(ctx)).To(Succeed(), "restore proxies") }, NodeTimeout(10*time.Second))

	ctx, cancelRun := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelRun()
	started := time.Now()
	res, err := scenario.Run(ctx, st, sc, chaosOptions)
	Expect(err).NotTo(HaveOccurred(), "the harness itself failed")
	attachReport(st, res, started) // journal and HTML report, as for the other chaos specs
	var table strings.Builder
	res.WriteTable(&table)
	GinkgoWriter.Println(table.String())
	return res
}

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

var _ = Describe("chaos: resilience patterns in order-sync", Label("chaos", "resilience"), Serial, func() {
	It("chaos: inventory blackholed without a breaker -> every sync placement waits for the 500 ms timeout", func() {
		res := runResilienceScenario("inventory-blackhole")
		unavailable := answer(res, scenario.PhaseFault, "503 inventory_unavailable")
		Expect(unavailable.Count).To(BeNumerically(">=", 20), "sync placements during the blackhole")
		Expect(unavailable.P50Ms).To(BeNumerically(">=", 450), "each waited for the client timeout")
		Expect(answer(res, scenario.PhaseFault, "503 circuit_open").Count).To(BeZero())
		Expect(res.Modes[scenario.ModeSync].Phases[scenario.PhaseRecovery].SuccessRate).To(BeNumerically(">=", 0.9))
	})

	It("chaos: inventory blackholed with a breaker -> once open, sync placements fail fast and it closes after recovery", func() {
		res := runResilienceScenario("inventory-blackhole-breaker")
		sync := res.Modes[scenario.ModeSync]

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
	})

	It("chaos: inventory blackholed with long timeouts and no bulkhead -> hung calls pile up and /healthz degrades", func() {
		res := runResilienceScenario("inventory-blackhole-pileup")
		base, fault := res.SyncProbe.Phases[scenario.PhaseBaseline], res.SyncProbe.Phases[scenario.PhaseFault]
		Expect(base.P99Ms).To(BeNumerically("<", healthyMs), "healthy before the fault")
		Expect(fault.MaxInventoryInFlight).To(BeNumerically(">=", scenario.PileupWorkers), "every worker stuck in an inventory call")
		Expect(fault.MaxWaitingRequests).To(BeNumerically(">", 0), "requests queued for a worker")
		Expect(fault.MaxInFlightRequests).To(BeNumerically(">", base.MaxInFlightRequests))
		Expect(fault.MaxGoroutines).To(BeNumerically(">", base.MaxGoroutines))
		Expect(fault.P99Ms).To(BeNumerically(">=", healthyMs), "GET /healthz waited behind the hung calls")
	})

	It("chaos: inventory blackholed with a bulkhead -> calls over it fail fast and /healthz stays healthy", func() {
		res := runResilienceScenario("inventory-blackhole-bulkhead")
		fault := res.SyncProbe.Phases[scenario.PhaseFault]
		full := answer(res, scenario.PhaseFault, "503 bulkhead_full")
		Expect(full.Count).To(BeNumerically(">=", 10), "placements turned away by the bulkhead")
		Expect(full.P99Ms).To(BeNumerically("<", failFastMs), "turned away at once, not after the 5 s timeout")
		Expect(fault.MaxInventoryInFlight).To(BeNumerically("<=", scenario.BulkheadLimit))
		Expect(fault.MaxInFlightRequests).To(BeNumerically("<", 2*scenario.PileupWorkers), "no pile-up of requests")
		Expect(fault.Failures).To(BeZero(), "every /healthz probe answered")
		Expect(fault.P99Ms).To(BeNumerically("<", healthyMs), "GET /healthz stayed fast")
		Expect(res.Modes[scenario.ModeSync].Lost).To(BeZero())
	})
})
