package inventory_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestReserveReusedOrderID: a reservation for an order ID that already has
// one for another SKU or quantity changes nothing and returns the stored
// reservation with ErrOrderIDReused, which is also poison (events.ErrInvalid)
// and permanent (messaging.IsPermanent) for a consumer.
func TestReserveReusedOrderID(t *testing.T) {
	ctx := context.Background()
	st := newService(t, map[string]int{"SKU-A": 10, "SKU-B": 10}, inventory.Config{}).Store()
	first, err := st.Reserve(ctx, "order-1", "SKU-A", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []struct {
		sku string
		qty int
	}{{"SKU-B", 3}, {"SKU-A", 4}, {"SKU-B", 5}, {"SKU-NOPE", 3}} {
		got, err := st.Reserve(ctx, "order-1", other.sku, other.qty)
		if !errors.Is(err, inventory.ErrOrderIDReused) || !errors.Is(err, events.ErrInvalid) || !messaging.IsPermanent(err) {
			t.Fatalf("reserve %+v for order-1: %v, want ErrOrderIDReused (invalid, permanent)", other, err)
		}
		got.CreatedAt = first.CreatedAt
		if got != first {
			t.Errorf("reserve %+v returned %+v, want the stored %+v", other, got, first)
		}
	}
	if a, b := available(t, st, "SKU-A"), available(t, st, "SKU-B"); a != 7 || b != 10 {
		t.Errorf("stock SKU-A %d, SKU-B %d; want 7 and 10", a, b)
	}
	if r, moves, err := st.Reservation(ctx, "order-1"); err != nil || moves != 1 || r.Quantity != 3 || r.SKU != "SKU-A" {
		t.Errorf("Reservation = %+v, %d movements, %v; want 3 x SKU-A with 1 movement", r, moves, err)
	}
}

// TestOrderPlacedReusedOrderIDIsPoison: on the order-placed consumer path,
// a record whose order already has a reservation for another SKU or
// quantity is poison (events.ErrInvalid, dead-lettered by the consumer):
// no outcome is published and stock stays put. The same record again
// (same SKU and quantity) republishes the stored outcome.
func TestOrderPlacedReusedOrderIDIsPoison(t *testing.T) {
	ctx := context.Background()
	pub := &recorder{}
	svc := newService(t, map[string]int{"SKU-A": 10, "SKU-B": 10}, inventory.Config{Publisher: pub})
	record := func(sku string, qty int) events.Message {
		m, err := events.Record(events.Event{EventID: "e-" + sku, Type: events.OrderPlaced, OrderID: "order-1", SKU: sku, Quantity: qty, OccurredAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if err := svc.HandleOrderPlaced(ctx, record("SKU-A", 2)); err != nil {
		t.Fatal(err)
	}
	err := svc.HandleOrderPlaced(ctx, record("SKU-B", 2))
	if !errors.Is(err, events.ErrInvalid) || !errors.Is(err, inventory.ErrOrderIDReused) {
		t.Fatalf("reused order_id: %v, want poison (ErrInvalid) naming ErrOrderIDReused", err)
	}
	if n := len(pub.sent()); n != 1 {
		t.Fatalf("%d outcomes published, want 1 (the first order's)", n)
	}
	if err := svc.HandleOrderPlaced(ctx, record("SKU-A", 2)); err != nil {
		t.Fatalf("redelivery of the first record: %v", err)
	}
	sent := pub.sent()
	if len(sent) != 2 {
		t.Fatalf("redelivery: %d outcomes published, want 2", len(sent))
	}
	e1, err1 := events.Decode(sent[0].Value)
	e2, err2 := events.Decode(sent[1].Value)
	e2.OccurredAt = e1.OccurredAt
	if err1 != nil || err2 != nil || e1 != e2 || e1.Type != events.StockReserved || e1.SKU != "SKU-A" {
		t.Fatalf("outcomes %+v (%v), %+v (%v); want stock-reserved SKU-A twice", e1, err1, e2, err2)
	}
	if a, b := available(t, svc.Store(), "SKU-A"), available(t, svc.Store(), "SKU-B"); a != 8 || b != 10 {
		t.Errorf("stock SKU-A %d, SKU-B %d; want 8 and 10", a, b)
	}
}

// TestReservationReusedOrderIDOverHTTP: 409 order_id_reused, nothing
// changes, and the original request still replays its 201.
func TestReservationReusedOrderIDOverHTTP(t *testing.T) {
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{})
	h := svc.Handler()
	status, first := call(t, h, "POST", "/reservations", jsonBody(map[string]any{"order_id": "o1", "sku": "SKU-A", "quantity": 2}))
	if status != http.StatusCreated {
		t.Fatalf("first: %d %s", status, first)
	}
	status, body := call(t, h, "POST", "/reservations", jsonBody(map[string]any{"order_id": "o1", "sku": "SKU-A", "quantity": 3}))
	if status != http.StatusConflict || errCode(t, body) != "order_id_reused" {
		t.Fatalf("reused order_id: %d %s, want 409 order_id_reused", status, body)
	}
	status, again := call(t, h, "POST", "/reservations", jsonBody(map[string]any{"order_id": "o1", "sku": "SKU-A", "quantity": 2}))
	if status != http.StatusCreated || !bytes.Equal(again, first) {
		t.Fatalf("replay after the conflict: %d %s, want 201 %s", status, again, first)
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 8 {
		t.Fatalf("available %d, want 8", n)
	}
}
