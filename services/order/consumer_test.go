package order

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/faultline-harness/faultline/services/events"
)

func outcome(t testing.TB, typ events.Type, orderID, reason string) events.Message {
	t.Helper()
	m, err := events.Record(events.Event{EventID: uuid.NewString(), Type: typ, OrderID: orderID, SKU: "SKU-1", Quantity: 1, OccurredAt: time.Now().UTC(), Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHandleStockOutcomeConfirmsOnce(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	o := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	ctx := context.Background()
	reserved := outcome(t, events.StockReserved, o.ID, "")
	var first Order
	for i := range 5 { // the same record redelivered
		if err := s.HandleStockOutcome(ctx, reserved); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		got, err := s.Store().Get(ctx, o.ID)
		if err != nil || got.Status != StatusConfirmed {
			t.Fatalf("delivery %d: %+v, %v", i, got, err)
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("delivery %d changed the order: %+v, was %+v", i, got, first)
		}
	}
	// A late contradicting outcome changes nothing either.
	if err := s.HandleStockOutcome(ctx, outcome(t, events.StockRejected, o.ID, "insufficient_stock")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Store().Get(ctx, o.ID); got != first {
		t.Fatalf("late rejection changed the order: %+v", got)
	}
}

func TestHandleStockOutcomeRejects(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	o := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	ctx := context.Background()
	if err := s.HandleStockOutcome(ctx, outcome(t, events.StockRejected, o.ID, "insufficient_stock")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Store().Get(ctx, o.ID); err != nil || got.Status != StatusRejected || got.Reason != "insufficient_stock" || !got.UpdatedAt.After(o.UpdatedAt) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := s.HandleStockOutcome(ctx, outcome(t, events.StockReserved, o.ID, "")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Store().Get(ctx, o.ID); got.Status != StatusRejected {
		t.Fatalf("late reservation moved a rejected order to %s", got.Status)
	}
}

func TestHandleStockOutcomePoisonAndUnknown(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	o := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	ctx := context.Background()
	placed := outcome(t, events.OrderPlaced, o.ID, "")
	for name, m := range map[string]events.Message{
		"not json":       {Topic: events.TopicStockReserved, Key: o.ID, Value: []byte(`{"event_id":`)},
		"missing fields": {Topic: events.TopicStockReserved, Key: o.ID, Value: []byte(`{"type":"stock-reserved","order_id":"` + o.ID + `"}`)},
		"wrong type":     placed,
	} {
		if err := s.HandleStockOutcome(ctx, m); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if got, _ := s.Store().Get(ctx, o.ID); got.Status != StatusPending {
		t.Fatalf("poison changed the order to %s", got.Status)
	}
	unknown := uuid.NewString()
	if err := s.HandleStockOutcome(ctx, outcome(t, events.StockReserved, unknown, "")); err != nil {
		t.Fatalf("unknown order: %v, want nil (skip)", err)
	}
	if _, err := s.Store().transition(ctx, unknown, StatusConfirmed, "", time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("transition of unknown order: %v, want ErrNotFound", err)
	}
	if _, err := s.Store().Get(ctx, unknown); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown order was created: %v", err)
	}
}

// TestHandleStockOutcomeBatch: one batch, one transaction: a poison record
// in the middle fails alone (ErrInvalid), the outcomes around it apply, a
// repeated outcome moves its order once, and an outcome for an order this
// service does not hold is skipped and counted (logged at Debug: it
// belongs to another instance or placement mode).
func TestHandleStockOutcomeBatch(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	o1 := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	o2 := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	ctx := context.Background()
	reserved := outcome(t, events.StockReserved, o1.ID, "")
	batch := []events.Message{
		reserved,
		{Topic: events.TopicStockReserved, Key: o2.ID, Value: []byte(`[]`)},
		outcome(t, events.StockRejected, o2.ID, "insufficient_stock"),
		outcome(t, events.StockReserved, uuid.NewString(), ""),
		reserved,
	}
	errs := s.HandleStockOutcomeBatch(ctx, batch)
	if len(errs) != len(batch) {
		t.Fatalf("%d errors for %d records", len(errs), len(batch))
	}
	for i, err := range errs {
		if wantErr := i == 1; wantErr != (err != nil) || (wantErr && !errors.Is(err, events.ErrInvalid)) {
			t.Errorf("record %d: err = %v", i, err)
		}
	}
	if got, _ := s.Store().Get(ctx, o1.ID); got.Status != StatusConfirmed {
		t.Errorf("o1 %s, want CONFIRMED", got.Status)
	}
	if got, _ := s.Store().Get(ctx, o2.ID); got.Status != StatusRejected || got.Reason != "insufficient_stock" {
		t.Errorf("o2 %s (%s), want REJECTED insufficient_stock", got.Status, got.Reason)
	}
	if n := s.unknownOutcomes.Load(); n != 1 {
		t.Errorf("unknown-order outcomes %d, want 1", n)
	}
}
