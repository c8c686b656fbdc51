package telemetry_test

import (
	"fmt"
	"testing"

	"github.com/faultline-harness/faultline/services/telemetry"
)

// TestCollectorKeepsTheLastMax: a full collector drops its oldest spans,
// counts them, and returns the rest in the order they ended, converted.
func TestCollectorKeepsTheLastMax(t *testing.T) {
	col := telemetry.NewCollector(3)
	tp := provider(t, "order-service", col)
	tr := tp.Tracer("test")
	for i := range 5 {
		_, span := tr.Start(t.Context(), fmt.Sprintf("span %d", i))
		span.SetAttributes(telemetry.AttrOrderID.String(fmt.Sprintf("order-%d", i)))
		span.End()
	}
	got := col.Spans()
	if len(got) != 3 || col.Dropped() != 2 {
		t.Fatalf("kept %d spans, dropped %d; want 3 and 2", len(got), col.Dropped())
	}
	for i, s := range got {
		want := fmt.Sprintf("span %d", i+2)
		if s.Name != want || s.Service != "order-service" || s.Attributes[string(telemetry.AttrOrderID)] != fmt.Sprintf("order-%d", i+2) || len(s.TraceID) != 32 {
			t.Errorf("span %d = %+v, want %q of order-service with its order.id", i, s, want)
		}
	}
	if id := col.TraceOfOrder("order-4"); id != got[2].TraceID || len(col.Trace(id)) != 1 {
		t.Errorf("TraceOfOrder(order-4) = %q (trace has %d spans), want %q", id, len(col.Trace(id)), got[2].TraceID)
	}
	if id := col.TraceOfOrder("order-0"); id != "" {
		t.Errorf("TraceOfOrder of a dropped span = %q, want empty", id)
	}
}
