package telemetry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// provider returns a TracerProvider for service feeding col, shut down on
// cleanup.
func provider(t testing.TB, service string, col *telemetry.Collector) *sdktrace.TracerProvider {
	t.Helper()
	tp, err := telemetry.NewProvider(t.Context(), telemetry.Config{Service: service, Collector: col})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// serve runs run(ctx, ln) on a loopback listener until cleanup
// (testkit.Serve) and returns the base URL.
func serve(t testing.TB, run func(context.Context, net.Listener) error) string {
	t.Helper()
	base, _ := testkit.Serve(t, run)
	return base
}

func postOrder(t *testing.T, base string) order.Order {
	t.Helper()
	resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /orders = %d %s", resp.StatusCode, body)
	}
	var o order.Order
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// find returns the spans of tr named name from service, of kind kind.
func find(tr []telemetry.Span, service, kind, name string) []telemetry.Span {
	var out []telemetry.Span
	for _, s := range tr {
		if s.Service == service && s.Kind == kind && s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func describe(tr []telemetry.Span) string {
	var b strings.Builder
	for _, s := range tr {
		fmt.Fprintf(&b, "\n  %s %s %q span=%s parent=%s", s.Service, s.Kind, s.Name, s.SpanID, s.ParentSpanID)
	}
	return b.String()
}

// TestAsyncOrderIsOneTrace follows one async order through every hop
// (then checks the services' Prometheus metrics saw it):
// POST /orders -> outbox -> order-placed -> inventory -> stock-reserved ->
// order-service's consumer, and order-placed -> notification-service. All
// spans share one trace ID and each hop is the child of the one before.
func TestAsyncOrderIsOneTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	cluster := testkit.StartKafka(t, 3, events.AllTopics)
	col := telemetry.NewCollector(0)
	kafka := func(id string) messaging.Config {
		return messaging.Config{Brokers: cluster.ListenAddrs(), ClientID: id}
	}
	dir := t.TempDir()
	inv, err := inventory.New(inventory.Config{DBPath: filepath.Join(dir, "inv.db"), Catalog: inventory.DefaultCatalog(),
		Kafka: kafka("inventory"), Group: testkit.Uniq(t, "inventory"), Tracing: provider(t, "inventory-service", col)}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	invURL := serve(t, inv.Run)
	notif, err := notification.New(notification.Config{DBPath: filepath.Join(dir, "notif.db"), Kafka: kafka("notification"),
		Group: testkit.Uniq(t, "notification"), Tracing: provider(t, "notification-service", col)}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = notif.Close() })
	notifURL := serve(t, notif.Run)
	orderGroup := testkit.Uniq(t, "order")
	ord, err := order.New(order.Config{Mode: order.ModeAsync, DBPath: filepath.Join(dir, "orders.db"), Kafka: kafka("order"),
		Group: orderGroup, Tracing: provider(t, "order-service", col)}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ord.Close() })
	base := serve(t, ord.Run)

	o := postOrder(t, base)
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		got, err := ord.Store().Get(t.Context(), o.ID)
		if err != nil {
			return false, err.Error()
		}
		_, _, nerr := notif.Store().Notification(t.Context(), o.ID)
		return got.Status == order.StatusConfirmed && nerr == nil, fmt.Sprintf("order %s, notification err %v", got.Status, nerr)
	})
	traceID := col.TraceOfOrder(o.ID)
	if traceID == "" {
		t.Fatalf("no span carries order.id %s", o.ID)
	}
	// The last hop's span ends just after the order moved: poll for it.
	var tr []telemetry.Span
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		tr = col.Trace(traceID)
		return len(find(tr, "order-service", "consumer", "process stock-reserved")) > 0 && len(find(tr, "notification-service", "consumer", "process order-placed")) > 0,
			"trace so far:" + describe(tr)
	})

	one := func(service, kind, name string) telemetry.Span {
		t.Helper()
		got := find(tr, service, kind, name)
		if len(got) != 1 {
			t.Fatalf("want one %s %s span %q in trace %s, got %d:%s", service, kind, name, traceID, len(got), describe(tr))
		}
		return got[0]
	}
	server := one("order-service", "server", "POST /orders")
	publish := one("order-service", "producer", "publish order-placed")
	reserve := one("inventory-service", "consumer", "process order-placed")
	outcome := one("inventory-service", "producer", "publish stock-reserved")
	apply := one("order-service", "consumer", "process stock-reserved")
	notify := one("notification-service", "consumer", "process order-placed")
	for _, hop := range []struct {
		child, parent telemetry.Span
	}{{publish, server}, {reserve, publish}, {outcome, reserve}, {apply, outcome}, {notify, publish}} {
		if hop.child.ParentSpanID != hop.parent.SpanID {
			t.Errorf("%s %q: parent %s, want %s %q (%s)%s", hop.child.Service, hop.child.Name, hop.child.ParentSpanID,
				hop.parent.Service, hop.parent.Name, hop.parent.SpanID, describe(tr))
		}
	}
	if server.ParentSpanID != "" {
		t.Errorf("POST /orders without traceparent should start the trace, has parent %s", server.ParentSpanID)
	}
	if server.Attributes["order.id"] != o.ID || publish.Attributes["messaging.destination.name"] != events.TopicOrderPlaced {
		t.Errorf("attributes: server %v, publish %v", server.Attributes, publish.Attributes)
	}

	// The same run, seen by Prometheus: every service's GET /metrics has
	// the shared and its own series, and the values moved with the order.
	want := func(m map[string]float64, series string, ok func(float64) bool) {
		t.Helper()
		v, found := m[series]
		if !found || !ok(v) {
			t.Errorf("metric %s = %v (present %v)", series, v, found)
		}
	}
	atLeast1 := func(v float64) bool { return v >= 1 }
	zero := func(v float64) bool { return v == 0 }
	om := scrape(t, base)
	want(om, `faultline_http_requests_total{code="202",route="POST /orders",service="order-service"}`, func(v float64) bool { return v == 1 })
	want(om, `faultline_http_request_duration_seconds_count{route="POST /orders",service="order-service"}`, func(v float64) bool { return v == 1 })
	want(om, `faultline_outbox_published_total{service="order-service"}`, atLeast1)
	want(om, `faultline_outbox_backlog_rows{service="order-service"}`, zero)
	want(om, `faultline_outbox_parked_rows{service="order-service"}`, zero)
	want(om, `faultline_consumer_handler_attempts_total{outcome="ok",service="order-service",topic="stock-reserved"}`, atLeast1)
	want(om, `faultline_dead_lettered_total{group="`+orderGroup+`",service="order-service"}`, zero)
	want(om, `faultline_dead_lettered_unclassified_total{group="`+orderGroup+`",service="order-service"}`, zero)
	want(om, `faultline_consumer_handler_errors_unclassified_total{group="`+orderGroup+`",service="order-service"}`, zero)
	for _, svc := range []struct{ url, name string }{{invURL, "inventory-service"}, {notifURL, "notification-service"}} {
		m := scrape(t, svc.url)
		want(m, `faultline_consumer_handler_attempts_total{outcome="ok",service="`+svc.name+`",topic="order-placed"}`, atLeast1)
		lag := false
		for k := range m {
			lag = lag || strings.HasPrefix(k, `faultline_consumer_lag_self_reported{`) && strings.Contains(k, `service="`+svc.name+`",topic="order-placed"`)
		}
		if !lag {
			t.Errorf("%s: no faultline_consumer_lag_self_reported series for order-placed", svc.name)
		}
	}
	if _, ok := om[`faultline_http_requests_total{code="200",route="GET /metrics",service="order-service"}`]; ok {
		t.Errorf("the first scrape cannot have counted itself yet")
	}
	om = scrape(t, base)
	want(om, `faultline_http_requests_total{code="200",route="GET /metrics",service="order-service"}`, func(v float64) bool { return v == 1 })

	// Hybrid mode on the same stack: the stock read is a client span under
	// POST /orders with inventory's GET /stock/{sku} as its child, and the
	// reservation continues the same trace through the outbox.
	hyb, err := order.New(order.Config{Mode: order.ModeHybrid, DBPath: filepath.Join(dir, "hybrid.db"), Kafka: kafka("hybrid"),
		InventoryURL: invURL, Hybrid: order.HybridConfig{ReadTimeout: 5 * time.Second},
		Group: testkit.Uniq(t, "hybrid"), Tracing: provider(t, "order-service", col)}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hyb.Close() })
	ho := postOrder(t, serve(t, hyb.Run))
	var ht []telemetry.Span
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		ht = col.Trace(col.TraceOfOrder(ho.ID))
		return len(find(ht, "inventory-service", "consumer", "process order-placed")) > 0, "hybrid trace so far:" + describe(ht)
	})
	hServer := find(ht, "order-service", "server", "POST /orders")
	var read, invRead []telemetry.Span
	for _, s := range ht {
		switch {
		case s.Service == "order-service" && s.Kind == "client" && strings.HasPrefix(s.Name, "GET /stock/"):
			read = append(read, s)
		case s.Service == "inventory-service" && s.Kind == "server" && s.Name == "GET /stock/{sku}":
			invRead = append(invRead, s)
		}
	}
	if len(hServer) != 1 || len(read) != 1 || len(invRead) != 1 || read[0].ParentSpanID != hServer[0].SpanID || invRead[0].ParentSpanID != read[0].SpanID {
		t.Errorf("hybrid: want POST /orders -> client GET /stock/... -> inventory GET /stock/{sku}:%s", describe(ht))
	}
}

// scrape reads base/metrics (Prometheus text format) into "name{labels}"
// -> value, labels as the exposition writes them (sorted by name).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics = %d, %v", base, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestSyncOrderTraceShowsInventoryCall: in sync mode the inventory call is
// a client span under POST /orders and inventory's POST /reservations
// server span is its child, in the same trace.
func TestSyncOrderTraceShowsInventoryCall(t *testing.T) {
	col := telemetry.NewCollector(0)
	dir := t.TempDir()
	inv, err := inventory.New(inventory.Config{DBPath: filepath.Join(dir, "inv.db"), Catalog: inventory.DefaultCatalog(),
		Tracing: provider(t, "inventory-service", col)}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	invURL := serve(t, inv.Run)
	ord, err := order.New(order.Config{Mode: order.ModeSync, DBPath: filepath.Join(dir, "orders.db"), InventoryURL: invURL,
		InventoryTimeout: 5 * time.Second, Tracing: provider(t, "order-service", col)}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ord.Close() })
	o := postOrder(t, serve(t, ord.Run))
	if o.Status != order.StatusConfirmed {
		t.Fatalf("sync order %s, want CONFIRMED", o.Status)
	}
	traceID := col.TraceOfOrder(o.ID)
	var tr []telemetry.Span
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		tr = col.Trace(traceID)
		return len(find(tr, "order-service", "server", "POST /orders")) == 1, "trace so far:" + describe(tr)
	})
	server := find(tr, "order-service", "server", "POST /orders")
	client := find(tr, "order-service", "client", "POST /reservations")
	invServer := find(tr, "inventory-service", "server", "POST /reservations")
	if len(server) != 1 || len(client) != 1 || len(invServer) != 1 {
		t.Fatalf("want one span each of order POST /orders, its client POST /reservations, inventory's POST /reservations:%s", describe(tr))
	}
	if client[0].ParentSpanID != server[0].SpanID || invServer[0].ParentSpanID != client[0].SpanID {
		t.Fatalf("sync spans not nested server -> client -> inventory server:%s", describe(tr))
	}
}

// flakyPublisher fails its first send, then records every record it is
// given (All: the failed one first).
type flakyPublisher struct {
	testkit.Records
	failedOnce atomic.Bool
}

func (p *flakyPublisher) Send(ctx context.Context, m events.Message) error {
	_ = p.Records.Send(ctx, m)
	if p.failedOnce.CompareAndSwap(false, true) {
		return errors.New("broker unreachable (test)")
	}
	return nil
}

// TestResentRecordKeepsTraceContext: the relay's re-send after a failed
// publish carries the order's trace ID again (stored in the outbox row),
// under a new producer span of the same trace.
func TestResentRecordKeepsTraceContext(t *testing.T) {
	col := telemetry.NewCollector(0)
	tp := provider(t, "order-service", col)
	st, err := order.OpenStore(t.Context(), filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, span := tp.Tracer("test").Start(t.Context(), "POST /orders")
	want := span.SpanContext().TraceID().String()
	o, err := st.PlaceAsync(ctx, order.Order{ID: uuid.NewString(), SKU: "SKU-1", Quantity: 1}, uuid.NewString())
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	pub := &flakyPublisher{}
	relay := order.NewRelay(st, order.SendFunc(pub.Send), order.RelayConfig{Interval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Tracing: tp}, testkit.Logger(t))
	rctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = relay.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		return relay.Published() == 1, fmt.Sprintf("%d sends, %d published", len(pub.All()), relay.Published())
	})
	sent := pub.All()
	if len(sent) != 2 {
		t.Fatalf("want a failed send and a re-send, got %d sends", len(sent))
	}
	var parents []string
	for i, m := range sent {
		if m.Key != o.ID {
			t.Fatalf("send %d is for %q, want %q", i, m.Key, o.ID)
		}
		sc := telemetry.TraceParent(telemetry.Extract(context.Background(), m.Headers))
		if got := traceIDOf(sc); got != want {
			t.Errorf("send %d: traceparent %q, want trace %s", i, m.Header(telemetry.HeaderTraceParent), want)
		}
		parents = append(parents, sc)
	}
	if parents[0] == parents[1] {
		t.Errorf("both sends carry span %s: each send should have its own producer span", parents[0])
	}
	if n := len(find(col.Trace(want), "order-service", "producer", "publish order-placed")); n != 2 {
		t.Errorf("want 2 producer spans (failed + re-sent) in trace %s, got %d:%s", want, n, describe(col.Trace(want)))
	}
}

// traceIDOf returns the trace ID of a traceparent value.
func traceIDOf(tp string) string {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 {
		return ""
	}
	return parts[1]
}

// TestDeadLetteredRecordKeepsTraceContext: a poison record's dead-letter
// copy carries its traceparent header, and the failed handling is an error
// span in that trace.
func TestDeadLetteredRecordKeepsTraceContext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	cluster := testkit.StartKafka(t, 1, events.AllTopics)
	kcfg := messaging.Config{Brokers: cluster.ListenAddrs(), ClientID: "dlq-trace"}
	col := telemetry.NewCollector(0)
	tp := provider(t, "inventory-service", col)
	inv, err := inventory.New(inventory.Config{DBPath: filepath.Join(t.TempDir(), "inv.db"), Catalog: inventory.DefaultCatalog(),
		Kafka: kcfg, Group: testkit.Uniq(t, "inventory"), Tracing: tp}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	serve(t, inv.Run)

	prod, err := messaging.NewProducer(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Close() })
	ctx, span := tp.Tracer("test").Start(t.Context(), "producer of a poison record")
	want := span.SpanContext().TraceID().String()
	key := testkit.Uniq(t, "poison")
	poison := events.Message{Topic: events.TopicOrderPlaced, Key: key, Value: []byte("not json"),
		Headers: telemetry.Inject(ctx, []events.Header{{Key: events.HeaderEventType, Value: string(events.OrderPlaced)}})}
	span.End()
	sendCtx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := prod.Send(sendCtx, poison); err != nil {
		t.Fatal(err)
	}

	dl := readTopic(t, kcfg.Brokers, events.TopicDeadLetter, key, 30*time.Second)
	got := dl.Header(telemetry.HeaderTraceParent)
	if got != poison.Header(telemetry.HeaderTraceParent) || traceIDOf(got) != want {
		t.Fatalf("dead-letter copy traceparent %q, want the original %q (headers %v)", got, poison.Header(telemetry.HeaderTraceParent), dl.Headers)
	}
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		for _, s := range find(col.Trace(want), "inventory-service", "consumer", "process order-placed") {
			if s.Status == "error" {
				return true, ""
			}
		}
		return false, "no error span for the poison record in its trace:" + describe(col.Trace(want))
	})
}

// readTopic returns the first record with key on topic (all partitions,
// from the oldest offset), failing after timeout.
func readTopic(t *testing.T, brokers []string, topic, key string, timeout time.Duration) events.Message {
	t.Helper()
	records := testkit.ConsumeTopic(t, brokers, topic)
	deadline := time.After(timeout)
	for {
		select {
		case m := <-records:
			if string(m.Key) == key {
				return messaging.FromSarama(m)
			}
		case <-deadline:
			t.Fatalf("no record with key %s on %s after %v", key, topic, timeout)
		}
	}
}
