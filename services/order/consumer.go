package order

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// StockOutcomeTopics are the topics the stock-outcome consumer reads.
var StockOutcomeTopics = []string{events.TopicStockReserved, events.TopicStockRejected}

// HandleStockOutcome applies one stock-reserved or stock-rejected record
// (a messaging.Handler). It moves the order from PENDING to CONFIRMED or
// REJECTED (reason from the event, default "rejected") and does nothing if
// the order is no longer PENDING, so duplicates and redeliveries are
// harmless.
//
// Returns nil when applied or skipped (unknown order ID: logged), an error
// wrapping events.ErrInvalid for a record that does not decode, fails
// validation or has another event type (dead-lettered by the consumer), or
// a store error (transient: the consumer retries).
func (s *Service) HandleStockOutcome(ctx context.Context, m events.Message) error {
	e, err := events.Decode(m.Value)
	if err != nil {
		return fmt.Errorf("stock outcome from %s key %q: %w", m.Topic, m.Key, err)
	}
	var to Status
	reason := ""
	switch e.Type {
	case events.StockReserved:
		to = StatusConfirmed
	case events.StockRejected:
		to, reason = StatusRejected, e.Reason
		if reason == "" {
			reason = "rejected"
		}
	default:
		return fmt.Errorf("%w: event %s of type %q is not a stock outcome", events.ErrInvalid, e.EventID, e.Type)
	}
	moved, err := s.store.transition(ctx, e.OrderID, to, reason, time.Now())
	switch {
	case errors.Is(err, ErrNotFound):
		s.log.Warn("stock outcome for unknown order, skipped", "order_id", e.OrderID, "event_id", e.EventID, "type", e.Type)
		return nil
	case err != nil:
		return err
	case moved:
		s.log.Debug("order moved", "order_id", e.OrderID, "status", to, "event_id", e.EventID)
	default:
		s.log.Debug("stock outcome for settled order ignored", "order_id", e.OrderID, "event_id", e.EventID, "type", e.Type)
	}
	return nil
}

// runConsumer connects the stock-outcome consumer (dead letters go through
// the service's producer), retrying with backoff while Kafka is down, and
// runs it until ctx ends.
func (s *Service) runConsumer(ctx context.Context) {
	var c *messaging.Consumer
	for attempt := 1; c == nil; attempt++ {
		dl, err := s.pub.producerCtx(ctx)
		if err == nil {
			c, err = messaging.NewConsumer(messaging.ConsumerConfig{
				Kafka: s.cfg.Kafka, Group: s.cfg.Group, Topics: StockOutcomeTopics, DeadLetter: dl,
			}, s.HandleStockOutcome, s.log)
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
