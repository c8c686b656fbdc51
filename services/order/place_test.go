package order

import (
	"context"
	"testing"
	"time"
)

func TestPlaceAsyncStoresPendingOrderAndOutboxRecord(t *testing.T) {
	s := newService(t, Config{Mode: ModeSync})
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

	o, err := s.Store().PlaceAsync(ctx, Order{ID: "order-1", SKU: "SKU-1", Quantity: 2, CreatedAt: at}, "event-1")
	if err != nil {
		t.Fatalf("PlaceAsync: %v", err)
	}
	if o.Status != StatusPending || o.Mode != ModeAsync || !o.UpdatedAt.Equal(at) {
		t.Errorf("returned order %+v, want PENDING async updated at %v", o, at)
	}
	got, err := s.Store().Get(ctx, "order-1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got != o {
		t.Errorf("stored order %+v, want %+v", got, o)
	}
	rows, err := s.Store().unpublished(ctx, 10)
	if err != nil {
		t.Fatalf("unpublished: %v", err)
	}
	if len(rows) != 1 || rows[0].eventID != "event-1" || rows[0].msg.Key != "order-1" || rows[0].msg.Topic != "order-placed" {
		t.Fatalf("outbox rows %+v, want one order-placed record event-1 keyed order-1", rows)
	}

	if _, err := s.Store().PlaceAsync(ctx, Order{ID: "order-1", SKU: "SKU-1", Quantity: 2}, "event-2"); err == nil {
		t.Error("PlaceAsync with a taken order ID returned nil, want an error")
	}
	if _, err := s.Store().PlaceAsync(ctx, Order{ID: "order-2", SKU: "SKU-1", Quantity: 0}, "event-3"); err == nil {
		t.Error("PlaceAsync with quantity 0 returned nil, want an invalid-event error")
	}
}
