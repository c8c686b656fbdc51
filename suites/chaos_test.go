package suites_test

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// reportDir: `ginkgo ./suites/... -- -faultline.report-dir=DIR` writes
// each chaos spec's journal and HTML report into DIR.
var reportDir = flag.String("faultline.report-dir", "", "write each chaos spec's JSON journal and HTML report into this directory")

// chaosOptions keeps every spec short and bounded: 8 s of load at 10 req/s
// per mode (80 requests each), fault from 2 s to 5.2 s.
var chaosOptions = scenario.Options{
	Duration: 8 * time.Second,
	Rate:     10,
	Settle:   30 * time.Second,
}

// runScenario applies the named scenario to a fresh stack, registers the
// restore of every proxy, attaches the result to the report and returns it.
func runScenario(name string) *scenario.Result {
	GinkgoHelper()
	st := startStack()
	DeferCleanup(func(ctx SpecContext) { Expect(st.Restore(ctx)).To(Succeed(), "restore proxies") }, NodeTimeout(10*time.Second))
	sc, err := scenario.Lookup(name)
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Now()
	res, err := scenario.Run(ctx, st, sc, chaosOptions)
	Expect(err).NotTo(HaveOccurred(), "the harness itself failed")
	attachReport(st, res, started)
	var table strings.Builder
	res.WriteTable(&table)
	GinkgoWriter.Println(table.String())
	return res
}

// attachReport adds the run to the Ginkgo report: a summary with the
// steady-state verdict (always shown, and in the JUnit and JSON reports)
// and the whole result (JSON report only). With -faultline.report-dir it
// also writes the run's journal and HTML report there.
func attachReport(st *stack.Stack, res *scenario.Result, started time.Time) {
	GinkgoHelper()
	platform := report.CurrentPlatform(st.Lane)
	platform.KafkaBrokers, platform.ToxiproxyURL = st.KafkaBrokers, st.ToxiproxyURL
	j := report.NewJournal(res, report.DefaultHypothesis(), report.Meta{
		Command: []string{"ginkgo", CurrentSpecReport().FullText()}, Platform: platform, Start: started, End: time.Now(),
	})
	AddReportEntry(res.Scenario+": summary", report.SummaryOf(j))
	AddReportEntry(res.Scenario+": result", res, ReportEntryVisibilityNever)
	if *reportDir == "" {
		return
	}
	path, err := j.WriteFile(*reportDir)
	Expect(err).NotTo(HaveOccurred(), "write the journal")
	html := filepath.Join(*reportDir, j.ReportFileName())
	Expect(report.WriteHTMLFile(html, report.Source{Journal: j, Path: path})).To(Succeed(), "write the HTML report")
	AddReportEntry(res.Scenario+": journal", path+" "+html)
}

// maxBacklogDuring returns the largest sampled async backlog between the
// fault's start and end.
func maxBacklogDuring(res *scenario.Result) int {
	best := 0
	for _, s := range res.Modes[scenario.ModeAsync].Timeline {
		if s.Backlog != nil && float64(s.T) >= res.Schedule.FaultStart && float64(s.T) <= res.Schedule.FaultEnd+1 {
			best = max(best, *s.Backlog)
		}
	}
	return best
}

var _ = Describe("chaos: sync cascade versus async recovery", Label("chaos"), Serial, func() {
	It("chaos: inventory slow -> sync placements time out while async acceptances stay fast", func() {
		res := runScenario("inventory-latency")
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		By("sync succeeded before the fault and timed out during it")
		Expect(sync.Phases[scenario.PhaseBaseline].SuccessRate).To(BeNumerically(">=", 0.95))
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
	})

	It("chaos: inventory down -> sync fails in cascade while async accepts all and completes every order after recovery", func() {
		res := runScenario("inventory-down")
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

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
		Expect(sync.Phases[scenario.PhaseRecovery].SuccessRate).To(BeNumerically(">=", 0.9))

		By("async accepted everything and every accepted order completed, once")
		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(maxBacklogDuring(res)).To(BeNumerically(">", 0), "orders should wait while inventory is cut off")
		Expect(async.Accepted).To(Equal(async.Requests))
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
		Expect(sync.DuplicatedEffects).To(BeZero())
		Expect(async.RecoverySeconds).To(BeNumerically(">=", 0), "async recovered within the run")
	})

	It("chaos: Kafka cut -> async still accepts, the outbox holds the events and drains after the cut", func() {
		res := runScenario("kafka-down")
		sync, async := res.Modes[scenario.ModeSync], res.Modes[scenario.ModeAsync]

		Expect(async.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.99))
		Expect(maxBacklogDuring(res)).To(BeNumerically(">=", 5), "the outbox should hold events while Kafka is cut")
		Expect(async.Completed).To(Equal(async.Accepted))
		Expect(async.Lost).To(BeZero())
		Expect(async.DuplicatedEffects).To(BeZero())
		Expect(sync.Phases[scenario.PhaseFault].SuccessRate).To(BeNumerically(">=", 0.95), "sync does not use Kafka")
	})
})

var _ = Describe("chaos: the stack restores its proxies", Label("chaos"), Serial, func() {
	It("chaos: every proxy is enabled and free of toxics after a scenario", func(ctx SpecContext) {
		st := startStack()
		sc, err := scenario.Lookup("inventory-down")
		Expect(err).NotTo(HaveOccurred())
		undo, err := sc.Inject(ctx, st)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(st.Restore(ctx)).To(Succeed()) }, NodeTimeout(10*time.Second))
		Expect(undo(ctx)).To(Succeed())
		for _, name := range st.Proxies() {
			p, err := st.Faults.Client().Proxy(name)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Enabled).To(BeTrue(), "proxy %s enabled", name)
			Expect(p.ActiveToxics).To(BeEmpty(), "proxy %s toxics", name)
		}
	}, NodeTimeout(time.Minute))
})
