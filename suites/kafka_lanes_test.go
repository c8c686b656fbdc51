package suites_test

import (
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// runBrokerScenario runs one of the broker scenarios (through
// runScenario: three embedded brokers for one-broker-down) and adds its
// table to the report, shown on every run: the numbers differ between
// lanes and are the finding. It skips, saying why, when the lane cannot
// run it.
func runBrokerScenario(ctx SpecContext, name string, opts scenario.Options) *scenario.Result {
	GinkgoHelper()
	res := runScenario(ctx, name, opts, nil)
	var table strings.Builder
	res.WriteTable(&table)
	AddReportEntry(name+" table ("+res.Lane+" lane)", table.String())
	return res
}

// breakdownColumn returns one column of the result's breakdown as numbers,
// keyed by the first column (the partition).
func breakdownColumn(res *scenario.Result, column string) map[string]float64 {
	GinkgoHelper()
	Expect(res.Breakdown).NotTo(BeNil(), "the scenario's breakdown")
	idx := -1
	for i, c := range res.Breakdown.Columns {
		if c == column {
			idx = i
		}
	}
	Expect(idx).To(BeNumerically(">=", 0), "breakdown column %q in %v", column, res.Breakdown.Columns)
	out := map[string]float64{}
	for _, row := range res.Breakdown.Rows {
		v, err := strconv.ParseFloat(row[idx], 64)
		Expect(err).NotTo(HaveOccurred())
		out[row[0]] = v
	}
	return out
}

// SpecPriority: the longest specs start first (the broker restart takes
// ~21 s, one broker of three ~12 s, the others ~9 s), so in SUITE_PROCS
// processes no long spec starts last; the order stays random within a
// priority.
var _ = Describe("chaos: the Kafka brokers themselves", Label("chaos", "kafka-broker"), SpecPriority(2), serialOnRealLane(), func() {
	It("chaos: broker down 5 s mid-load, then restarted on its data -> the outbox absorbs the outage: async accepts all and completes every order once, sync is untouched", Label("nc-broker_stop", "nc-outbox_bypass"), func(ctx SpecContext) {
		// 20 s so that the 5 s outage (and a real broker's restart, ~5-15 s
		// on 2 cores) fits in the fault phase; a minute to settle for the
		// drain after it.
		res := runBrokerScenario(ctx, scenario.ScenarioBrokerRestart, scenario.Options{Duration: 20 * time.Second, Rate: 10, Settle: time.Minute})
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		By("the broker was down for the whole outage window")
		Expect(res.BrokerDownSeconds).To(BeNumerically(">=", 0.9*scenario.DefaultBrokerDown.Seconds()), "measured downtime, kill to ready")
		Expect(maxOutboxDuring(res)).To(BeNumerically(">=", 20), "events waited in the outbox while the broker was down (10 orders/s for 5 s)")
		Expect(breakdownMax(res, "max accept->placed s")).To(BeNumerically(">=", 2), "orders accepted during the outage waited seconds for their event to be written")

		By("async kept accepting and, after the restart, completed every accepted order exactly once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Accepted).To(Equal(async.Requests))
		Expect(async.Completed).To(Equal(async.Accepted), "every accepted async order reached a final state")
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero(), "inventory's ledger has one movement per order")
		Expect(breakdownColumn(res, "no outcome")).To(HaveEach(BeZero()), "every order has its stock outcome in Kafka")

		By("sync does not use Kafka: unaffected")
		expectUnaffected(sync, scenario.PhaseFault, "sync does not use Kafka")
		Expect(sync.DuplicatedEffects).To(BeZero())
	}, SpecTimeout(chaosTimeout))

	It("chaos: one broker of three cut off -> only its partitions stall: the relay's lanes keep every other partition's orders flowing during the cut", Label("nc-down"), func(ctx SpecContext) {
		res := runBrokerScenario(ctx, scenario.ScenarioOneBrokerDown, scenario.Options{Duration: 10 * time.Second, Rate: 10, Settle: time.Minute})
		async := res.Modes[scenario.ModeAsync]

		By("async accepted everything and completed it after the cut, once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())

		By("orders on the cut broker's partitions waited for it (the fault took effect)")
		wait := breakdownColumn(res, "max accept->placed s")
		cut := map[string]bool{}
		for _, row := range res.Breakdown.Rows {
			if strings.HasSuffix(row[1], "*") {
				cut[row[0]] = true
			}
		}
		Expect(cut).NotTo(BeEmpty(), "the cut broker leads an order-placed partition")
		Expect(len(cut)).To(BeNumerically("<", len(wait)), "some partitions are led by healthy brokers")
		for p := range cut {
			Expect(wait[p]).To(BeNumerically(">=", 1), "orders of partition %s waited for the cut broker", p)
		}

		By("orders on the healthy brokers' partitions were written within about a second, during the cut")
		for p, w := range wait {
			if !cut[p] {
				Expect(w).To(BeNumerically("<", 1.5), "partition %s is led by a healthy broker: its lane must not wait for the cut one", p)
			}
		}
	}, SpecTimeout(chaosTimeout))
})

// breakdownMax returns the largest value of one breakdown column.
func breakdownMax(res *scenario.Result, column string) float64 {
	GinkgoHelper()
	best := 0.0
	for _, v := range breakdownColumn(res, column) {
		best = max(best, v)
	}
	return best
}
