package order

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestAsyncEndToEndWithKafka runs the async service against an in-process
// Kafka: POST /orders -> order-placed on Kafka -> stock-reserved -> CONFIRMED.
func TestAsyncEndToEndWithKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	cluster := testkit.StartKafka(t, 3, events.AllTopics)
	kcfg := messaging.Config{Brokers: cluster.ListenAddrs(), ClientID: "order-test"}

	base, _ := runService(t, asyncConfig(kcfg))
	resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":2}`))
	if err != nil {
		t.Fatal(err)
	}
	res := httpResult{resp.StatusCode, resp.Header, readAll(t, resp.Body)}
	resp.Body.Close()
	if res.status != http.StatusAccepted {
		t.Fatalf("POST /orders = %d %s", res.status, res.body)
	}
	o := res.order(t)

	// The relay publishes order-placed, keyed by order ID.
	msgs := consumeAll(t, kcfg, events.TopicOrderPlaced)
	var placed *sarama.ConsumerMessage
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		select {
		case m := <-msgs:
			if string(m.Key) == o.ID {
				placed = m
			}
		default:
		}
		return placed != nil, "order-placed for " + o.ID + " not on Kafka yet"
	})
	m := messaging.FromSarama(placed)
	e, err := events.Decode(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header(events.HeaderContentType) != events.ContentType || m.Header(events.HeaderEventType) != string(events.OrderPlaced) ||
		m.Header(events.HeaderEventID) != e.EventID || e.Type != events.OrderPlaced || e.OrderID != o.ID || e.SKU != "SKU-1" || e.Quantity != 2 {
		t.Fatalf("record headers %v, event %+v", m.Headers, e)
	}

	// Inventory answers: stock-reserved -> CONFIRMED.
	p, err := messaging.NewProducer(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Send(ctx, outcome(t, events.StockReserved, o.ID, "")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get(base + "/orders/" + o.ID)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		got := httpResult{resp.StatusCode, resp.Header, readAll(t, resp.Body)}
		return got.status == 200 && got.order(t).Status == StatusConfirmed, fmt.Sprintf("GET /orders/%s = %d %s", o.ID, got.status, got.body)
	})
}

// TestAsyncBrokerDownAtStart starts the service before Kafka exists: orders
// are accepted into the outbox, and published once the broker comes up.
func TestAsyncBrokerDownAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there until the cluster starts
	kcfg := messaging.Config{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, ClientID: "order-test"}
	var cluster *kfake.Cluster
	t.Cleanup(func() { // after the service stopped (cleanups run last-in first-out)
		if cluster != nil {
			cluster.Close()
		}
	})
	base, svc := runService(t, asyncConfig(kcfg))

	resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res := httpResult{resp.StatusCode, resp.Header, readAll(t, resp.Body)}
	resp.Body.Close()
	if res.status != http.StatusAccepted {
		t.Fatalf("POST /orders with Kafka down = %d %s", res.status, res.body)
	}
	o := res.order(t)
	backlog := func() (bool, string) {
		resp, err := http.Get(base + "/stats")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body := string(readAll(t, resp.Body))
		return strings.Contains(body, `"outbox_backlog":0`), "stats " + body
	}
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		return svc.Relay().Failures() >= 2, fmt.Sprintf("relay failed %d/2 times", svc.Relay().Failures())
	})
	if done, progress := backlog(); done {
		t.Fatalf("backlog empty with Kafka down: %s", progress)
	}

	cluster, err = kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(3, events.AllTopics...))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, backlog)
	msgs := consumeAll(t, kcfg, events.TopicOrderPlaced)
	select {
	case m := <-msgs:
		if string(m.Key) != o.ID {
			t.Fatalf("record key %q, want %s", m.Key, o.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("order-placed not on Kafka")
	}
}

// runService serves a new service on 127.0.0.1:0 until the test ends and
// checks that Run then returns nil (testkit.Serve). It returns the base URL.
func runService(t *testing.T, cfg Config) (string, *Service) {
	t.Helper()
	s := newService(t, cfg)
	base, _ := testkit.Serve(t, s.Run)
	return base, s
}

// consumeAll reads every partition of topic from the oldest offset.
func consumeAll(t *testing.T, kcfg messaging.Config, topic string) <-chan *sarama.ConsumerMessage {
	t.Helper()
	return testkit.ConsumeTopic(t, kcfg.Brokers, topic)
}
