package report

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// TestSpansFileAndWaterfall: a journal with spans writes them as JSON
// lines beside it and names the file; the report draws each mode's trace.
func TestSpansFileAndWaterfall(t *testing.T) {
	j := defaultFixture().journal()
	t0 := j.Measurements.Schedule.FaultStartedAt
	spans := []telemetry.Span{
		{TraceID: "t1", SpanID: "s1", Name: "POST /orders", Service: "order-service", Kind: "server", Start: t0, End: t0.Add(2 * time.Millisecond), DurationMS: 2,
			Attributes: map[string]string{"order.id": "o-1", "order.mode": "async"}},
		{TraceID: "t1", SpanID: "s2", ParentSpanID: "s1", Name: "publish order-placed", Service: "order-service", Kind: "producer", Start: t0.Add(time.Millisecond), End: t0.Add(900 * time.Millisecond), DurationMS: 899, Status: "error", Error: "broker unreachable"},
		{TraceID: "t1", SpanID: "s3", ParentSpanID: "s2", Name: "process order-placed", Service: "inventory-service", Kind: "consumer", Start: t0.Add(950 * time.Millisecond), End: t0.Add(time.Second), DurationMS: 50},
	}
	j.Measurements.Spans = spans
	j.Measurements.Traces = []scenario.Waterfall{{Mode: "async", OrderID: "o-1", TraceID: "t1", Seconds: 1, Spans: spans}}

	dir := t.TempDir()
	if _, err := j.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	if j.SpansFile != "spans-inventory-down-20260301T115958Z.jsonl" {
		t.Fatalf("spans file %q", j.SpansFile)
	}
	f, err := os.Open(filepath.Join(dir, j.SpansFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var s telemetry.Span
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil || s.TraceID != "t1" || s.Service == "" {
			t.Fatalf("line %d %q: %v", lines+1, sc.Text(), err)
		}
	}
	if lines != 3 {
		t.Fatalf("%d lines, want 3", lines)
	}

	page := renderPage(t, Source{Journal: j})
	for _, want := range []string{"Trace of the slowest order of each mode during the fault", "o-1", "inventory-service · process order-placed",
		`class="span producer error"`, "padding-left:28px", j.SpansFile} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
