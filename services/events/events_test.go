package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

func valid() events.Event {
	return events.Event{EventID: "e-1", Type: events.OrderPlaced, OrderID: "o-1", SKU: "SKU-1", Quantity: 2,
		OccurredAt: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
}

func TestValidate(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	for name, tc := range map[string]struct {
		mutate func(*events.Event)
		field  string
	}{
		"no event id":      {func(e *events.Event) { e.EventID = " " }, "event_id"},
		"unknown type":     {func(e *events.Event) { e.Type = "order-shipped" }, "type"},
		"empty type":       {func(e *events.Event) { e.Type = "" }, "type"},
		"no order id":      {func(e *events.Event) { e.OrderID = "" }, "order_id"},
		"no sku":           {func(e *events.Event) { e.SKU = "\t" }, "sku"},
		"zero quantity":    {func(e *events.Event) { e.Quantity = 0 }, "quantity"},
		"negative":         {func(e *events.Event) { e.Quantity = -1 }, "quantity"},
		"no occurred time": {func(e *events.Event) { e.OccurredAt = time.Time{} }, "occurred_at"},
	} {
		t.Run(name, func(t *testing.T) {
			e := valid()
			tc.mutate(&e)
			err := e.Validate()
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want ErrInvalid naming %s", err, tc.field)
			}
		})
	}
	for _, typ := range []events.Type{events.OrderPlaced, events.StockReserved, events.StockRejected} {
		e := valid()
		e.Type = typ
		if err := e.Validate(); err != nil || e.Topic() != string(typ) {
			t.Errorf("type %s: %v, topic %s", typ, err, e.Topic())
		}
	}
}

func TestRecord(t *testing.T) {
	e := valid()
	e.Type, e.Reason = events.StockRejected, "insufficient_stock"
	m, err := events.Record(e)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != events.TopicStockRejected || m.Key != "o-1" {
		t.Fatalf("topic %q key %q", m.Topic, m.Key)
	}
	wantHeaders := []events.Header{{"content-type", "application/json"}, {"event-type", "stock-rejected"}, {"event-id", "e-1"}}
	if !reflect.DeepEqual(m.Headers, wantHeaders) {
		t.Fatalf("headers %v", m.Headers)
	}
	if m.Header("Event-ID") != "e-1" || m.Header("missing") != "" {
		t.Fatalf("Header lookup is not case-insensitive or invents values")
	}
	var raw map[string]any
	if err := json.Unmarshal(m.Value, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "type", "order_id", "sku", "quantity", "occurred_at", "reason"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("value %s lacks %q", m.Value, k)
		}
	}
	got, err := events.Decode(m.Value)
	if err != nil || got != e {
		t.Fatalf("Decode(Record(e)) = %+v, %v; want %+v", got, err, e)
	}
	e.Reason = ""
	m, _ = events.Record(e)
	if strings.Contains(string(m.Value), "reason") {
		t.Fatalf("empty reason encoded: %s", m.Value)
	}
	e.Quantity = 0
	if _, err := events.Record(e); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Record of an invalid event: %v", err)
	}
}

func TestDecode(t *testing.T) {
	for name, value := range map[string]string{
		"empty":          ``,
		"not json":       `{"event_id":`,
		"array":          `[]`,
		"null":           `null`,
		"wrong types":    `{"event_id":1,"type":"order-placed"}`,
		"missing fields": `{"event_id":"e","type":"order-placed","order_id":"o"}`,
		"bad time":       `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1,"occurred_at":"yesterday"}`,
		"unknown type":   `{"event_id":"e","type":"x","order_id":"o","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
	} {
		if _, err := events.Decode([]byte(value)); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: Decode = %v, want ErrInvalid (a poison message)", name, err)
		}
	}
	// Unknown fields are tolerated: a newer producer may add some.
	e, err := events.Decode([]byte(`{"event_id":"e","type":"stock-reserved","order_id":"o","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z","extra":true}`))
	if err != nil || e.Type != events.StockReserved {
		t.Fatalf("Decode with an extra field = %+v, %v", e, err)
	}
}

// FuzzDecode: whatever the bytes, Decode never panics; anything it accepts
// is a valid event that survives Record and Decode unchanged.
func FuzzDecode(f *testing.F) {
	m, _ := events.Record(valid())
	f.Add(m.Value)
	f.Add([]byte(`{"event_id":"e","type":"stock-rejected","order_id":"o","sku":"s","quantity":3,"occurred_at":"2026-11-29T10:00:00.123456789+02:00","reason":"unknown_sku"}`))
	f.Add([]byte(`{"event_id":`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"quantity":1e400}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := events.Decode(value)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Decode error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid event %+v: %v", e, err)
		}
		m, err := events.Record(e)
		if err != nil {
			t.Fatalf("Record of a decoded event: %v", err)
		}
		again, err := events.Decode(m.Value)
		if err != nil || !again.OccurredAt.Equal(e.OccurredAt) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, e)
		}
		again.OccurredAt = e.OccurredAt
		if again != e {
			t.Fatalf("round trip changed the event: %+v, want %+v", again, e)
		}
	})
}
