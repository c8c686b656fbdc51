package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := stack.ConfigFromEnv()
	cfg.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	return st
}

func send(t *testing.T, p *messaging.Producer, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	msg, err := events.Record(events.Event{
		EventID: "bypass-" + time.Now().Format(time.RFC3339Nano), Type: events.OrderPlaced,
		OrderID: "bypass-order", SKU: "SKU-1", Quantity: 1, OccurredAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	msg.Topic = events.TopicDeadLetter // no service consumes it
	return p.Send(ctx, msg)
}

// TestKafkaProxyCannotBeBypassed proves that Kafka clients reach the broker
// only through the proxies: the metadata names only proxy addresses, and
// disabling a service's Kafka proxy stops that service's Kafka traffic.
func TestKafkaProxyCannotBeBypassed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	st := startStack(t)

	// Metadata seen by a client bootstrapped on the advertised address.
	sc, err := messaging.SaramaConfig(messaging.Config{Brokers: st.KafkaBrokers})
	if err != nil {
		t.Fatal(err)
	}
	client, err := sarama.NewClient(st.KafkaBrokers, sc)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	for _, b := range client.Brokers() {
		if b.Addr() != st.KafkaBrokers[0] {
			t.Fatalf("metadata advertises %s, want only the proxy address %s: clients would bypass the proxy", b.Addr(), st.KafkaBrokers[0])
		}
	}

	// A producer on order-service's path (same route as the service).
	p, err := messaging.NewProducer(messaging.Config{Brokers: st.KafkaBrokers, Route: st.OrderKafkaRoute, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if err := send(t, p, 10*time.Second); err != nil {
		t.Fatalf("send with the proxy enabled: %v", err)
	}

	ctx := context.Background()
	undo, err := st.Faults.Down(ctx, stack.ProxyOrderKafka)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo(context.Background()) })
	if err := send(t, p, 3*time.Second); err == nil {
		t.Fatal("a record was acknowledged with order-kafka disabled: the client bypassed the proxy")
	}

	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := send(t, p, 3*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no send succeeded within 20s after re-enabling the proxy: %v", err)
		}
	}
}

// TestRestoreLeavesForeignProxiesAlone starts a stack on a "shared"
// Toxiproxy server that already holds someone else's proxy (disabled, with
// a toxic, named like a docker-compose one), faults the stack's own
// proxies, and restores: the stack's proxies come back clean, the foreign
// one is exactly as it was, and Close removes only the stack's proxies.
func TestRestoreLeavesForeignProxiesAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	url, stop, err := stack.ServeToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	shared := faults.NewInjector(url)
	foreign, err := shared.Client().CreateProxy("compose-foreign", "127.0.0.1:0", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := foreign.AddToxic("foreign-latency", faults.TypeLatency, "downstream", 1, toxiclient.Attributes{"latency": 1000}); err != nil {
		t.Fatal(err)
	}
	if err := foreign.Disable(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := stack.Config{ToxiproxyURL: url, Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = st.Close()
		}
	})
	if _, err := st.Faults.Down(ctx, stack.ProxyInventoryHTTP); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Faults.Latency(ctx, stack.ProxyOrderKafka, time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckRestored(ctx); err == nil {
		t.Fatal("CheckRestored = nil with two proxies faulted")
	}
	if err := st.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckRestored(ctx); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	checkForeign := func(when string) {
		t.Helper()
		f, err := shared.Inspect(ctx, "compose-foreign")
		if err != nil || f.Enabled || len(f.Toxics) != 1 || f.Toxics[0].Name != "foreign-latency" {
			t.Fatalf("compose-foreign %s = %+v, %v; want still disabled with its latency toxic", when, f, err)
		}
	}
	checkForeign("after Restore")
	closed = true
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	checkForeign("after Close")
	left, err := shared.Proxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 {
		t.Fatalf("proxies left on the shared server after Close: %d, want only compose-foreign", len(left))
	}
}

// TestNotificationConsumesThroughItsOwnProxy: notification-service runs in
// the stack, in its own consumer group, and reaches the broker only
// through notification-kafka. An async order is notified once; with that
// proxy down the next order is reserved by inventory (its own link and
// group) but not notified, and is notified once the proxy is back.
func TestNotificationConsumesThroughItsOwnProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	st := startStack(t)
	if st.NotificationURL() == "" || st.NotificationGroup == "" || st.NotificationGroup == st.InventoryGroup {
		t.Fatalf("notification-service URL %q, group %q (inventory's %q): want its own", st.NotificationURL(), st.NotificationGroup, st.InventoryGroup)
	}
	for _, b := range st.Brokers {
		if b.NotificationProxy == "" || !slices.Contains(st.Proxies(), b.NotificationProxy) || !slices.Contains(b.Proxies(), b.NotificationProxy) {
			t.Fatalf("broker %d: notification proxy %q not created or not among the broker's proxies %v", b.ID, b.NotificationProxy, b.Proxies())
		}
	}
	ctx := t.Context()
	notified := func(id string) int {
		var n struct {
			Sends int `json:"sends"`
		}
		resp, err := http.Get(st.NotificationURL() + "/notifications/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return 0
		}
		if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /notifications/%s: %d %v", id, resp.StatusCode, err)
		}
		return n.Sends
	}
	orderStatus := func(id string) string {
		var o struct {
			Status string `json:"status"`
		}
		resp, err := http.Get(st.OrderAsyncURL + "/orders/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&o)
		return o.Status
	}
	place := func() string {
		resp, err := http.Post(st.OrderAsyncURL+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var o struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != http.StatusAccepted || o.ID == "" {
			t.Fatalf("POST /orders: %d %+v %v", resp.StatusCode, o, err)
		}
		return o.ID
	}

	first := place()
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		n := notified(first)
		return n == 1, fmt.Sprintf("order %s notified %d times, want 1", first, n)
	})

	undo, err := st.Faults.Down(ctx, stack.ProxyNotificationKafka)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo(context.Background()) })
	second := place()
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		s := orderStatus(second)
		return s == "CONFIRMED", fmt.Sprintf("order %s is %s with notification-kafka down, want CONFIRMED (inventory has its own link)", second, s)
	})
	if n := notified(second); n != 0 {
		t.Fatalf("order %s notified %d times with notification-kafka down: the proxy was bypassed", second, n)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		n := notified(second)
		return n == 1, fmt.Sprintf("order %s notified %d times after notification-kafka came back, want 1", second, n)
	})
}
