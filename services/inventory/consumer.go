package inventory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

// Publisher sends one record and returns once the broker acknowledged it.
// It must be safe for concurrent use and honour ctx. Delivery is at least
// once: after an error the caller retries and the record may then arrive
// twice. *messaging.Producer satisfies it.
type Publisher interface {
	Send(ctx context.Context, m events.Message) error
}

// publishTimeout bounds each outcome publish.
const publishTimeout = 10 * time.Second

// OutcomeEvent builds the outcome event of a stored reservation:
// stock-reserved, or stock-rejected with Reason r.Reason. The EventID is
// deterministic per order ("stock-reserved:<order>" or
// "stock-rejected:<order>"), so a republished outcome is recognisable
// downstream; OccurredAt is now (UTC).
func OutcomeEvent(r Reservation, now time.Time) events.Event {
	e := events.Event{Type: events.StockReserved, OrderID: r.OrderID, SKU: r.SKU, Quantity: r.Quantity, OccurredAt: now.UTC()}
	if r.Status == StatusRejected {
		e.Type, e.Reason = events.StockRejected, r.Reason
	}
	e.EventID = string(e.Type) + ":" + r.OrderID
	return e
}

// UnknownSKUEvent builds the stock-rejected event (Reason "unknown_sku")
// answering order-placed event e whose SKU is not in the catalog. EventID
// is "stock-rejected:<order>"; OccurredAt is now (UTC).
func UnknownSKUEvent(e events.Event, now time.Time) events.Event {
	return events.Event{
		EventID: string(events.StockRejected) + ":" + e.OrderID, Type: events.StockRejected,
		OrderID: e.OrderID, SKU: e.SKU, Quantity: e.Quantity, OccurredAt: now.UTC(), Reason: ReasonUnknownSKU,
	}
}

// HandleOrderPlaced is the messaging.Handler of the order-placed consumer.
// It decodes m, reserves stock for the order (idempotent by order ID) and
// publishes the outcome event, waiting at most 10s for the broker.
//
// Errors: a record that does not decode, breaks the schema or is not an
// order-placed event returns an error wrapping events.ErrInvalid (the
// consumer dead-letters it). A store or publish failure returns another
// error, so the consumer retries the record; the retry republishes the same
// stored outcome. An unknown SKU is a business rejection, not an error.
// With no publisher configured it reserves and publishes nothing.
func (s *Service) HandleOrderPlaced(ctx context.Context, m events.Message) error {
	e, err := events.Decode(m.Value)
	if err != nil {
		return fmt.Errorf("order-placed record key %q: %w", m.Key, err)
	}
	if e.Type != events.OrderPlaced {
		return fmt.Errorf("%w: want type %q, got %q (event %s)", events.ErrInvalid, events.OrderPlaced, e.Type, e.EventID)
	}
	r, err := s.store.Reserve(ctx, e.OrderID, e.SKU, e.Quantity)
	var out events.Event
	switch {
	case errors.Is(err, ErrUnknownSKU):
		out = UnknownSKUEvent(e, time.Now())
	case err != nil:
		return fmt.Errorf("handle order-placed %s: %w", e.EventID, err)
	default:
		out = OutcomeEvent(r, time.Now())
	}
	pub := s.publisher()
	if pub == nil {
		s.log.Debug("no publisher; outcome not sent", "order_id", e.OrderID, "event_id", out.EventID)
		return nil
	}
	rec, err := events.Record(out)
	if err != nil {
		// Our own event is invalid: a bug, not a poison input, so %v keeps
		// ErrInvalid out of the chain and the record is retried, not dropped.
		return fmt.Errorf("build outcome for order %s: %v", e.OrderID, err)
	}
	sendCtx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := pub.Send(sendCtx, rec); err != nil {
		return fmt.Errorf("publish %s: %w", out.EventID, err)
	}
	s.log.Debug("outcome published", "order_id", e.OrderID, "event_id", out.EventID)
	return nil
}
