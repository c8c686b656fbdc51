package order

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// PlaceAsync stores o as a PENDING async order together with its
// order-placed outbox record (event ID eventID, occurred at o.CreatedAt),
// in one transaction: the same write POST /orders makes in async mode, so
// the outbox relay publishes the record exactly as it would for an order
// placed over HTTP. It returns the stored order.
//
// POST /orders generates order IDs; PlaceAsync exists for contract tests
// and Pact provider states that need an order with a known ID (the pacts
// pin the record key). A zero o.CreatedAt means now. An order whose
// record cannot be published (a field outside the events bounds:
// events.ErrInvalid; over messaging.MaxMessageBytes: messaging.ErrTooLarge)
// is an error and nothing is stored. Mode, Status, Reason
// and UpdatedAt are set here. An order ID already taken is an error. A
// running relay hears of the new row once it is committed, as for POST
// /orders.
func (st *Store) PlaceAsync(ctx context.Context, o Order, eventID string) (Order, error) {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	o.CreatedAt = o.CreatedAt.UTC()
	o.UpdatedAt = o.CreatedAt
	o.Mode, o.Status, o.Reason = ModeAsync, StatusPending, ""
	msg, err := orderPlacedRecord(o, eventID)
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

// orderPlacedRecord builds o's order-placed record (event ID eventID,
// occurred at o.CreatedAt) and checks that the producer will accept it.
// Errors: a field outside the events bounds (wraps events.ErrInvalid), a
// record over messaging.MaxMessageBytes (wraps messaging.ErrTooLarge).
// POST /orders calls it before anything is stored, in both modes, so no
// order is accepted whose event could not be published.
func orderPlacedRecord(o Order, eventID string) (events.Message, error) {
	msg, err := events.Record(OrderPlacedEvent(o, eventID, o.CreatedAt))
	if err != nil {
		return events.Message{}, err
	}
	return msg, checkRecordSize(msg, messaging.MaxMessageBytes)
}

// checkRecordSize returns an error wrapping messaging.ErrTooLarge when m,
// as the producer counts it (messaging.RecordSize), is over limit bytes.
func checkRecordSize(m events.Message, limit int) error {
	if n := messaging.RecordSize(m); n > limit {
		return fmt.Errorf("%w: the %s record would be %d bytes, over the producer's limit of %d", messaging.ErrTooLarge, m.Topic, n, limit)
	}
	return nil
}
