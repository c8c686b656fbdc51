package order

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// StockOutcomeTopics are the topics the stock-outcome consumer reads.
var StockOutcomeTopics = []string{events.TopicStockReserved, events.TopicStockRejected}

// HandleStockOutcome applies one stock-reserved or stock-rejected record:
// HandleStockOutcomeBatch with a batch of one.
func (s *Service) HandleStockOutcome(ctx context.Context, m events.Message) error {
	return s.HandleStockOutcomeBatch(ctx, []events.Message{m})[0]
}

// HandleStockOutcomeBatch applies stock-reserved and stock-rejected records
// (a messaging.BatchHandler): one read of the batch's orders, then one
// SQLite transaction for those still PENDING (none when every order is
// held elsewhere or settled; Store.transitionBatch). Each record moves its
// order from PENDING to CONFIRMED or REJECTED (reason from the event,
// default "rejected") and does nothing if the order is no longer PENDING,
// so duplicates and redeliveries are harmless.
//
// It returns one error per record: nil when applied or skipped (an order
// this service does not hold, e.g. one placed through another order-service
// instance sharing the topics: logged at Debug and counted in
// stock_outcomes_unknown_order), an error wrapping events.ErrInvalid for a
// record that does not decode, fails validation or has another event type
// (permanent: dead-lettered by the consumer after its attempts), or a
// store error (transient: the consumer retries).
func (s *Service) HandleStockOutcomeBatch(ctx context.Context, batch []events.Message) []error {
	errs := make([]error, len(batch))
	var moves []transitionReq
	var at []int
	var evs []events.Event
	for i, m := range batch {
		e, err := events.Decode(m.Value)
		if err != nil {
			errs[i] = fmt.Errorf("stock outcome from %s key %q: %w", m.Topic, m.Key, err)
			continue
		}
		tr := transitionReq{id: e.OrderID}
		switch e.Type {
		case events.StockReserved:
			tr.to = StatusConfirmed
		case events.StockRejected:
			tr.to, tr.reason = StatusRejected, e.Reason
			if tr.reason == "" {
				tr.reason = "rejected"
			}
		default:
			errs[i] = fmt.Errorf("%w: event %s of type %q is not a stock outcome", events.ErrInvalid, e.EventID, e.Type)
			continue
		}
		moves, at, evs = append(moves, tr), append(at, i), append(evs, e)
	}
	if len(moves) == 0 {
		return errs
	}
	moved, terrs := s.store.transitionBatch(ctx, moves, time.Now())
	for j, i := range at {
		e := evs[j]
		switch err := terrs[j]; {
		case errors.Is(err, ErrNotFound):
			s.unknownOutcomes.Add(1)
			s.log.Debug("stock outcome for an order this service does not hold, skipped", "order_id", e.OrderID, "event_id", e.EventID, "type", e.Type)
		case err != nil:
			errs[i] = err
		case moved[j]:
			s.log.Debug("order moved", "order_id", e.OrderID, "status", moves[j].to, "event_id", e.EventID)
		default:
			s.log.Debug("stock outcome for settled order ignored", "order_id", e.OrderID, "event_id", e.EventID, "type", e.Type)
		}
	}
	return errs
}

// runConsumer connects the stock-outcome consumer (dead letters go through
// the service's producer), retrying with backoff while Kafka is down, and
// runs it until ctx ends.
func (s *Service) runConsumer(ctx context.Context) {
	var c *messaging.Consumer
	for attempt := 1; c == nil; attempt++ {
		dl, err := s.pub.producerCtx(ctx)
		if err == nil {
			c, err = messaging.NewBatchConsumer(messaging.ConsumerConfig{
				Kafka: s.cfg.Kafka, Group: s.cfg.Group, Topics: StockOutcomeTopics, DeadLetter: dl, MaxAttempts: s.cfg.MaxAttempts,
				MaxUnclassifiedAttempts: s.cfg.MaxUnclassifiedAttempts,
			}, telemetry.BatchConsumerHandler(s.cfg.Tracing, messaging.ErrNotAttempted,
				s.metrics.BatchConsumerHandler(messaging.ErrNotAttempted, s.HandleStockOutcomeBatch)), s.log)
		}
		if ctx.Err() != nil {
			if c != nil {
				_ = c.Run(ctx) // closes the group client
			}
			return
		}
		if err != nil {
			wait := min(100*time.Millisecond<<min(attempt-1, 5), 2*time.Second)
			s.log.Warn("stock-outcome consumer: connect failed, retrying", "err", err, "attempt", attempt, "wait", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
	s.consumer.Store(c)
	s.log.Info("stock-outcome consumer running", "group", s.cfg.Group, "topics", StockOutcomeTopics)
	_ = c.Run(ctx)
}
