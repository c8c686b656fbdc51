package notification_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

// newService opens a service on cfg.DBPath (a fresh file in t.TempDir()
// when empty). It is closed on cleanup.
func newService(t testing.TB, cfg notification.Config) *notification.Service {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "notification.db")
	}
	svc, err := notification.New(cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close service: %v", err)
		}
	})
	return svc
}

// running is a service whose Run is serving on a loopback listener.
type running struct {
	svc  *notification.Service
	base string // http://127.0.0.1:port
	stop func()
}

// start runs a new service on cfg until stop or the test's end. stop
// cancels Run, fails the test unless Run returns nil within 20 s, and
// closes the service, so another one can open the same database.
func start(t testing.TB, cfg notification.Config) *running {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "notification.db")
	}
	svc, err := notification.New(cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	base, stop := serveThenClose(t, svc)
	return &running{svc: svc, base: base, stop: stop}
}

// serveThenClose serves svc (testkit.Serve) and returns its base URL and
// stop: idempotent, also run on cleanup, it stops Run (which must return
// nil within 20 s) and then closes svc, so another service can open the
// same database.
func serveThenClose(t testing.TB, svc interface {
	Run(context.Context, net.Listener) error
	Close() error
}) (base string, stop func()) {
	t.Helper()
	base, stopRun := testkit.Serve(t, svc.Run)
	stop = sync.OnceFunc(func() {
		stopRun()
		if err := svc.Close(); err != nil {
			t.Errorf("close %T: %v", svc, err)
		}
	})
	t.Cleanup(stop)
	return base, stop
}

// fastKafka is a client config with short timeouts, so failure paths and
// recoveries finish quickly.
func fastKafka(t testing.TB, brokers ...string) messaging.Config {
	return messaging.Config{Brokers: brokers, ClientID: testkit.Uniq(t, "client"), DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, RetryBackoff: 50 * time.Millisecond}
}

// producer connects a producer (direct to the broker) closed on cleanup.
func producer(t testing.TB, kc messaging.Config) *messaging.Producer {
	t.Helper()
	p, err := messaging.NewProducer(kc)
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

// placedEvent is a valid order-placed event for orderID with event ID
// "placed:<orderID>".
func placedEvent(orderID string) events.Event {
	return events.Event{EventID: "placed:" + orderID, Type: events.OrderPlaced, OrderID: orderID,
		SKU: "SKU-1", Quantity: 2, OccurredAt: time.Now().UTC()}
}

// record builds the Kafka record of e.
func record(t testing.TB, e events.Event) events.Message {
	t.Helper()
	m, err := events.Record(e)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// orderIDs returns n order IDs unique to this test.
func orderIDs(t testing.TB, what string, n int) []string {
	base := testkit.Uniq(t, what)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", base, i)
	}
	return ids
}

// stats reads GET /stats. Numbers only.
func stats(t testing.TB, base string) map[string]int64 {
	t.Helper()
	var s map[string]int64
	if code := getJSON(t, base+"/stats", &s); code != http.StatusOK {
		t.Fatalf("GET /stats = %d", code)
	}
	return s
}

// notificationBody is GET /notifications/{order_id}.
type notificationBody struct {
	OrderID    string    `json:"order_id"`
	SKU        string    `json:"sku"`
	Quantity   int       `json:"quantity"`
	EventID    string    `json:"event_id"`
	Channel    string    `json:"channel"`
	OccurredAt time.Time `json:"occurred_at"`
	CreatedAt  time.Time `json:"created_at"`
	Sends      int       `json:"sends"`
}

// getJSON GETs url, decodes a 200 body into v and returns the status.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// awaitStats polls GET /stats until ok holds, failing after timeout with
// the last stats.
func awaitStats(t testing.TB, base string, timeout time.Duration, what string, ok func(map[string]int64) bool) map[string]int64 {
	t.Helper()
	var last map[string]int64
	testkit.Eventually(t, timeout, func() (bool, string) {
		last = stats(t, base)
		return ok(last), fmt.Sprintf("%s; stats %v", what, last)
	})
	return last
}

// checkOncePerOrder fails unless every order has exactly one notification
// with one send, caused by its own order-placed event.
func checkOncePerOrder(t testing.TB, base string, ids []string) {
	t.Helper()
	for _, id := range ids {
		var n notificationBody
		if code := getJSON(t, base+"/notifications/"+id, &n); code != http.StatusOK || n.Sends != 1 || n.EventID != "placed:"+id {
			t.Errorf("order %s: GET /notifications = %d, %+v; want 200 with one send of event placed:%s", id, code, n, id)
		}
	}
}

// call sends one request to h and returns the status and raw body,
// checking the response is JSON.
func call(t testing.TB, h http.Handler, method, path string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q, want application/json", method, path, ct)
	}
	return rec.Code, rec.Body.Bytes()
}

// runConsumer runs c until the test ends, then checks Run returns nil
// within 20 s of the cancel.
func runConsumer(t testing.TB, c *messaging.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
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

// runInventory runs inventory-service's Run on a loopback listener; the
// returned stop (also run on cleanup) cancels it, checks it returned nil
// within 20 s and closes the service.
func runInventory(t testing.TB, inv *inventory.Service) (stop func()) {
	t.Helper()
	_, stop = serveThenClose(t, inv)
	return stop
}
