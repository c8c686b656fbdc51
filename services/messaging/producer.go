package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/services/events"
)

// Producer sends records and waits for the broker's acknowledgement
// (acks=all), with a context. It is safe for concurrent use.
//
// Delivery: at least once. When Send returns nil the broker acknowledged
// the record. When Send returns ctx.Err() the record may still be written
// later by sarama's retries: callers must treat that as "unknown" and
// consumers must be idempotent.
type Producer struct {
	ap      sarama.AsyncProducer
	done    chan struct{}
	closeMu sync.Once
}

// NewProducer connects an idempotent producer. It fails when no broker
// answers within the configured dial/read timeouts.
func NewProducer(c Config) (*Producer, error) {
	sc, err := SaramaConfig(c)
	if err != nil {
		return nil, err
	}
	ap, err := sarama.NewAsyncProducer(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect kafka producer to %v: %w", c.Brokers, err)
	}
	p := &Producer{ap: ap, done: make(chan struct{})}
	go p.dispatch()
	return p, nil
}

// dispatch routes each acknowledgement or error to the Send call waiting
// for it (carried in ProducerMessage.Metadata).
func (p *Producer) dispatch() {
	defer close(p.done)
	succ, errs := p.ap.Successes(), p.ap.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			if ch, ok := m.Metadata.(chan error); ok {
				ch <- nil
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if ch, ok := e.Msg.Metadata.(chan error); ok {
				ch <- e.Err
			}
		}
	}
}

// ToSarama converts a broker-neutral message to a sarama record.
func ToSarama(m events.Message) *sarama.ProducerMessage {
	hs := make([]sarama.RecordHeader, 0, len(m.Headers))
	for _, h := range m.Headers {
		hs = append(hs, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
	}
	return &sarama.ProducerMessage{
		Topic:   m.Topic,
		Key:     sarama.StringEncoder(m.Key),
		Value:   sarama.ByteEncoder(m.Value),
		Headers: hs,
	}
}

// FromSarama converts a consumed record to a broker-neutral message.
func FromSarama(cm *sarama.ConsumerMessage) events.Message {
	hs := make([]events.Header, 0, len(cm.Headers))
	for _, h := range cm.Headers {
		if h == nil {
			continue
		}
		hs = append(hs, events.Header{Key: string(h.Key), Value: string(h.Value)})
	}
	return events.Message{Topic: cm.Topic, Key: string(cm.Key), Value: cm.Value, Headers: hs}
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("producer closed")

// Send publishes m and waits for the acknowledgement. It returns nil once
// acknowledged, the broker/client error when sarama gave up (after its
// Producer.Retry.Max retries), or ctx.Err() when ctx ended first.
func (p *Producer) Send(ctx context.Context, m events.Message) (err error) {
	pm := ToSarama(m)
	ack := make(chan error, 1)
	pm.Metadata = ack
	defer func() {
		// Input() panics once the producer is closed.
		if r := recover(); r != nil {
			err = ErrClosed
		}
	}()
	select {
	case p.ap.Input() <- pm:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ack:
		if err != nil {
			return fmt.Errorf("produce to %s: %w", m.Topic, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes in-flight records (bounded by the configured timeouts),
// delivers their outcome to waiting Send calls and releases the
// connections. It always returns nil; per-record errors go to Send.
func (p *Producer) Close() error {
	p.closeMu.Do(func() {
		// AsyncClose keeps Successes/Errors flowing to dispatch, so every
		// waiting Send gets its outcome; dispatch ends when both close.
		p.ap.AsyncClose()
		<-p.done
	})
	return nil
}
