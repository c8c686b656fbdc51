package messaging_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// fastConfig has short timeouts so failure paths finish quickly.
func fastConfig(t testing.TB, brokers []string) messaging.Config {
	return messaging.Config{Brokers: brokers, ClientID: testkit.Uniq(t, "client"), DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, RetryBackoff: 50 * time.Millisecond}
}

// startTopic starts an in-process Kafka of partitions partitions holding a
// fresh topic (its name returned) and the topics in more, and returns a
// fastConfig for it and a producer closed on cleanup.
func startTopic(t testing.TB, partitions int32, more ...string) (topic string, kc messaging.Config, p *messaging.Producer) {
	t.Helper()
	topic = testkit.Uniq(t, "topic")
	c := testkit.StartKafka(t, partitions, append([]string{topic}, more...))
	kc = fastConfig(t, c.ListenAddrs())
	return topic, kc, newProducer(t, kc)
}

func newProducer(t testing.TB, c messaging.Config) *messaging.Producer {
	t.Helper()
	p, err := messaging.NewProducer(c)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func send(t testing.TB, p *messaging.Producer, m events.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Send(ctx, m); err != nil {
		t.Fatalf("send %s/%s: %v", m.Topic, m.Key, err)
	}
}

// record builds a valid record of the given type for order id with a
// sequence number in the event ID.
func record(t testing.TB, topic, orderID string, seq int) events.Message {
	t.Helper()
	typ := events.Type(topic)
	switch topic {
	case events.TopicOrderPlaced, events.TopicStockReserved, events.TopicStockRejected:
	default:
		typ = events.OrderPlaced
	}
	m, err := events.Record(events.Event{EventID: fmt.Sprintf("%s#%d", orderID, seq), Type: typ, OrderID: orderID,
		SKU: "SKU-1", Quantity: 1, OccurredAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	m.Topic = topic
	return m
}

// handled records what a handler saw, in order (testkit.Records). Safe
// for concurrent use.
type handled struct{ testkit.Records }

func (h *handled) add(m events.Message) { _ = h.Send(context.Background(), m) }

// handler records every record it is given and returns nil.
func (h *handled) handler() messaging.Handler { return h.Handle }

func (h *handled) eventIDs() []string {
	all := h.All()
	out := make([]string, len(all))
	for i, m := range all {
		out[i] = m.Header(events.HeaderEventID)
	}
	return out
}

func (h *handled) count() int { return len(h.All()) }

// startConsumer creates a consumer of cfg with handler h (failing the test
// on a config error) and runs it until the test ends (runConsumer).
func startConsumer(t testing.TB, cfg messaging.ConsumerConfig, h messaging.Handler) *messaging.Consumer {
	t.Helper()
	return started(t, func(log *slog.Logger) (*messaging.Consumer, error) { return messaging.NewConsumer(cfg, h, log) })
}

// startBatchConsumer is startConsumer for a messaging.BatchHandler.
func startBatchConsumer(t testing.TB, cfg messaging.ConsumerConfig, h messaging.BatchHandler) *messaging.Consumer {
	t.Helper()
	return started(t, func(log *slog.Logger) (*messaging.Consumer, error) { return messaging.NewBatchConsumer(cfg, h, log) })
}

// started creates a consumer with newConsumer and the test's logger,
// fails the test on an error and runs it until the test ends.
func started(t testing.TB, newConsumer func(*slog.Logger) (*messaging.Consumer, error)) *messaging.Consumer {
	t.Helper()
	c, err := newConsumer(testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	return c
}

// runConsumer runs c until the test ends and checks that Run returns nil
// promptly after cancel. It returns a stop function that does the same
// earlier (idempotent).
func runConsumer(t testing.TB, c *messaging.Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Consumer.Run = %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("Consumer.Run did not return within 20s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
