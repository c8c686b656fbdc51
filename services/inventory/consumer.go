package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
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

// BatchPublisher is a Publisher that also sends many records pipelined,
// returning one error per record in order (*messaging.Producer's
// SendBatch). Without it a batch's outcomes are sent concurrently with
// Send.
type BatchPublisher interface {
	Publisher
	SendBatch(ctx context.Context, msgs []events.Message) []error
}

// HandleOrderPlaced handles one order-placed record: HandleOrderPlacedBatch
// with a batch of one.
func (s *Service) HandleOrderPlaced(ctx context.Context, m events.Message) error {
	return s.HandleOrderPlacedBatch(ctx, []events.Message{m})[0]
}

// HandleOrderPlacedBatch is the messaging.BatchHandler of the order-placed
// consumer. It decodes the records, reserves stock for all of them in one
// SQLite transaction (Store.ReserveBatch: a savepoint per record,
// idempotent by order ID), then publishes their outcome events pipelined,
// waiting at most 10s for the broker, even when ctx ends meanwhile (the
// reservations are committed: their outcomes go out before a shutdown or
// rebalance completes). It returns one error per record.
//
// Errors, per record: one that does not decode, breaks the schema, is not
// an order-placed event or reuses an order ID with another SKU or quantity
// wraps events.ErrInvalid (permanent: the consumer dead-letters it after
// its attempts); an outcome too large to publish wraps messaging.ErrTooLarge
// (permanent too). A store or publish failure returns another error, so
// the consumer retries the record; the retry republishes the same stored
// outcome. Each outcome record carries, in its traceparent header, the
// trace of the order-placed record it answers (Extract of that record's
// headers). An unknown SKU is a business rejection, not an error. With no
// publisher configured it reserves and publishes nothing.
func (s *Service) HandleOrderPlacedBatch(ctx context.Context, batch []events.Message) []error {
	errs := make([]error, len(batch))
	reqs := make([]ReserveRequest, 0, len(batch))
	at := make([]int, 0, len(batch)) // reqs[j] is batch[at[j]]
	placed := make([]events.Event, 0, len(batch))
	for i, m := range batch {
		e, err := events.Decode(m.Value)
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("order-placed record key %q: %w", m.Key, err)
		case e.Type != events.OrderPlaced:
			errs[i] = fmt.Errorf("%w: want type %q, got %q (event %s)", events.ErrInvalid, events.OrderPlaced, e.Type, e.EventID)
		default:
			reqs, at, placed = append(reqs, ReserveRequest{OrderID: e.OrderID, SKU: e.SKU, Quantity: e.Quantity}), append(at, i), append(placed, e)
		}
	}
	if len(reqs) == 0 {
		return errs
	}
	rs, rerrs := s.store.ReserveBatch(ctx, reqs)
	pub := s.publisher()
	var out []events.Message
	var outAt []int
	now := time.Now()
	for j, i := range at {
		e := placed[j]
		var oe events.Event
		switch err := rerrs[j]; {
		case errors.Is(err, ErrUnknownSKU):
			oe = UnknownSKUEvent(e, now)
		case err != nil:
			errs[i] = fmt.Errorf("handle order-placed %s: %w", e.EventID, err)
			continue
		default:
			oe = OutcomeEvent(rs[j], now)
		}
		if pub == nil {
			s.log.Debug("no publisher; outcome not sent", "order_id", e.OrderID, "event_id", oe.EventID)
			continue
		}
		rec, err := events.Record(oe)
		if err != nil {
			// Our own event is invalid: a bug, not a poison input, so %v keeps
			// ErrInvalid out of the chain and the record is retried, not dropped.
			errs[i] = fmt.Errorf("build outcome for order %s: %v", e.OrderID, err)
			continue
		}
		if n := messaging.RecordSize(rec); n > messaging.MaxMessageBytes {
			errs[i] = fmt.Errorf("publish %s: %d bytes: %w", oe.EventID, n, messaging.ErrTooLarge)
			continue
		}
		out, outAt = append(out, rec), append(outAt, i)
	}
	if len(out) == 0 {
		return errs
	}
	// The reservations are committed: finish publishing their outcomes
	// even when ctx ends now (a shutdown or rebalance), within
	// publishTimeout, so the batch can be marked and its offsets committed
	// instead of redelivered.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	// Each outcome continues its order-placed record's trace: a producer
	// span under the record's span, its traceparent in the outcome's header.
	spans := make([]trace.Span, len(out))
	for k := range out {
		_, spans[k], out[k] = telemetry.StartProducer(telemetry.Extract(ctx, batch[outAt[k]].Headers), s.cfg.Tracing, out[k])
	}
	for k, err := range sendAll(sendCtx, pub, out) {
		i := outAt[k]
		telemetry.EndSpan(spans[k], err)
		if err != nil {
			errs[i] = fmt.Errorf("publish %s: %w", out[k].Header(events.HeaderEventID), err)
			continue
		}
		s.log.Debug("outcome published", "order_id", out[k].Key, "event_id", out[k].Header(events.HeaderEventID))
	}
	return errs
}

// sendAll publishes msgs with pub's SendBatch, or concurrent Sends, and
// returns one error per record in order.
func sendAll(ctx context.Context, pub Publisher, msgs []events.Message) []error {
	if bp, ok := pub.(BatchPublisher); ok {
		return bp.SendBatch(ctx, msgs)
	}
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() { errs[i] = pub.Send(ctx, m) })
	}
	wg.Wait()
	return errs
}
