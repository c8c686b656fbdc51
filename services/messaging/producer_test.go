package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

func TestProducerSendIsAcknowledgedAndRoundTrips(t *testing.T) {
	topic, kc, p := startTopic(t, 3)
	want := record(t, topic, "order-1", 1)
	send(t, p, want)

	var h handled
	startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}}, h.handler())
	testkit.Eventually(t, 20*time.Second, func() (bool, string) { return h.count() == 1, fmt.Sprintf("consumed %d/1", h.count()) })
	got := h.All()[0]
	if got.Topic != want.Topic || got.Key != want.Key || string(got.Value) != string(want.Value) ||
		got.Header(events.HeaderEventID) != want.Header(events.HeaderEventID) || got.Header(events.HeaderContentType) != events.ContentType {
		t.Fatalf("consumed %+v, want %+v", got, want)
	}
}

// TestProducerSendNeverBlocksOnABlackholedBroker puts a Toxiproxy timeout
// toxic (a blackhole: bytes are held, connections stay open) between the
// producer and kfake: Send returns at its context's deadline, and sends
// succeed again once the toxic is gone.
func TestProducerSendNeverBlocksOnABlackholedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka and Toxiproxy")
	}
	topic := testkit.Uniq(t, "topic")
	c := testkit.StartKafka(t, 1, []string{topic})
	tp := testkit.Toxiproxy(t)
	proxy, err := tp.CreateProxy("kafka", "127.0.0.1:0", c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	// The broker advertises its own address: route it through the proxy.
	kc := fastConfig(t, []string{proxy.Listen})
	kc.Route = map[string]string{c.ListenAddrs()[0]: proxy.Listen}
	p := newProducer(t, kc)
	send(t, p, record(t, topic, "before", 1))

	if _, err := proxy.AddToxic("blackhole", "timeout", "upstream", 1, map[string]any{"timeout": 0}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		err := p.Send(ctx, record(t, topic, "during", i))
		cancel()
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) || took > 1500*time.Millisecond {
			t.Fatalf("send %d into the blackhole: %v after %v, want the 500ms deadline", i, err, took)
		}
	}
	if err := proxy.RemoveToxic("blackhole"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := p.Send(ctx, record(t, topic, "after", 1))
		return err == nil, fmt.Sprintf("send after the blackhole: %v", err)
	})
	start := time.Now()
	if err := p.Close(); err != nil || time.Since(start) > 15*time.Second {
		t.Fatalf("Close = %v after %v", err, time.Since(start))
	}
}

func TestProducerSendHonoursACancelledContext(t *testing.T) {
	topic, _, p := startTopic(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either select branch may win the race with a live broker; the
	// answer is always prompt and never a silent success claim after
	// cancellation was seen first.
	start := time.Now()
	err := p.Send(ctx, record(t, topic, "o", 1))
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("Send with a cancelled context took %v", time.Since(start))
	}
}

func TestProducerSendAfterClose(t *testing.T) {
	topic, _, p := startTopic(t, 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Send(ctx, record(t, topic, "o", 1)); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
}

func TestNewProducerFailsWithoutABroker(t *testing.T) {
	kc := fastConfig(t, []string{fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))})
	kc.DialTimeout = 200 * time.Millisecond
	start := time.Now()
	if p, err := messaging.NewProducer(kc); err == nil {
		p.Close()
		t.Fatal("NewProducer without a broker succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("NewProducer gave up after %v", took)
	}
	if _, err := messaging.NewProducer(messaging.Config{}); err == nil {
		t.Fatal("NewProducer without brokers succeeded")
	}
}

// TestOneOrderOnePartitionInOrder: records keyed by order ID land on one
// partition, in the order they were sent, whatever else is interleaved;
// the consumer group then handles each order's records in that order.
func TestOneOrderOnePartitionInOrder(t *testing.T) {
	topic, kc, p := startTopic(t, 6)
	const orders, perOrder = 8, 15
	for seq := range perOrder {
		for o := range orders {
			send(t, p, record(t, topic, fmt.Sprintf("order-%d", o), seq))
		}
	}

	// On the broker: one partition per order, sequence in offset order.
	sc, err := messaging.SaramaConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	sc.Consumer.Return.Errors = false
	raw, err := sarama.NewConsumer(kc.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	partitionOf := map[string]int32{}
	for part := range int32(6) {
		pc, err := raw.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		hw := pc.HighWaterMarkOffset()
		last := map[string]int{}
		for n := int64(0); n < hw; n++ {
			select {
			case cm := <-pc.Messages():
				key, seq := string(cm.Key), seqOf(t, cm.Value)
				if q, ok := partitionOf[key]; ok && q != part {
					t.Errorf("order %s on partitions %d and %d", key, q, part)
				}
				partitionOf[key] = part
				if prev, ok := last[key]; ok && seq != prev+1 {
					t.Errorf("order %s: event %d stored after %d on partition %d", key, seq, prev, part)
				}
				last[key] = seq
			case <-time.After(10 * time.Second):
				t.Fatalf("partition %d: read %d/%d records", part, n, hw)
			}
		}
		pc.Close()
	}
	if len(partitionOf) != orders {
		t.Fatalf("found %d orders on the broker, want %d", len(partitionOf), orders)
	}

	// Through the consumer group: each order handled in sequence.
	var h handled
	startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}}, h.handler())
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		return h.count() == orders*perOrder, fmt.Sprintf("consumed %d/%d", h.count(), orders*perOrder)
	})
	last := map[string]int{}
	for _, m := range h.All() {
		seq := seqOf(t, m.Value)
		if prev, ok := last[m.Key]; ok && seq != prev+1 {
			t.Fatalf("order %s: event %d handled after %d", m.Key, seq, prev)
		}
		last[m.Key] = seq
	}
}

// seqOf returns the sequence number record put in the event ID.
func seqOf(t testing.TB, value []byte) int {
	t.Helper()
	e, err := events.Decode(value)
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(e.EventID, "#")
	n, err := strconv.Atoi(after)
	if err != nil {
		t.Fatalf("event id %q: %v", e.EventID, err)
	}
	return n
}
