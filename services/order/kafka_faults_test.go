package order

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// kafkaBehindProxy starts kfake and an in-process Toxiproxy in front of
// it, and returns a Kafka config whose every connection (bootstrap and the
// advertised broker address) goes through the proxy, and the proxy.
func kafkaBehindProxy(t *testing.T) (messaging.Config, *toxiclient.Proxy) {
	t.Helper()
	cluster := testkit.StartKafka(t, 3, events.AllTopics)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.New(io.Discard).Level(zerolog.ErrorLevel))
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() { api.Close(); _ = srv.Collection.Clear() })
	broker := cluster.ListenAddrs()[0]
	proxy, err := toxiclient.NewClient(api.URL).CreateProxy("kafka", "127.0.0.1:0", broker)
	if err != nil {
		t.Fatal(err)
	}
	return messaging.Config{
		Brokers: []string{proxy.Listen}, ClientID: "order-test", Route: map[string]string{broker: proxy.Listen},
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, RetryBackoff: 50 * time.Millisecond,
	}, proxy
}

func getStats(t *testing.T, base string) statsBody {
	t.Helper()
	resp, err := http.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st statsBody
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func postHTTP(t *testing.T, base string) (Order, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res := httpResult{resp.StatusCode, resp.Header, readAll(t, resp.Body)}
	if res.status != http.StatusAccepted {
		t.Fatalf("POST /orders = %d %s", res.status, res.body)
	}
	return res.order(t), time.Since(start)
}

// TestRelayNeverBlocksOnABlackholedBroker: with a Toxiproxy timeout toxic
// (data held, connections open) between order-service and Kafka, orders
// are still accepted at once, every publish gives up at its deadline and
// is retried with backoff, no row is marked published, and everything is
// published once the blackhole is gone.
func TestRelayNeverBlocksOnABlackholedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka and Toxiproxy")
	}
	kc, proxy := kafkaBehindProxy(t)
	const publishTimeout = 500 * time.Millisecond
	base, svc := runService(t, Config{Mode: ModeAsync, Kafka: kc, Group: "order-test-" + uuid.NewString(),
		DBPath: filepath.Join(t.TempDir(), "orders.db"), PublishTimeout: publishTimeout})
	postHTTP(t, base)
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		st := getStats(t, base)
		return st.OutboxBacklog == 0 && st.OutboxPublished == 1, fmt.Sprintf("backlog %d, published %d", st.OutboxBacklog, st.OutboxPublished)
	})

	if _, err := proxy.AddToxic("blackhole", "timeout", "upstream", 1, toxiclient.Attributes{"timeout": 0}); err != nil {
		t.Fatal(err)
	}
	failsBefore := svc.Relay().Failures()
	var ids []string
	for range 3 {
		o, took := postHTTP(t, base)
		if took > time.Second {
			t.Fatalf("POST /orders took %v with Kafka blackholed, want an immediate 202", took)
		}
		ids = append(ids, o.ID)
	}
	// Each failed round is one publish that gave up at its deadline:
	// several rounds in a few seconds means no send blocks.
	start := time.Now()
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		n := svc.Relay().Failures() - failsBefore
		return n >= 3, fmt.Sprintf("%d/3 publish rounds failed", n)
	})
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("3 failed publish rounds took %v: sends are not bounded by the %v deadline", took, publishTimeout)
	}
	if st := getStats(t, base); st.OutboxBacklog != 3 || st.OutboxPublished != 1 {
		t.Fatalf("during the blackhole: backlog %d, published %d; want 3 unpublished rows, none marked", st.OutboxBacklog, st.OutboxPublished)
	}

	if err := proxy.RemoveToxic("blackhole"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		st := getStats(t, base)
		return st.OutboxBacklog == 0, fmt.Sprintf("backlog %d after the blackhole", st.OutboxBacklog)
	})
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	msgs := consumeAll(t, kc, events.TopicOrderPlaced)
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-msgs:
			delete(want, string(m.Key))
		case <-deadline:
			t.Fatalf("order-placed missing on Kafka for %v", want)
		}
	}
}

// TestStockOutcomesPoisonAndRedelivery: on order-service's stock-outcome
// consumer, a poison record goes to the dead-letter topic and the records
// behind it are still applied; the same outcome delivered five times moves
// the order once. (A late contradicting outcome travels on another topic,
// so its order against these is not defined: the unit test
// TestHandleStockOutcomeConfirmsOnce covers it.)
func TestStockOutcomesPoisonAndRedelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	base, svc, kc := runAsyncWithKafka(t)
	o, _ := postHTTP(t, base)

	p, err := messaging.NewProducer(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	send := func(m events.Message) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Same key, so the same partition: the poison sits in front of the rest.
	send(events.Message{Topic: events.TopicStockReserved, Key: o.ID, Value: []byte(`{"event_id":"broken"`)})
	reserved := outcome(t, events.StockReserved, o.ID, "")
	for range 5 {
		send(reserved)
	}

	var confirmed Order
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		got, err := svc.Store().Get(context.Background(), o.ID)
		confirmed = got
		return err == nil && got.Status == StatusConfirmed, fmt.Sprintf("order %+v, %v", got, err)
	})
	dead := consumeAll(t, kc, events.TopicDeadLetter)
	select {
	case m := <-dead:
		dl := messaging.FromSarama(m)
		if dl.Key != o.ID || string(dl.Value) != `{"event_id":"broken"` || dl.Header("dlq-source-topic") != events.TopicStockReserved || dl.Header("dlq-reason") == "" {
			t.Fatalf("dead letter %+v", dl)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no dead letter for the poison record")
	}
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		c := svc.consumer.Load()
		if c == nil {
			return false, "consumer not running"
		}
		return c.Handled() >= 5 && c.DeadLettered() == 1, fmt.Sprintf("handled %d/5, dead-lettered %d/1", c.Handled(), c.DeadLettered())
	})
	if got, _ := svc.Store().Get(context.Background(), o.ID); got != confirmed {
		t.Fatalf("redelivered outcomes changed the order: %+v, was %+v", got, confirmed)
	}
}
