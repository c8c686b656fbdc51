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
