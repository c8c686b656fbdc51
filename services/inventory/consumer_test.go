package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
)

// orderPlaced builds the record of an order-placed event.
func orderPlaced(t testing.TB, orderID, sku string, qty int) events.Message {
	t.Helper()
	m, err := events.Record(events.Event{
		EventID: "order-placed:" + orderID, Type: events.OrderPlaced, OrderID: orderID,
		SKU: sku, Quantity: qty, OccurredAt: time.Now(),
	})
	if err != nil {
		t.Fatalf("build order-placed: %v", err)
	}
	return m
}

// decodeOutcome checks a published outcome record and returns its event.
func decodeOutcome(t testing.TB, m events.Message) events.Event {
	t.Helper()
	e, err := events.Decode(m.Value)
	if err != nil {
		t.Fatalf("published record does not decode: %v", err)
	}
	if m.Topic != e.Topic() || m.Key != e.OrderID || m.Header(events.HeaderContentType) != events.ContentType ||
		m.Header(events.HeaderEventID) != e.EventID || m.Header(events.HeaderEventType) != string(e.Type) {
		t.Errorf("record envelope %+v does not match event %+v", m, e)
	}
	return e
}

func TestHandleOrderPlacedRedelivery(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{Publisher: rec})
	m := orderPlaced(t, "order-1", "SKU-A", 3)

	const deliveries = 4
	for i := range deliveries {
		if err := svc.HandleOrderPlaced(ctx, m); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 7 {
		t.Errorf("available %d after %d deliveries, want 7 (reserved once)", n, deliveries)
	}
	if _, moves, _ := svc.Store().Reservation(ctx, "order-1"); moves != 1 {
		t.Errorf("%d stock movements, want 1", moves)
	}
	sent := rec.sent()
	if len(sent) != deliveries {
		t.Fatalf("published %d outcomes, want %d (one per delivery)", len(sent), deliveries)
	}
	for i, m := range sent {
		e := decodeOutcome(t, m)
		if e.EventID != "stock-reserved:order-1" || e.Type != events.StockReserved || e.SKU != "SKU-A" || e.Quantity != 3 || e.Reason != "" {
			t.Errorf("outcome %d = %+v, want stock-reserved:order-1 for 3 SKU-A", i, e)
		}
	}
}

func TestHandleOrderPlacedRejections(t *testing.T) {
	tests := []struct {
		name, sku string
		qty       int
		eventID   string
		reason    string
	}{
		{"insufficient stock", "SKU-LOW", 6, "stock-rejected:o-low", inventory.ReasonInsufficientStock},
		{"unknown SKU", "SKU-NOPE", 1, "stock-rejected:o-nope", inventory.ReasonUnknownSKU},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			svc := newService(t, map[string]int{"SKU-LOW": 5}, inventory.Config{Publisher: rec})
			orderID := tc.eventID[len("stock-rejected:"):]
			if err := svc.HandleOrderPlaced(context.Background(), orderPlaced(t, orderID, tc.sku, tc.qty)); err != nil {
				t.Fatalf("handle: %v (a business rejection is not an error)", err)
			}
			sent := rec.sent()
			if len(sent) != 1 {
				t.Fatalf("published %d outcomes, want 1", len(sent))
			}
			e := decodeOutcome(t, sent[0])
			if e.Type != events.StockRejected || e.EventID != tc.eventID || e.Reason != tc.reason || e.SKU != tc.sku || e.Quantity != tc.qty {
				t.Errorf("outcome %+v, want %s with reason %s", e, tc.eventID, tc.reason)
			}
			if n := available(t, svc.Store(), "SKU-LOW"); n != 5 {
				t.Errorf("SKU-LOW available %d, want 5", n)
			}
		})
	}
}

func TestHandleOrderPlacedPoison(t *testing.T) {
	valid := func() events.Event {
		return events.Event{EventID: "e1", Type: events.OrderPlaced, OrderID: "o1", SKU: "SKU-A", Quantity: 1, OccurredAt: time.Now()}
	}
	encode := func(mod func(*events.Event)) []byte {
		e := valid()
		mod(&e)
		b, _ := json.Marshal(e)
		return b
	}
	tests := map[string][]byte{
		"not JSON":          []byte("{not json"),
		"empty":             nil,
		"JSON array":        []byte(`[1]`),
		"zero quantity":     encode(func(e *events.Event) { e.Quantity = 0 }),
		"missing order ID":  encode(func(e *events.Event) { e.OrderID = "" }),
		"missing event ID":  encode(func(e *events.Event) { e.EventID = "" }),
		"wrong event type":  encode(func(e *events.Event) { e.Type = events.StockReserved }),
		"unknown type":      encode(func(e *events.Event) { e.Type = "order-cancelled" }),
		"missing timestamp": encode(func(e *events.Event) { e.OccurredAt = time.Time{} }),
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{Publisher: rec})
			err := svc.HandleOrderPlaced(context.Background(), events.Message{Topic: events.TopicOrderPlaced, Key: "o1", Value: value})
			if !errors.Is(err, events.ErrInvalid) {
				t.Errorf("err = %v, want one wrapping events.ErrInvalid", err)
			}
			if n := len(rec.sent()); n != 0 {
				t.Errorf("published %d outcomes for a poison message", n)
			}
			if n := available(t, svc.Store(), "SKU-A"); n != 10 {
				t.Errorf("available %d, want 10", n)
			}
		})
	}
}

func TestHandleOrderPlacedPublishFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{Publisher: rec})
	m := orderPlaced(t, "o1", "SKU-A", 2)

	broker := errors.New("broker down")
	rec.setFail(broker)
	err := svc.HandleOrderPlaced(ctx, m)
	if !errors.Is(err, broker) || errors.Is(err, events.ErrInvalid) {
		t.Fatalf("err = %v, want the publish error and not ErrInvalid (so the record is retried)", err)
	}
	rec.setFail(nil)
	if err := svc.HandleOrderPlaced(ctx, m); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if sent := rec.sent(); len(sent) != 1 || decodeOutcome(t, sent[0]).EventID != "stock-reserved:o1" {
		t.Errorf("published %d outcomes after the retry, want stock-reserved:o1 once", len(sent))
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 8 {
		t.Errorf("available %d, want 8 (reserved once across the retry)", n)
	}
}

func TestHandleOrderPlacedWithoutPublisherStillReserves(t *testing.T) {
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{})
	if err := svc.HandleOrderPlaced(context.Background(), orderPlaced(t, "o1", "SKU-A", 4)); err != nil {
		t.Fatalf("handle: %v", err)
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 6 {
		t.Errorf("available %d, want 6", n)
	}
}

func TestOutcomeEvent(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		got  events.Event
		want events.Event
	}{
		{"reserved",
			inventory.OutcomeEvent(inventory.Reservation{OrderID: "o1", SKU: "SKU-1", Quantity: 2, Status: inventory.StatusReserved}, now),
			events.Event{EventID: "stock-reserved:o1", Type: events.StockReserved, OrderID: "o1", SKU: "SKU-1", Quantity: 2, OccurredAt: now.UTC()}},
		{"rejected",
			inventory.OutcomeEvent(inventory.Reservation{OrderID: "o2", SKU: "SKU-LOW", Quantity: 9, Status: inventory.StatusRejected, Reason: inventory.ReasonInsufficientStock}, now),
			events.Event{EventID: "stock-rejected:o2", Type: events.StockRejected, OrderID: "o2", SKU: "SKU-LOW", Quantity: 9, OccurredAt: now.UTC(), Reason: "insufficient_stock"}},
		{"unknown SKU",
			inventory.UnknownSKUEvent(events.Event{EventID: "x", Type: events.OrderPlaced, OrderID: "o3", SKU: "NOPE", Quantity: 1, OccurredAt: now}, now),
			events.Event{EventID: "stock-rejected:o3", Type: events.StockRejected, OrderID: "o3", SKU: "NOPE", Quantity: 1, OccurredAt: now.UTC(), Reason: "unknown_sku"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got  %+v\nwant %+v", tc.got, tc.want)
			}
			if err := tc.got.Validate(); err != nil {
				t.Errorf("outcome is not a valid event: %v", err)
			}
		})
	}
}
