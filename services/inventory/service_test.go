package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
)

// newKafka starts an in-process single-broker Kafka with every topic.
func newKafka(t testing.TB) messaging.Config {
	t.Helper()
	return messaging.Config{Brokers: testkit.StartKafka(t, 3, events.AllTopics).ListenAddrs(), ClientID: t.Name()}
}

// tail reads every partition of topic from the oldest offset into one
// channel until the test ends.
func tail(t testing.TB, kafka messaging.Config, topic string) <-chan events.Message {
	t.Helper()
	sc, err := messaging.SaramaConfig(kafka)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := sarama.NewConsumer(kafka.Brokers, sc)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	parts, err := cons.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	out := make(chan events.Message, 100)
	stop := make(chan struct{})
	var pcs []sarama.PartitionConsumer
	var wg sync.WaitGroup
	for _, p := range parts {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		pcs = append(pcs, pc)
		wg.Go(func() {
			for cm := range pc.Messages() {
				select {
				case out <- messaging.FromSarama(cm):
				case <-stop:
				}
			}
		})
	}
	t.Cleanup(func() {
		close(stop)
		for _, pc := range pcs {
			_ = pc.Close() // drains and closes Messages, ending the goroutine
		}
		wg.Wait()
		_ = cons.Close()
	})
	return out
}

// await returns the first message from ch for which match is true, failing
// after timeout with what it saw instead.
func await(t testing.TB, ch <-chan events.Message, timeout time.Duration, what string, match func(events.Message) bool) events.Message {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case m := <-ch:
			if match(m) {
				return m
			}
			seen = append(seen, m.Key)
		case <-deadline:
			t.Fatalf("no %s within %s; saw %d other records with keys %v", what, timeout, len(seen), seen)
		}
	}
}

// awaitStats polls GET /stats until cond holds or the deadline passes.
func awaitStats(t testing.TB, base string, timeout time.Duration, cond func(map[string]int) bool) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last map[string]int
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/stats")
		if err == nil {
			last = nil
			_ = json.NewDecoder(resp.Body).Decode(&last)
			resp.Body.Close()
			if cond(last) {
				return
			}
		}
		select {
		case <-time.After(50 * time.Millisecond): // poll interval, not a wait for the condition
		case <-t.Context().Done():
			return
		}
	}
	t.Fatalf("stats condition not met within %s; last stats %v", timeout, last)
}

func TestServiceWithKafka(t *testing.T) {
	kafka := newKafka(t)
	id := strings.ReplaceAll(t.Name(), "/", "-") + fmt.Sprint(time.Now().UnixNano())
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{Kafka: kafka, Group: "inventory-" + id})
	base, ctx := serve(t, svc)

	reserved := tail(t, kafka, events.TopicStockReserved)
	dead := tail(t, kafka, events.TopicDeadLetter)
	prod := newProducer(t, kafka)
	send := func(m events.Message) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		if err := prod.Send(sctx, m); err != nil {
			t.Fatalf("produce %s: %v", m.Key, err)
		}
	}

	// A valid order is reserved and answered on stock-reserved.
	order1 := "order-1-" + id
	send(orderPlaced(t, order1, "SKU-A", 3))
	m := await(t, reserved, 30*time.Second, "stock-reserved for "+order1, func(m events.Message) bool { return m.Key == order1 })
	if e := decodeOutcome(t, m); e.EventID != "stock-reserved:"+order1 || e.Quantity != 3 {
		t.Errorf("outcome %+v", e)
	}
	if m.Header(events.HeaderContentType) != events.ContentType {
		t.Errorf("content-type header %q", m.Header(events.HeaderContentType))
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 7 {
		t.Errorf("available %d, want 7", n)
	}

	// A poison record goes to the dead-letter topic and does not block the
	// valid record behind it on the same partition (same key).
	order2 := "order-2-" + id
	send(events.Message{Topic: events.TopicOrderPlaced, Key: order2, Value: []byte("{not json"),
		Headers: []events.Header{{Key: events.HeaderContentType, Value: events.ContentType}}})
	send(orderPlaced(t, order2, "SKU-A", 2))
	dl := await(t, dead, 30*time.Second, "dead letter for "+order2, func(m events.Message) bool { return m.Key == order2 })
	if string(dl.Value) != "{not json" || dl.Header("dlq-source-topic") != events.TopicOrderPlaced ||
		!strings.Contains(dl.Header("dlq-reason"), events.ErrInvalid.Error()) || dl.Header(events.HeaderContentType) != events.ContentType {
		t.Errorf("dead letter %+v: want the original value and headers plus dlq-source-topic and dlq-reason", dl)
	}
	await(t, reserved, 30*time.Second, "stock-reserved for "+order2, func(m events.Message) bool { return m.Key == order2 })
	if n := available(t, svc.Store(), "SKU-A"); n != 5 {
		t.Errorf("available %d, want 5", n)
	}
	awaitStats(t, base, 10*time.Second, func(s map[string]int) bool {
		return s["reserved"] == 2 && s["dead_lettered"] == 1 && s["consumer_lag"] == 0 && s["duplicated_effects"] == 0
	})
}

func TestRunFailsWithoutBroker(t *testing.T) {
	// A port nobody listens on: take a free one and release it.
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()

	svc := newService(t, map[string]int{"SKU-A": 1}, inventory.Config{
		Kafka: messaging.Config{Brokers: []string{addr}, DialTimeout: 200 * time.Millisecond, RetryBackoff: 10 * time.Millisecond},
	})
	httpLn := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := svc.Run(ctx, httpLn); err == nil {
		t.Fatal("Run with an unreachable broker returned nil, want an error")
	}
	if _, err := net.Dial("tcp", httpLn.Addr().String()); err == nil {
		t.Error("Run left its listener open after failing")
	}
}
