package order

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// TestOpenStoreMigratesOutboxTraceParent opens a database created before
// tracing (no outbox.traceparent): the column is added, old rows read as
// "", and a new row stores the placing request's traceparent.
func TestOpenStoreMigratesOutboxTraceParent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO orders (id, sku, quantity, mode, status, created_at, updated_at) VALUES ('old', 'SKU-1', 1, 'async', 'PENDING', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z');
		INSERT INTO outbox (event_id, order_id, topic, key, value, headers, created_at) VALUES ('e-old', 'old', 'order-placed', 'old', '{}', '[]', '2026-12-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := OpenStore(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(t.Context(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	if _, err := st.PlaceAsync(ctx, Order{ID: uuid.NewString(), SKU: "SKU-1", Quantity: 1}, uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	rows, err := st.unpublished(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].traceparent != "" || rows[1].traceparent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("outbox rows %+v: want the old row without and the new one with the traceparent", rows)
	}
	st.Close()
	if st, err = OpenStore(t.Context(), path); err != nil { // migrating twice is a no-op
		t.Fatal(err)
	}
	st.Close()
}
