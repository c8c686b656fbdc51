package scenario

import (
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/telemetry"
)

// TestSlowestTracesPicksPerModeWithinTheFault: per mode, the longest
// trace among orders placed in the window; orders placed outside it and
// spans of other traces are left out.
func TestSlowestTracesPicksPerModeWithinTheFault(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	order := func(trace, mode, id string, start, end int) []telemetry.Span {
		return []telemetry.Span{
			{TraceID: trace, SpanID: trace + "-s", Name: "POST /orders", Service: "order-service", Kind: "server", Start: at(start), End: at(start + 1),
				Attributes: map[string]string{"order.id": id, "order.mode": mode}},
			{TraceID: trace, SpanID: trace + "-c", ParentSpanID: trace + "-s", Name: "process stock-reserved", Service: "order-service", Kind: "consumer", Start: at(end - 1), End: at(end)},
		}
	}
	var spans []telemetry.Span
	spans = append(spans, order("a1", "async", "o-a1", 1000, 1200)...) // in the window
	spans = append(spans, order("a2", "async", "o-a2", 1500, 4000)...) // in the window, slowest async
	spans = append(spans, order("a3", "async", "o-a3", 100, 9000)...)  // placed before the fault
	spans = append(spans, order("s1", "sync", "o-s1", 1100, 1600)...)  // the only sync one
	spans = append(spans, order("s2", "sync", "o-s2", 2500, 99000)...) // placed after the fault
	got := slowestTraces(spans, at(1000), at(2000))
	if len(got) != 2 {
		t.Fatalf("want one waterfall per mode, got %+v", got)
	}
	if got[0].Mode != ModeSync || got[0].OrderID != "o-s1" || got[0].TraceID != "s1" || got[0].Seconds != 0.5 {
		t.Errorf("sync: %+v", got[0])
	}
	if got[1].Mode != ModeAsync || got[1].OrderID != "o-a2" || got[1].Seconds != 2.5 || len(got[1].Spans) != 2 || got[1].Spans[0].Kind != "server" {
		t.Errorf("async: %+v", got[1])
	}
	if none := slowestTraces(spans, at(50000), at(60000)); len(none) != 0 {
		t.Errorf("no order placed in the window, got %+v", none)
	}
}
