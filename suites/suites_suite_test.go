// Package suites holds the Ginkgo specs that show, against the running
// services, that a synchronous call chain fails in cascade when inventory
// is slow or down while the asynchronous path through Kafka keeps
// accepting orders and completes them all after recovery.
//
// Run: `go tool ginkgo ./suites/...`; only the chaos specs:
// `go tool ginkgo --label-filter=chaos ./suites/...`. KAFKA_BROKERS and
// TOXIPROXY_URL select the real lane (see README).
//
// Every chaos spec runs its scenario through scenario.Execute (a fresh
// stack on random ports, the spec's context, restore, close) and first
// checks that the fault took effect (Result.FaultsTookEffect) before it
// judges the system. On the embedded lane each spec has its own stack,
// Toxiproxy and broker, so the specs may run in parallel
// (`ginkgo -p`, SUITE_PROCS in test.mk); on the real lane they share one broker and one
// Toxiproxy and run serially. Labels "nc-<name>" name the negative
// controls (internal/negativecontrol) that must turn a spec red:
// `make negative-controls` runs them.
//
// Reports: --json-report keeps everything; --junit-report is written for
// CI to read (forCIJUnit): failures whole, passed specs without timeline
// or captured output, no hidden report entries.
package suites_test

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/chaos/stack"
)

func TestSuites(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	// --junit-report is written by the ReportAfterSuite below, in CI's
	// view, instead of by Ginkgo's own reporter; the ginkgo CLI still
	// merges it into --output-dir as before.
	junitReport, reporterConfig.JUnitReport = reporterConfig.JUnitReport, ""
	RunSpecs(t, "faultline suites", suiteConfig, reporterConfig)
}

// junitReport is the path --junit-report gave (empty: no JUnit report).
var junitReport string

// ciJUnitConfig is what the JUnit report leaves out: the timelines
// (GinkgoWriter output, By steps, report entries, progress reports) of
// specs that passed, were skipped or are pending. Failed, timed-out,
// panicked, interrupted and aborted specs keep their whole timeline and
// failure message.
var ciJUnitConfig = reporters.JunitReportConfig{
	OmitTimelinesForSpecState: types.SpecStatePassed | types.SpecStateSkipped | types.SpecStatePending,
}

// forCIJUnit returns r as the JUnit report shows it, for CI systems to
// read: every spec without its hidden report entries
// (ReportEntryVisibilityNever, as the console hides them: a chaos run's
// whole scenario.Result, ~1.3 MB once rendered, and 80 KB of JSON again
// as a property), and the specs whose timeline ciJUnitConfig omits
// without their captured stdout/stderr either (Ginkgo can omit that only
// for every spec or none). r itself is not changed; the JSON report
// (--json-report) keeps everything.
func forCIJUnit(r Report) Report {
	r.SpecReports = slices.Clone(r.SpecReports)
	for i := range r.SpecReports {
		s := &r.SpecReports[i]
		s.ReportEntries = slices.DeleteFunc(slices.Clone(s.ReportEntries), func(e types.ReportEntry) bool {
			return e.Visibility == types.ReportEntryVisibilityNever
		})
		if s.State.Is(ciJUnitConfig.OmitTimelinesForSpecState) {
			s.CapturedStdOutErr = ""
		}
	}
	return r
}

// With -p this runs once, on process 1, with every process's specs.
var _ = ReportAfterSuite("JUnit report for CI (failures whole, passed specs without timeline)", func(r Report) {
	if junitReport == "" {
		return
	}
	Expect(reporters.GenerateJUnitReportWithConfig(forCIJUnit(r), junitReport, ciJUnitConfig)).To(Succeed(), "write the JUnit report %s", junitReport)
})

// reportDir: `ginkgo ./suites/... -- -faultline.report-dir=DIR` writes
// each chaos spec's journal and HTML report into DIR.
var reportDir = flag.String("faultline.report-dir", "", "write each chaos spec's JSON journal and HTML report into this directory")

// chaosOptions keeps every spec short and bounded: 8 s of load at 10 req/s
// per mode (80 requests each), fault from 2 s to 5.2 s.
func chaosOptions() scenario.Options {
	return scenario.Options{Duration: 8 * time.Second, Rate: 10, Settle: 30 * time.Second}
}

// chaosTimeout bounds a chaos spec: stack start, the run, settle, teardown.
const chaosTimeout = 3 * time.Minute

// serialOnRealLane is Serial on the real lane (one broker and one
// Toxiproxy, with fixed proxy names, for every spec) and nothing on the
// embedded lane, where each spec starts its own.
func serialOnRealLane() []any {
	if len(stack.ConfigFromEnv().KafkaBrokers) > 0 {
		return []any{Serial}
	}
	return nil
}

// specLogger sends the services' warnings to the spec's output.
func specLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startStack starts a fresh stack for one spec that runs no scenario,
// sends the services' logs to the spec's output (shown on failure) and
// registers its teardown.
func startStack(ctx context.Context) *stack.Stack {
	GinkgoHelper()
	cfg := stack.ConfigFromEnv()
	cfg.Log = specLogger()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := stack.Start(ctx, cfg)
	Expect(err).NotTo(HaveOccurred(), "start the stack")
	DeferCleanup(func() { Expect(st.Close()).To(Succeed(), "stop the stack") })
	return st
}

// runScenario runs the named scenario through scenario.Execute under the
// spec's context, on the lane's configuration (cfg adjusts it, may be
// nil), attaches the result to the report, and checks the owner's work:
// the run put every proxy back and the stack stopped cleanly. It then
// checks, before any spec judges the system, that every fault step took
// effect. A scenario the lane cannot run skips the spec, saying why.
func runScenario(ctx context.Context, name string, opts scenario.Options, cfg func(*stack.Config)) *scenario.Result {
	GinkgoHelper()
	sc, err := scenario.Lookup(name)
	Expect(err).NotTo(HaveOccurred())
	c := stack.ConfigFromEnv()
	c.Log = specLogger()
	if cfg != nil {
		cfg(&c)
	}
	started := time.Now()
	res, err := scenario.Execute(ctx, sc, opts, c)
	if errors.Is(err, scenario.ErrNotApplicable) {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred(), "the harness itself failed")
	attachReport(res, started)
	var table strings.Builder
	res.WriteTable(&table)
	GinkgoWriter.Println(table.String())
	Expect(res.Teardown).NotTo(BeNil())
	Expect(res.Teardown.RestoreError).To(BeEmpty(), "every proxy of the stack restored")
	Expect(res.Teardown.CloseError).To(BeEmpty(), "the stack stopped cleanly")

	By("the fault took effect: listed by Toxiproxy (or the broker stopped) and observed through the hop")
	Expect(res.FaultsTookEffect()).To(Succeed(), "every fault step took effect")
	return res
}

// attachReport adds the run to the Ginkgo report: a summary with the
// steady-state verdict (always shown, and in the JUnit and JSON reports)
// and the whole result (JSON report only). With -faultline.report-dir it
// also writes the run's journal and HTML report there.
func attachReport(res *scenario.Result, started time.Time) {
	GinkgoHelper()
	j := report.NewJournal(res, report.DefaultHypothesis(), report.Meta{
		Command: []string{"ginkgo", CurrentSpecReport().FullText()}, Platform: report.CurrentPlatform(""), Start: started, End: time.Now(),
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

// maxBacklog returns the largest sampled async backlog (PENDING orders +
// outbox rows) whose sample time lies in [from, to] seconds.
func maxBacklog(res *scenario.Result, from, to float64) int {
	best := 0
	for _, s := range res.Modes[scenario.ModeAsync].Stats {
		if s.At >= from && s.At <= to && s.Backlog() > best {
			best = s.Backlog()
		}
	}
	return best
}

// maxBacklogDuring returns the largest sampled async backlog between the
// fault's start and a second after its end.
func maxBacklogDuring(res *scenario.Result) int {
	return maxBacklog(res, res.Schedule.FaultStart, res.Schedule.FaultEnd+1)
}

// maxOutboxDuring returns the largest sampled outbox backlog (order-placed
// rows not yet published) between the fault's start and a second after
// its end.
func maxOutboxDuring(res *scenario.Result) int {
	best := 0
	for _, s := range res.Modes[scenario.ModeAsync].Stats {
		if s.At >= res.Schedule.FaultStart && s.At <= res.Schedule.FaultEnd+1 {
			best = max(best, s.OutboxBacklog)
		}
	}
	return best
}

// lagWatch keeps the latest broker lag of one consumer group (by label,
// "inventory-service") and the run's phase from the engine's progress
// callback (once a second), and the group's highest lag in the baseline.
// Safe for concurrent use.
type lagWatch struct {
	group string

	mu       sync.Mutex
	phase    string
	lag      int64
	baseline int64
}

func (w *lagWatch) observe(p scenario.Progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, ok := p.Lag[w.group]
	if !ok {
		return
	}
	w.phase, w.lag = p.Phase, l
	if p.Phase == scenario.PhaseBaseline {
		w.baseline = max(w.baseline, l)
	}
}

// latest returns the last phase and lag seen (-1: the broker did not
// answer) and the baseline's highest lag.
func (w *lagWatch) latest() (phase string, lag, baseline int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.phase, w.lag, w.baseline
}

// Tolerances of the relative checks below: how far a phase's success rate
// may fall short of the same run's baseline.
const (
	unaffectedTolerance = 0.05 // a fault on a hop the mode does not use
	recoveredTolerance  = 0.10 // the recovery phase, after the fault
)

// expectUnaffected asserts that mode m's success rate in phase is within
// unaffectedTolerance of its own baseline in the same run: a fault on a hop
// m does not use must not lower it. The control is measured in the same
// run, not fixed at 0.95, so a loaded machine (which lowers every phase
// alike: sync calls time out on CPU, not on the fault) does not fail it,
// while a real effect of the fault (a success rate of 0.35 against a
// baseline of 0.95) still does. The baseline itself must show the mode
// working (at least half its requests succeeded), or there is no control.
func expectUnaffected(m *scenario.ModeResult, phase, why string) {
	GinkgoHelper()
	base, got := m.Phases[scenario.PhaseBaseline].SuccessRate, m.Phases[phase].SuccessRate
	Expect(base).To(BeNumerically(">=", 0.5), "baseline success rate, the control of %q", why)
	Expect(got).To(BeNumerically(">=", base-unaffectedTolerance), "%s success rate %.3f vs baseline %.3f of the same run: %s", phase, got, base, why)
}

// expectRecovered asserts that mode m's success rate after the fault is
// back within recoveredTolerance of its own baseline (see expectUnaffected).
func expectRecovered(m *scenario.ModeResult) {
	GinkgoHelper()
	base, got := m.Phases[scenario.PhaseBaseline].SuccessRate, m.Phases[scenario.PhaseRecovery].SuccessRate
	Expect(base).To(BeNumerically(">=", 0.5), "baseline success rate, the control of the recovery")
	Expect(got).To(BeNumerically(">=", base-recoveredTolerance), "recovery success rate %.3f vs baseline %.3f of the same run", got, base)
}
