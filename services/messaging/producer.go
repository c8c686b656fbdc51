package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"

	"github.com/faultline-harness/faultline/services/events"
)

// Producer sends records and waits for the broker's acknowledgement
// (acks=all), with a context. It is safe for concurrent use.
//
// Delivery: at least once. When Send returns nil the broker acknowledged
// the record. When Send returns ctx.Err() the record may still be written
// later by sarama's retries: callers must treat that as "unknown" and
// consumers must be idempotent.
//
// Recovery: sarama's partition producers hold an internal circuit breaker
// (3 errors open it for 10 s, not configurable). After a broker outage that
// would keep every send failing for up to 10 s after the broker is back,
// so when a send fails with breaker.ErrBreakerOpen the Producer replaces
// its sarama producer (at most once per RebuildInterval).
type Producer struct {
	cfg         Config
	mu          sync.RWMutex // guards ap/done; Send holds it shared while handing a record to sarama
	ap          sarama.AsyncProducer
	done        chan struct{}
	lastRebuild time.Time
	closed      bool
	rebuilds    atomic.Int64
}

// RebuildInterval is the least time between two producer rebuilds.
const RebuildInterval = time.Second

// NewProducer connects an idempotent producer. It fails when no broker
// answers within the configured dial/read timeouts.
func NewProducer(c Config) (*Producer, error) {
	ap, done, err := connect(c)
	if err != nil {
		return nil, err
	}
	return &Producer{cfg: c, ap: ap, done: done, lastRebuild: time.Now()}, nil
}

func connect(c Config) (sarama.AsyncProducer, chan struct{}, error) {
	sc, err := SaramaConfig(c)
	if err != nil {
		return nil, nil, err
	}
	ap, err := sarama.NewAsyncProducer(c.Brokers, sc)
	if err != nil {
		return nil, nil, fmt.Errorf("connect kafka producer to %v: %w", c.Brokers, err)
	}
	done := make(chan struct{})
	go dispatch(ap, done)
	return ap, done, nil
}

// Rebuilds counts how often the sarama producer was replaced.
func (p *Producer) Rebuilds() int64 { return p.rebuilds.Load() }

// rebuild replaces the sarama producer if failed is still the current one
// and the last rebuild is older than RebuildInterval. A failed connect
// keeps the old producer (the next failed send tries again).
func (p *Producer) rebuild(failed sarama.AsyncProducer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ap != failed || time.Since(p.lastRebuild) < RebuildInterval {
		return
	}
	p.lastRebuild = time.Now()
	ap, done, err := connect(p.cfg)
	if err != nil {
		return
	}
	old, oldDone := p.ap, p.done
	p.ap, p.done = ap, done
	p.rebuilds.Add(1)
	go func() { old.AsyncClose(); <-oldDone }() // waiting sends still get their outcome
}

// dispatch routes each acknowledgement or error to the Send call waiting
// for it (carried in ProducerMessage.Metadata), until ap is closed.
func dispatch(ap sarama.AsyncProducer, done chan struct{}) {
	defer close(done)
	succ, errs := ap.Successes(), ap.Errors()
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
func (p *Producer) Send(ctx context.Context, m events.Message) error {
	pm := ToSarama(m)
	ack := make(chan error, 1)
	pm.Metadata = ack
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return ErrClosed
	}
	ap := p.ap
	select {
	case ap.Input() <- pm:
		p.mu.RUnlock()
	case <-ctx.Done():
		p.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-ack:
		if err != nil {
			if errors.Is(err, breaker.ErrBreakerOpen) {
				p.rebuild(ap)
			}
			return fmt.Errorf("produce to %s: %w", m.Topic, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes in-flight records (bounded by the configured timeouts),
// delivers their outcome to waiting Send calls and releases the
// connections. Safe to call twice. It always returns nil; per-record
// errors go to Send.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ap, done := p.ap, p.done
	p.mu.Unlock()
	// AsyncClose keeps Successes/Errors flowing to dispatch, so every
	// waiting Send gets its outcome; dispatch ends when both close.
	ap.AsyncClose()
	<-done
	return nil
}
