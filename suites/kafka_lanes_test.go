package suites_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// runBrokerScenario runs one of the broker scenarios on a stack configured
// for it (three embedded brokers for one-broker-down) and skips, saying
// why, when the lane cannot run it (ErrNotApplicable).
func runBrokerScenario(name string, opts scenario.Options) *scenario.Result {
	GinkgoHelper()
	sc, err := scenario.Lookup(name)
	Expect(err).NotTo(HaveOccurred())
	cfg := sc.StackConfig(stack.ConfigFromEnv())
	cfg.Log = slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(sctx, cfg)
	Expect(err).NotTo(HaveOccurred(), "start the stack")
	DeferCleanup(func() { Expect(st.Close()).To(Succeed(), "stop the stack") })
	DeferCleanup(func(ctx SpecContext) { Expect(st.Restore(ctx)).To(Succeed(), "restore proxies") }, NodeTimeout(10*time.Second))

	ctx, cancelRun := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelRun()
	res, err := scenario.Run(ctx, st, sc, opts)
	if errors.Is(err, scenario.ErrNotApplicable) {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred(), "the harness itself failed")
	AddReportEntry(name+" ("+res.Lane+" lane)", res, ReportEntryVisibilityFailureOrVerbose)
	var table strings.Builder
	res.WriteTable(&table)
	// Shown on every run: the numbers differ between lanes and are the finding.
	AddReportEntry(name+" table ("+res.Lane+" lane)", table.String())
	GinkgoWriter.Println(table.String())
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

var _ = Describe("chaos: the Kafka brokers themselves", Label("chaos", "kafka-broker"), Serial, func() {
	It("chaos: broker killed mid-load and restarted on its data -> async completes every accepted order once, sync is untouched", func() {
		// 20 s so that a real broker's restart (~5-15 s on 2 cores) fits in
		// the fault phase; a minute to settle for the drain after it.
		res := runBrokerScenario(scenario.ScenarioBrokerRestart, scenario.Options{Duration: 20 * time.Second, Rate: 10, Settle: time.Minute})
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		By("the broker was really down for a while")
		Expect(res.BrokerDownSeconds).To(BeNumerically(">", 0), "measured downtime")

		By("async kept accepting and, after the restart, completed every accepted order exactly once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Accepted).To(Equal(async.Requests))
		Expect(async.Completed).To(Equal(async.Accepted), "every accepted async order reached a final state")
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero(), "inventory's ledger has one movement per order")
		Expect(breakdownColumn(res, "no outcome")).To(HaveEach(BeZero()), "every order has its stock outcome in Kafka")

		By("sync does not use Kafka: unaffected")
		Expect(sync.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.95))
		Expect(sync.DuplicatedEffects).To(BeZero())
	})

	It("chaos: one broker of three cut off -> its partitions stall, and the outbox relay's ordering holds back later orders on every partition", func() {
		res := runBrokerScenario(scenario.ScenarioOneBrokerDown, scenario.Options{Duration: 10 * time.Second, Rate: 10, Settle: time.Minute})
		async := res.Modes[scenario.ModeAsync]

		By("async accepted everything and completed it after the cut, once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())

		By("orders on the cut broker's partitions waited for it")
		wait := breakdownColumn(res, "max accept->placed s")
		cut := ""
		for _, row := range res.Breakdown.Rows {
			if strings.HasSuffix(row[1], "*") {
				cut = row[0]
			}
		}
		Expect(cut).NotTo(BeEmpty(), "the cut broker leads an order-placed partition")
		Expect(wait[cut]).To(BeNumerically(">=", 1), "orders of partition %s waited for the cut broker", cut)
		// The other partitions' numbers are printed, not asserted: with the
		// relay publishing in order they stall too (see the notes).
	})
})
