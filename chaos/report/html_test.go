package report

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

func TestEmbeddedEChartsIsThePinnedOne(t *testing.T) {
	if got := echartsDigest(); got != EChartsSHA256 {
		t.Fatalf("assets/echarts.min.js sha256 = %s, want %s (echarts %s from npm; `make report-assets` fetches it)", got, EChartsSHA256, EChartsVersion)
	}
	if !strings.Contains(echartsJS[:2000], "Apache") {
		t.Error("assets/echarts.min.js lacks its license header")
	}
}

func renderPage(t *testing.T, sources ...Source) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, sources...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLIsSelfContained(t *testing.T) {
	page := renderPage(t, Source{Journal: defaultFixture().journal(), Path: "out/journal-x.json"})
	// Nothing is loaded from anywhere: no src/href to a URL, no <link>,
	// and a policy that forbids fetching should anything try.
	for _, re := range []string{`(?i)<script[^>]+src=`, `(?i)<link\b`, `(?i)(src|href)\s*=\s*["']?(https?:)?//`, `(?i)@import`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("report references something external: %q", m)
		}
	}
	if !strings.Contains(page, `Content-Security-Policy" content="default-src 'none'`) {
		t.Error("report has no Content-Security-Policy forbidding fetches")
	}
	if !strings.Contains(page, echartsJS[len(echartsJS)-500:]) {
		t.Error("echarts.min.js is not inlined whole")
	}
}

func TestHTMLHasChartsTablesAndFaultWindow(t *testing.T) {
	j := defaultFixture().journal()
	page := renderPage(t, Source{Journal: j})
	for _, id := range []string{"s0_success", "s0_latency", "s0_backlog", "s0_errors"} {
		if n := strings.Count(page, id); n < 3 { // the element, echarts.init and setOption
			t.Errorf("chart %s appears %d times, want element and script", id, n)
		}
	}
	// The fault window is shaded on every chart, at the real fault times.
	if n := strings.Count(page, `"markArea":{"data":[[{"name":"fault","xAxis":5.01`); n != 5 {
		t.Errorf("fault markArea at 5.01 s on %d charts, want 5", n)
	}
	if !strings.Contains(page, `{"xAxis":13.02}`) {
		t.Error("fault markArea does not end at 13.02 s")
	}
	for _, want := range []string{
		"Accounting", "Steady-state hypothesis", "Per phase", "async backlog drains to 0",
		"Async backlog and consumer lag", "inventory-service lag", "order-service lag",
		"Consistency window per second", "async consistency window during the fault", "8.9 s", "async consistency window p99", "sync 5xx", "load ends",
		`data-charts-expected", "5"`, "seed <b>42</b>",
		"step 0: down: inventory-http, inventory-kafka disabled", "TCP connect to 127.0.0.1:40001: connection refused after 300µs",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The consistency window table gives sync's window as 0, not a blank, and async's.
	if !regexp.MustCompile(`<td>baseline</td><td class="l mode sync">sync</td>\s*<td>100</td><td>0</td><td>0</td><td>0</td>`).MatchString(page) {
		t.Error("per-phase row for sync lacks its consistency window of 0")
	}
	if !strings.Contains(page, "<td>160</td><td>4800.0</td><td>8900.0</td><td>9000.0</td>") {
		t.Error("per-phase row for async during the fault lacks its consistency window (4800/8900/9000 ms)")
	}
	// The accounting rows carry the numbers.
	if !regexp.MustCompile(`(?s)mode async">async</td><td>400</td><td>400</td><td>400</td>`).MatchString(page) {
		t.Error("accounting row for async (400 requests, accepted, completed) not found")
	}
	// Parked and dead-lettered are shown, 0 as 0.
	if !strings.Contains(page, "<th>parked</th><th>dead-lettered</th>") ||
		!regexp.MustCompile(`(?s)mode async">async</td>.*?<td class="zero">0</td>\s*<td class="zero">0</td>\s*<td class="v">`).MatchString(page) {
		t.Error("accounting table lacks async's parked and dead-lettered columns showing 0")
	}
	fx := defaultFixture()
	fx.asyncParked, fx.asyncDeadLetter = 3, 2
	page = renderPage(t, Source{Journal: fx.journal()})
	if !regexp.MustCompile(`(?s)mode async">async</td>.*?<td class="nonzero">3</td>\s*<td class="nonzero">2</td>`).MatchString(page) {
		t.Error("accounting row for async lacks parked 3 and dead-lettered 2, flagged nonzero")
	}
	if !strings.Contains(page, "async: no outbox row parked") {
		t.Error("report lacks the failed accounting probe for the parked row")
	}
}

func TestHTMLSeveralScenariosAndAFailedRun(t *testing.T) {
	failed := FailedJournal(scenario.Scenario{Name: "kafka-down", Description: "Kafka unreachable"}, scenario.Options{}, DefaultHypothesis(), Meta{}, nil, os.ErrDeadlineExceeded)
	page := renderPage(t, Source{Journal: defaultFixture().journal()}, Source{Journal: failed})
	if !strings.Contains(page, `href="#s1-kafka-down"`) || !strings.Contains(page, "harness failed") {
		t.Error("second (failed) scenario not linked or not marked")
	}
	if strings.Contains(page, "s1_success") {
		t.Error("a failed run has no measurements to chart")
	}
	if !strings.Contains(page, `data-charts-expected", "5"`) {
		t.Error("chart count should cover only the completed run")
	}
}
