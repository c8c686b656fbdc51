package messaging

import (
	"context"
	"errors"
	"fmt"

	"github.com/eapache/go-resiliency/breaker"

	"github.com/faultline-harness/faultline/services/events"
)

// SendBatch publishes msgs pipelined: every record is handed to sarama's
// AsyncProducer before any acknowledgement is awaited, so many records are
// in flight at once (sarama batches them per partition; the idempotent
// producer and acks=all are kept, and records of one partition keep their
// order).
//
// It returns one error per message, in the order of msgs: nil when the
// broker acknowledged that record, the broker/client error when sarama gave
// up on it (after Producer.Retry.Max retries; test with IsPermanent), or
// ctx.Err() for every record when ctx has already ended, and for records whose outcome was not known when ctx ended (they
// may still be written later: at least once). ErrClosed for every record
// after Close. The slice is nil only when msgs is empty.
func (p *Producer) SendBatch(ctx context.Context, msgs []events.Message) []error {
	if len(msgs) == 0 {
		return nil
	}
	errs := make([]error, len(msgs))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	acks := make([]chan error, len(msgs))
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		for i := range errs {
			errs[i] = ErrClosed
		}
		return errs
	}
	ap := p.ap
	handed := 0
	for i, m := range msgs {
		pm := ToSarama(m)
		acks[i] = make(chan error, 1)
		pm.Metadata = acks[i]
		select {
		case ap.Input() <- pm:
			handed++
			continue
		case <-ctx.Done():
		}
		break
	}
	p.mu.RUnlock()
	rebuild := false
	for i := range msgs {
		if i >= handed {
			errs[i] = ctx.Err()
			continue
		}
		select {
		case err := <-acks[i]:
			if err != nil {
				rebuild = rebuild || errors.Is(err, breaker.ErrBreakerOpen)
				errs[i] = fmt.Errorf("produce to %s: %w", msgs[i].Topic, err)
			}
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	if rebuild {
		p.rebuild(ap)
	}
	return errs
}
