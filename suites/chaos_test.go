package suites_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
)

var _ = Describe("chaos: sync cascade versus async recovery", Label("chaos"), serialOnRealLane(), func() {
	It("chaos: inventory slow -> sync placements time out while async acceptances stay fast", Label("nc-latency"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-latency", chaosOptions(), nil)
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		By("sync succeeded before the fault and timed out during it")
		// The contrast is the finding: the baseline is the control of the
		// same run (on a loaded machine some baseline calls time out on
		// CPU too), at least 0.5 above the fault's at most 0.3.
		Expect(sync.Phases[scenario.PhaseBaseline].SuccessRate).To(BeNumerically(">=", sync.Phases[scenario.PhaseFault].SuccessRate+0.5))
		// A request sent in the fault's last ~500 ms may still succeed: its
		// delayed response is released when the toxic is removed. Every
		// second that lies wholly before that window must have no success.
		Expect(sync.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically("<=", 0.3), "sync should fail while inventory is 2 s slow")
		for _, s := range sync.Timeline {
			if float64(s.T) >= res.Schedule.FaultStart && float64(s.T+1) <= res.Schedule.FaultEnd-0.6 {
				Expect(s.Successes).To(BeZero(), "sync successes in second %d of the fault", s.T)
			}
		}
		By("the timed-out sync calls still reserved stock: the caller got a 503 but inventory holds it")
		Expect(sync.OrphanedReservations).To(BeNumerically(">", 0))
		Expect(sync.Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class5xx), "order-service answers 503 when its inventory call times out")
		Expect(sync.Phases[scenario.PhaseFault].P50Ms).To(BeNumerically(">=", 400), "each sync placement waited for the ~500 ms client timeout")

		By("async kept accepting, fast, and lost nothing")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Phases[scenario.PhaseFault].P99Ms).To(BeNumerically("<", sync.Phases[scenario.PhaseFault].P50Ms))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
	}, SpecTimeout(chaosTimeout))

	It("chaos: inventory down -> sync fails in cascade while async accepts all and completes every order after recovery", Label("nc-down"), func(ctx SpecContext) {
		// The run goes on in the background while the spec polls the
		// broker's consumer lag that the harness reads every second.
		watch := &lagWatch{group: "inventory-service"}
		opts := chaosOptions()
		opts.Progress = watch.observe
		finished := make(chan *scenario.Result, 1)
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			finished <- runScenario(ctx, "inventory-down", opts, nil)
		}()
		// Even when a poll below fails, the run's own checks end inside
		// this spec.
		DeferCleanup(func() { Eventually(done).WithTimeout(2 * time.Minute).Should(BeClosed()) })

		By("inventory's consumer lag at the broker rises while it is cut off")
		Eventually(func(g Gomega) {
			phase, lag, baseline := watch.latest()
			if phase == scenario.PhaseRecovery || phase == "settle" {
				StopTrying(fmt.Sprintf("the fault ended and inventory-service's lag at the broker never rose (last %d, baseline up to %d)", lag, baseline)).Now()
			}
			g.Expect(phase).To(Equal(scenario.PhaseFault), "lag %d", lag)
			g.Expect(lag).To(BeNumerically(">=", max(baseline, 0)+5), "inventory-service lag during the fault vs at most %d before it", baseline)
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
		By("and drains once it is back (to its baseline, within one second of arrivals: the consumers commit every 500 ms)")
		Eventually(func(g Gomega) {
			phase, lag, baseline := watch.latest()
			select {
			case <-done:
				StopTrying(fmt.Sprintf("the run ended before inventory-service's lag at the broker drained (last %d in %s, baseline up to %d)", lag, phase, baseline)).Now()
			default:
			}
			g.Expect(phase).To(BeElementOf(scenario.PhaseRecovery, "settle"))
			g.Expect(lag).To(BeNumerically(">=", 0), "the broker answers")
			g.Expect(lag).To(BeNumerically("<=", max(baseline, 0)+int64(opts.Rate)), "inventory-service lag after the fault")
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
		var res *scenario.Result
		Eventually(finished).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Receive(&res))
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]
		By("the result's lag series, with its per-partition breakdown, ends drained")
		cl := res.ConsumerLag
		Expect(cl).NotTo(BeNil())
		last := cl.Samples[len(cl.Samples)-1]
		for _, g := range last.Groups {
			if cl.Labels[g.Group] == "inventory-service" {
				Expect(g.Lag).To(BeZero(), "inventory-service lag once settled: %+v", g.Partitions)
				Expect(g.Partitions).To(HaveLen(stack.Partitions), "one row per partition of order-placed")
			}
		}
		By("and drained within 5 s of the fault's end: the consumer resumes within a second or two of its link returning")
		// Before the producer failed a cut partition's records at once
		// (messaging.SaramaConfig, Producer.Retry.BackoffFunc), a batch's
		// outcomes took 250 ms per record to fail and inventory resumed
		// ~7 s after the cut; the consistency-window hypothesis allows 5 s.
		var invGroup string
		for g, label := range cl.Labels {
			if label == "inventory-service" {
				invGroup = g
			}
		}
		Expect(invGroup).NotTo(BeEmpty(), "inventory-service's group in the lag series")
		var baselineLag int64
		drainedAt := -1.0
		for _, smp := range cl.Samples {
			l := smp.Of(invGroup)
			switch {
			case smp.At < res.Schedule.FaultStart:
				baselineLag = max(baselineLag, l)
			case smp.At >= res.Schedule.FaultEnd && l >= 0 && l <= baselineLag+int64(opts.Rate) && drainedAt < 0:
				drainedAt = smp.At
			}
		}
		Expect(drainedAt).To(BeNumerically(">=", 0), "inventory-service's lag at the broker never drained after the fault")
		Expect(drainedAt-res.Schedule.FaultEnd).To(BeNumerically("<=", 5), "seconds from the fault's end to inventory-service's lag back at its baseline (%d)", baselineLag)
		GinkgoWriter.Printf("inventory-service lag drained %.1f s after the fault ended\n", drainedAt-res.Schedule.FaultEnd)
		By("the consistency window: sync 0 by construction, async orders waited out the fault")
		Expect(sync.Window.Phases[scenario.PhaseBaseline].MaxMs).To(BeNumerically("<", 0.01))
		Expect(async.Window.Phases[scenario.PhaseFault].P99Ms).To(BeNumerically(">", 1000), "orders sent during the fault became final only after it")
		Expect(async.Window.Phases[scenario.PhaseFault].P99Ms).To(BeNumerically(">", 10*async.Window.Phases[scenario.PhaseBaseline].P50Ms))

		By("sync answered 503 during the fault and recovered after it")
		// The fault phase starts when injection starts; a request sent while
		// the proxies are being disabled (a few ms, more under -race) may
		// still succeed. Every second after the first half second of the
		// fault must have no success.
		Expect(sync.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically("<=", 0.1))
		for _, s := range sync.Timeline {
			if float64(s.T) >= res.Schedule.FaultStart+0.5 && float64(s.T+1) <= res.Schedule.FaultEnd {
				Expect(s.Successes).To(BeZero(), "sync successes in second %d of the fault", s.T)
			}
		}
		Expect(sync.Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class5xx))
		expectRecovered(sync)

		By("async accepted everything and every accepted order completed, once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(maxBacklogDuring(res)).To(BeNumerically(">", 0), "orders should wait while inventory is cut off")
		Expect(async.Accepted).To(Equal(async.Requests))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
		Expect(sync.DuplicatedEffects).To(BeZero())
		Expect(async.RecoverySeconds).To(BeNumerically(">=", 0), "async recovered within the run")

		By("hybrid (accept on a failed read, the default) kept accepting, unverified, and completed every order")
		hybrid := res.Modes[scenario.ModeHybrid]
		Expect(hybrid.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(hybrid.Completed).To(Equal(hybrid.Accepted))
		Expect(hybrid.Lost).To(BeZero())
		Expect(hybrid.DuplicatedEffects).To(BeZero())
	}, SpecTimeout(chaosTimeout))

	It("chaos: Kafka cut -> async still accepts, the outbox holds the events and drains after the cut", Label("nc-down", "nc-outbox_bypass"), func(ctx SpecContext) {
		res := runScenario(ctx, "kafka-down", chaosOptions(), nil)
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(maxOutboxDuring(res)).To(BeNumerically(">=", 5), "the outbox should hold events while Kafka is cut")
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
		expectUnaffected(sync, scenario.PhaseFault, "sync does not use Kafka")
	}, SpecTimeout(chaosTimeout))
})

var _ = Describe("chaos: more kinds of fault", Label("chaos"), serialOnRealLane(), func() {
	It("chaos: inventory flapping (reset_peer on and off every second) -> sync fails while it is on and succeeds while off; async completes every order", Label("nc-reset_peer"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-flapping", chaosOptions(), nil)
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]
		Expect(len(res.Schedule.Steps)).To(BeNumerically(">=", 2), "the fault went on at least twice")

		By("sync: resets while it is on, successes while it is off")
		fault := sync.Phases[scenario.PhaseFault]
		Expect(fault.Errors).To(HaveKey(scenario.Class5xx), "order-service answers 503 when its inventory call is reset")
		Expect(fault.SuccessRate).To(BeNumerically(">", 0.05), "some placements succeed while the fault is off")
		Expect(fault.SuccessRate).To(BeNumerically("<", 0.9), "many placements fail while it is on")
		expectRecovered(sync)

		By("async: accepted everything and completed it once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
	}, SpecTimeout(chaosTimeout))

	It("chaos: order-service's Kafka link starved (1 KB/s) -> the outbox backlog grows and drains; async accepts all, sync is untouched", Label("nc-bandwidth"), func(ctx SpecContext) {
		res := runScenario(ctx, "kafka-bandwidth", chaosOptions(), nil)
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		By("the relay fell behind: events waited in the outbox")
		Expect(maxOutboxDuring(res)).To(BeNumerically(">=", 5), "order-placed rows waiting for the starved link")
		By("async accepted everything, completed it once, and the backlog drained")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
		expectUnaffected(sync, scenario.PhaseFault, "sync does not use Kafka")
	}, SpecTimeout(chaosTimeout))

	It("chaos: slow consumer (inventory's Kafka link 400 -> 1000 ms) -> orders wait longer for their outcome, nothing is lost", Label("nc-latency"), func(ctx SpecContext) {
		res := runScenario(ctx, "kafka-slow-consumer", chaosOptions(), nil)
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]
		Expect(res.Schedule.Steps).To(HaveLen(scenario.SlowConsumerSteps), "one step per ramp level")

		By("more orders were waiting for their outcome during the fault than before it")
		base := maxBacklog(res, 0, res.Schedule.FaultStart)
		Expect(maxBacklogDuring(res)).To(BeNumerically(">=", base+5), "pending orders during the fault vs at most %d before", base)
		By("async accepted everything and completed it once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
		expectUnaffected(sync, scenario.PhaseFault, "sync does not use Kafka")
	}, SpecTimeout(chaosTimeout))
})

// Serial on the real lane only. On the embedded lane these specs run next
// to others: a suite run in four processes keeps ~0.78 of one core of two
// busy (45 CPU-seconds in 58 s, 2026-12-03), so healthy inventory calls do
// not time out (which would count as one more retry); `make soak` is the
// proof.
//
// SpecPriority(1): ~11 s each, started before the ~9 s specs (see the
// Kafka brokers' specs).
var _ = Describe("chaos: retries under an outage, with and without a retry budget", Label("chaos", "resilience"), SpecPriority(1), serialOnRealLane(), func() {
	// 10 s: the inventory-side count needs the /stats series to reach
	// RetryTail (3 s) past the fault's end (6.5 s).
	opts := func() scenario.Options { o := chaosOptions(); o.Duration = 10 * time.Second; return o }

	It("chaos: inventory slow, retries without a budget -> inventory receives 2-3 requests per placement", Label("nc-latency"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-slow-retries", opts(), nil)
		Expect(res.SyncGuard).NotTo(BeNil())
		Expect(res.SyncGuard.RetryBudget).To(Equal("ratio 2, burst 1000"), "order-sync runs with retries and a budget that never binds")

		Expect(res.Modes[scenario.ModeSync].Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class5xx), "attempts timed out")
		Expect(res.InventoryLoad).NotTo(BeNil(), "inventory-side requests counted")
		// ~3 per placement; placements sent in the fault's last ~1.5 s
		// retry after it ends and need fewer attempts (measured: 2.6).
		Expect(res.InventoryLoad.PerClientRequest).To(BeNumerically(">=", 2.2),
			"inventory received %d requests for %d placements", res.InventoryLoad.InventoryRequests, res.InventoryLoad.ClientRequests)
	}, SpecTimeout(chaosTimeout))

	It("chaos: inventory slow, retries with a budget -> inventory receives far fewer requests per placement", Label("nc-latency"), func(ctx SpecContext) {
		res := runScenario(ctx, "inventory-slow-retry-budget", opts(), nil)
		Expect(res.SyncGuard).NotTo(BeNil())
		Expect(res.SyncGuard.RetryBudget).To(Equal("ratio 0.1, burst 10"))

		Expect(res.Modes[scenario.ModeSync].Phases[scenario.PhaseFault].Errors).To(HaveKey(scenario.Class5xx), "attempts timed out")
		Expect(res.InventoryLoad).NotTo(BeNil(), "inventory-side requests counted")
		// 40 placements in the fault: 40 first attempts, 10 retries from
		// the reserve and 4 earned (0.1 each): ~1.35 per placement.
		Expect(res.InventoryLoad.PerClientRequest).To(BeNumerically("<=", 1.8),
			"inventory received %d requests for %d placements", res.InventoryLoad.InventoryRequests, res.InventoryLoad.ClientRequests)
		Expect(res.InventoryLoad.PerClientRequest).To(BeNumerically(">", 1.05), "the reserve still paid for some retries")
	}, SpecTimeout(chaosTimeout))
})

var _ = Describe("chaos: the harness restores only what it created", Label("chaos"), serialOnRealLane(), func() {
	It("chaos: on a shared Toxiproxy, a scenario restores its own proxies and leaves a foreign one (disabled, with a toxic) untouched", Label("nc-down"), func(ctx SpecContext) {
		cfg := stack.ConfigFromEnv()
		if cfg.ToxiproxyURL == "" { // embedded lane: stand in for a shared server
			url, stop, err := stack.ServeToxiproxy()
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(stop)
			cfg.ToxiproxyURL = url
		}
		shared := faults.NewInjector(cfg.ToxiproxyURL)
		foreign, err := shared.CreateProxy(ctx, "compose-foreign", "127.0.0.1:0", "127.0.0.1:1")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(shared.DeleteProxy(ctx, foreign.Name)).To(Succeed()) }, NodeTimeout(10*time.Second))
		_, err = shared.Latency(ctx, foreign.Name, time.Second, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = shared.Down(ctx, foreign.Name)
		Expect(err).NotTo(HaveOccurred())

		res := runScenario(ctx, "inventory-down", chaosOptions(), func(c *stack.Config) { c.ToxiproxyURL = cfg.ToxiproxyURL })

		By("the stack's proxies were put back (enabled, no toxic) before it closed, and removed with it")
		Expect(res.Teardown.Restored).To(ConsistOf(res.Stack.Proxies))
		left, err := shared.Proxies(ctx)
		Expect(err).NotTo(HaveOccurred())
		for _, p := range res.Stack.Proxies {
			Expect(left).NotTo(HaveKey(p), "proxy %s removed with the stack", p)
		}

		By("the foreign proxy is exactly as it was: disabled, with its toxic")
		f, err := shared.Inspect(ctx, foreign.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Enabled).To(BeFalse(), "compose-foreign still disabled")
		Expect(f.Toxics).To(HaveLen(1), "compose-foreign keeps its toxic")
	}, SpecTimeout(chaosTimeout))
})
