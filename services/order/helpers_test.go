package order

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/web"
)

// newService builds a service on a fresh database in t.TempDir(). Async and hybrid
// services get an unreachable broker: New never connects, and tests that
// do not call Run never touch Kafka.
func newService(t testing.TB, cfg Config) *Service {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "orders.db")
	}
	if cfg.Mode != ModeSync && len(cfg.Kafka.Brokers) == 0 {
		cfg.Kafka = messaging.Config{Brokers: []string{"127.0.0.1:1"}}
	}
	s, err := New(cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// asyncConfig is an async service's config on Kafka kc, in a fresh
// consumer group (the database: newService's).
func asyncConfig(kc messaging.Config) Config {
	return Config{Mode: ModeAsync, Kafka: kc, Group: "order-test-" + uuid.NewString()}
}

// runAsyncWithKafka starts an in-process Kafka with every topic on 3
// partitions and an async service on it (runService), and returns the
// service's base URL, the service and the Kafka config.
func runAsyncWithKafka(t *testing.T) (string, *Service, messaging.Config) {
	t.Helper()
	cluster := testkit.StartKafka(t, 3, events.AllTopics)
	kc := messaging.Config{Brokers: cluster.ListenAddrs(), ClientID: "order-test"}
	base, svc := runService(t, asyncConfig(kc))
	return base, svc, kc
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func (r httpResult) order(t testing.TB) Order {
	t.Helper()
	var o Order
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("decode order from %d %s: %v", r.status, r.body, err)
	}
	return o
}

func (r httpResult) errCode(t testing.TB) string {
	t.Helper()
	var eb web.ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not an error body (%v): %d %s", err, r.status, r.body)
	}
	return eb.Error.Code
}

// do runs one request through h in-process.
func do(t testing.TB, h http.Handler, method, path string, body []byte, header map[string]string) httpResult {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return httpResult{rec.Code, rec.Header(), rec.Body.Bytes()}
}

func postOrder(t testing.TB, h http.Handler, sku string, qty int, idemKey string) httpResult {
	t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if idemKey != "" {
		hdr["Idempotency-Key"] = idemKey
	}
	body, _ := json.Marshal(map[string]any{"sku": sku, "quantity": qty})
	return do(t, h, http.MethodPost, "/orders", body, hdr)
}

// counts returns the number of order rows and of outbox rows.
func counts(t testing.TB, st *Store) (orders, outbox int) {
	t.Helper()
	ctx := context.Background()
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders`).Scan(&orders); err != nil {
		t.Fatal(err)
	}
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	return orders, outbox
}

// fakeInventory is an httptest inventory-service speaking the documented
// API. handle, when set, replaces the behaviour for POST /reservations.
type fakeInventory struct {
	*httptest.Server
	stock    map[string]int
	calls    chan ReservationRequest // every reservation request, buffered
	handle   http.HandlerFunc
	reserved map[string]bool
}

func newFakeInventory(t testing.TB, stock map[string]int, handle http.HandlerFunc) *fakeInventory {
	f := &fakeInventory{stock: stock, calls: make(chan ReservationRequest, 100), handle: handle, reserved: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{sku}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := f.stock[r.PathValue("sku")]
		if !ok {
			web.WriteError(w, http.StatusNotFound, "unknown_sku", "no such sku")
			return
		}
		web.WriteJSON(w, http.StatusOK, Stock{SKU: r.PathValue("sku"), Available: n})
	})
	mux.HandleFunc("POST /reservations", func(w http.ResponseWriter, r *http.Request) {
		if f.handle != nil {
			// Read the body first: only then does net/http notice a client
			// that hung up and cancel r.Context().
			_, _ = io.Copy(io.Discard, r.Body)
			f.handle(w, r)
			return
		}
		var req ReservationRequest
		if !web.Decode(w, r, &req) {
			return
		}
		f.calls <- req
		n, ok := f.stock[req.SKU]
		switch {
		case !ok:
			web.WriteError(w, http.StatusNotFound, "unknown_sku", "no such sku")
		case f.reserved[req.OrderID]:
			web.WriteJSON(w, http.StatusCreated, Reservation{req.OrderID, req.SKU, req.Quantity, "reserved"})
		case n < req.Quantity:
			web.WriteError(w, http.StatusConflict, "insufficient_stock", "not enough")
		default:
			f.stock[req.SKU] = n - req.Quantity
			f.reserved[req.OrderID] = true
			web.WriteJSON(w, http.StatusCreated, Reservation{req.OrderID, req.SKU, req.Quantity, "reserved"})
		}
	})
	// One request at a time keeps the maps race-free.
	f.Server = httptest.NewServer(serialize(mux))
	t.Cleanup(f.Close)
	return f
}

func serialize(h http.Handler) http.Handler {
	sem := make(chan struct{}, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sem <- struct{}{}
		defer func() { <-sem }()
		h.ServeHTTP(w, r)
	})
}

func readAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ordersWithStatus(t testing.TB, st *Store, status Status) []Order {
	t.Helper()
	rows, err := st.db.Query(`SELECT `+orderCols+` FROM orders WHERE status = ?`, status)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
