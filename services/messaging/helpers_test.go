package messaging_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// uniq returns a name unique to this test and call.
func uniq(t testing.TB, what string) string {
	return fmt.Sprintf("%s-%s-%d", what, strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startKafka starts a one-broker kfake cluster with topics of the given
// partition count; extra options (Ports, DataDir) are appended. It is
// closed on cleanup.
func startKafka(t testing.TB, partitions int32, topics []string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// fastConfig has short timeouts so failure paths finish quickly.
func fastConfig(t testing.TB, brokers []string) messaging.Config {
	return messaging.Config{Brokers: brokers, ClientID: uniq(t, "client"), DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, RetryBackoff: 50 * time.Millisecond}
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

// handled records what a handler saw, in order. Safe for concurrent use.
type handled struct {
	mu   sync.Mutex
	msgs []events.Message
}

func (h *handled) add(m events.Message) {
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

func (h *handled) eventIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.msgs))
	for i, m := range h.msgs {
		out[i] = m.Header(events.HeaderEventID)
	}
	return out
}

func (h *handled) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
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

// eventually polls cond every 20ms until it holds or timeout passes, then
// fails with cond's last progress message.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, progress := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %v: %s", timeout, progress)
		}
		<-tick.C
	}
}

// toxiproxyServer starts an in-process Toxiproxy and returns a client.
func toxiproxyServer(t testing.TB) *toxiclient.Client {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.New(io.Discard).Level(zerolog.ErrorLevel))
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() { api.Close(); _ = srv.Collection.Clear() })
	return toxiclient.NewClient(api.URL)
}
