package order

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

// PlaceAsync stores o as a PENDING async order together with its
// order-placed outbox record (event ID eventID, occurred at o.CreatedAt),
// in one transaction: the same write POST /orders makes in async mode, so
// the outbox relay publishes the record exactly as it would for an order
// placed over HTTP. It returns the stored order.
//
// POST /orders generates order IDs; PlaceAsync exists for contract tests
// and Pact provider states that need an order with a known ID (the pacts
// pin the record key). A zero o.CreatedAt means now. Mode, Status, Reason
// and UpdatedAt are set here. An order ID already taken is an error. A
// running relay is not woken: call Relay().Wake() when one runs.
func (st *Store) PlaceAsync(ctx context.Context, o Order, eventID string) (Order, error) {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	o.CreatedAt = o.CreatedAt.UTC()
	o.UpdatedAt = o.CreatedAt
	o.Mode, o.Status, o.Reason = ModeAsync, StatusPending, ""
	msg, err := events.Record(OrderPlacedEvent(o, eventID, o.CreatedAt))
	if err != nil {
		return Order{}, fmt.Errorf("place order %s: %w", o.ID, err)
	}
	created, err := st.create(ctx, o, "", response{status: http.StatusAccepted, body: jsonBody(o)}, &msg)
	if err != nil {
		return Order{}, fmt.Errorf("place order %s: %w", o.ID, err)
	}
	if !created {
		return Order{}, fmt.Errorf("place order %s: %w", o.ID, errors.New("not stored"))
	}
	return o, nil
}
