package suites_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/order"
)

var _ = Describe("chaos: the hybrid placement mode (sync stock read, async reservation)", Label("chaos", "hybrid"), serialOnRealLane(), func() {
	It("chaos: stock runs out -> sync and hybrid refuse at once (409, no promise broken by sync), async accepts every order and breaks promises", func(ctx SpecContext) {
		res := runScenario(ctx, "stock-runs-out", chaosOptions(), nil)
		sync, async, hybrid := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync], res.Modes[scenario.ModeHybrid]

		By("sync: 409 during the fault, and a 201 is never taken back")
		Expect(sync.Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class4xx), "insufficient stock answered at once")
		Expect(sync.PromisesBroken).To(BeZero())

		By("async: accepted everything, and inventory rejected the excess afterwards (read from order-service's state)")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.PromisesBroken).To(BeNumerically(">", 0), "accepted orders REJECTED later")
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())

		By("hybrid: its stock read refused most at once; it broke fewer promises than async")
		Expect(hybrid.Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class4xx), "insufficient stock answered at once")
		Expect(hybrid.PromisesBroken).To(BeNumerically("<", async.PromisesBroken))
		Expect(hybrid.Completed).To(Equal(hybrid.Accepted))
		Expect(hybrid.Lost).To(BeZero())
		Expect(hybrid.DuplicatedEffects).To(BeZero())

		By("after the restock every mode places orders again")
		for _, m := range scenario.Modes {
			Expect(res.Modes[m].Phases[scenario.PhaseRecovery].SuccessRate).To(BeNumerically(">=", 0.9), "%s after the restock", m)
		}
	}, SpecTimeout(chaosTimeout))

	It("chaos: inventory down, hybrid refusing on a failed read -> hybrid answers 503 at once, stores nothing, and places orders again once its stock-read breaker lets a probe through", func(ctx SpecContext) {
		const openTimeout = 500 * time.Millisecond
		res := runScenario(ctx, "inventory-down", chaosOptions(), func(c *stack.Config) {
			c.Hybrid = order.HybridConfig{OnReadFailure: order.RefuseOnReadFailure, BreakerOpenTimeout: openTimeout}
		})
		hybrid := res.Modes[scenario.ModeHybrid]
		Expect(hybrid.Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class5xx), "503 stock_unavailable")
		Expect(hybrid.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically("<=", 0.1))
		Expect(hybrid.Phases[scenario.PhaseFault].P99Ms).To(BeNumerically("<", 1000), "refused within the 200 ms read timeout, or at once once its breaker opened")
		Expect(hybrid.Completed).To(Equal(hybrid.Accepted))
		Expect(hybrid.Lost).To(BeZero())
		Expect(hybrid.PromisesBroken).To(BeZero())
		// The open breaker keeps refusing until its open timeout lets a
		// probe read through: recovery lags the fault's end by up to that
		// (2 s by default). Every second from one second after the fault
		// on places every order.
		for _, sec := range hybrid.Timeline {
			if float64(sec.T) >= res.Schedule.FaultEnd+openTimeout.Seconds()+0.5 {
				Expect(sec.Successes).To(Equal(sec.Requests), "hybrid successes in second %d, after the fault and the breaker's open timeout", sec.T)
			}
		}
	}, SpecTimeout(chaosTimeout))
})
