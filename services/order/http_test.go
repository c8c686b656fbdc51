package order

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/web"
)

func TestCreateOrderRequestErrors(t *testing.T) {
	big := `{"sku":"` + strings.Repeat("a", web.MaxBodyBytes+10) + `","quantity":1}`
	cases := []struct {
		name   string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"malformed json", `{"sku":`, nil, 400, "malformed_json"},
		{"unknown field", `{"sku":"SKU-1","quantity":1,"color":"red"}`, nil, 400, "malformed_json"},
		{"empty body", ``, nil, 400, "malformed_json"},
		{"trailing data", `{"sku":"SKU-1","quantity":1} {}`, nil, 400, "malformed_json"},
		{"quantity wrong type", `{"sku":"SKU-1","quantity":"2"}`, nil, 400, "malformed_json"},
		{"body over 1 MiB", big, nil, 413, "body_too_large"},
		{"wrong content type", `{"sku":"SKU-1","quantity":1}`, map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
		{"quantity zero", `{"sku":"SKU-1","quantity":0}`, nil, 400, "invalid_request"},
		{"quantity negative", `{"sku":"SKU-1","quantity":-3}`, nil, 400, "invalid_request"},
		{"missing sku", `{"quantity":1}`, nil, 400, "invalid_request"},
		{"blank sku", `{"sku":"  ","quantity":1}`, nil, 400, "invalid_request"},
		{"unknown sku in catalog", `{"sku":"NOPE","quantity":1}`, nil, 422, "unknown_sku"},
		{"idempotency key too long", `{"sku":"SKU-1","quantity":1}`, map[string]string{"Idempotency-Key": strings.Repeat("k", MaxIdempotencyKeyLen+1)}, 400, "invalid_request"},
	}
	for _, mode := range []Mode{ModeSync, ModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			inv := newFakeInventory(t, map[string]int{"SKU-1": 10}, func(w http.ResponseWriter, r *http.Request) {
				t.Errorf("inventory called for a bad request: %s %s", r.Method, r.URL)
				w.WriteHeader(http.StatusInternalServerError)
			})
			s := newService(t, Config{Mode: mode, InventoryURL: inv.URL, Catalog: map[string]int{"SKU-1": 10}})
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					res := do(t, s.Handler(), http.MethodPost, "/orders", []byte(tc.body), tc.header)
					if res.status != tc.status {
						t.Fatalf("status = %d, want %d; body %.200s", res.status, tc.status, res.body)
					}
					if code := res.errCode(t); code != tc.code {
						t.Fatalf("error code = %q, want %q", code, tc.code)
					}
					if o, ob := counts(t, s.Store()); o != 0 || ob != 0 {
						t.Fatalf("side effects: %d orders, %d outbox rows", o, ob)
					}
				})
			}
		})
	}
}

func TestSyncReserved(t *testing.T) {
	inv := newFakeInventory(t, map[string]int{"SKU-1": 5}, nil)
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})
	res := postOrder(t, s.Handler(), "SKU-1", 2, "")
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, body %s", res.status, res.body)
	}
	o := res.order(t)
	if o.Status != StatusConfirmed || o.SKU != "SKU-1" || o.Quantity != 2 || o.Mode != ModeSync || o.ID == "" || o.Reason != "" {
		t.Fatalf("order = %+v", o)
	}
	if got := res.header.Get("Location"); got != "/orders/"+o.ID {
		t.Fatalf("Location = %q", got)
	}
	if call := <-inv.calls; call != (ReservationRequest{OrderID: o.ID, SKU: "SKU-1", Quantity: 2}) {
		t.Fatalf("inventory got %+v", call)
	}
	get := do(t, s.Handler(), http.MethodGet, "/orders/"+o.ID, nil, nil)
	if get.status != 200 || get.order(t).Status != StatusConfirmed {
		t.Fatalf("GET = %d %s", get.status, get.body)
	}
	if _, ob := counts(t, s.Store()); ob != 0 {
		t.Fatalf("sync mode wrote %d outbox rows", ob)
	}
}

func TestSyncRejected(t *testing.T) {
	inv := newFakeInventory(t, map[string]int{"SKU-1": 1}, nil)
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})

	res := postOrder(t, s.Handler(), "SKU-1", 2, "")
	if res.status != http.StatusConflict || res.errCode(t) != "insufficient_stock" {
		t.Fatalf("insufficient: %d %s", res.status, res.body)
	}
	id := (<-inv.calls).OrderID
	if !bytes.Contains(res.body, []byte(id)) {
		t.Fatalf("409 body does not name order %s: %s", id, res.body)
	}
	if o, err := s.Store().Get(context.Background(), id); err != nil || o.Status != StatusRejected || o.Reason != "insufficient_stock" {
		t.Fatalf("stored %+v, %v", o, err)
	}

	res = postOrder(t, s.Handler(), "GHOST", 1, "")
	if res.status != http.StatusUnprocessableEntity || res.errCode(t) != "unknown_sku" {
		t.Fatalf("unknown sku: %d %s", res.status, res.body)
	}
	id = (<-inv.calls).OrderID
	if o, err := s.Store().Get(context.Background(), id); err != nil || o.Status != StatusRejected || o.Reason != "unknown_sku" {
		t.Fatalf("stored %+v, %v", o, err)
	}
}

// check503 asserts the documented 503 contract and returns the failed order.
func check503(t *testing.T, s *Service, res httpResult) Order {
	t.Helper()
	if res.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503; body %s", res.status, res.body)
	}
	if ra := res.header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After = %q, want 1", ra)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var raw map[string]map[string]string
	if err := json.Unmarshal(res.body, &raw); err != nil || len(raw) != 1 || len(raw["error"]) != 2 || raw["error"]["code"] != "inventory_unavailable" {
		t.Fatalf("503 body shape: %s (%v)", res.body, err)
	}
	failed := ordersWithStatus(t, s.Store(), StatusFailed)
	if len(failed) != 1 || !strings.Contains(raw["error"]["message"], failed[0].ID) || !strings.HasPrefix(failed[0].Reason, "inventory_unavailable") {
		t.Fatalf("failed orders %+v; message %q", failed, raw["error"]["message"])
	}
	return failed[0]
}

func TestSyncInventoryTimeout(t *testing.T) {
	release := make(chan struct{})
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) {
		select { // slower than the client's timeout
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	const timeout = 200 * time.Millisecond
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: timeout})
	start := time.Now()
	res := postOrder(t, s.Handler(), "SKU-1", 1, "")
	if took := time.Since(start); took < timeout || took > timeout+time.Second {
		t.Fatalf("503 after %v, want about %v", took, timeout)
	}
	check503(t, s, res)
}

func TestSyncInventory500(t *testing.T) {
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) {
		web.WriteError(w, http.StatusInternalServerError, "boom", "database on fire")
	})
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})
	o := check503(t, s, postOrder(t, s.Handler(), "SKU-1", 1, ""))
	if !strings.Contains(o.Reason, "500") {
		t.Fatalf("reason %q does not mention the 500", o.Reason)
	}
}

func TestSyncInventoryDown(t *testing.T) {
	inv := newFakeInventory(t, nil, nil)
	inv.Close() // connection refused
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})
	check503(t, s, postOrder(t, s.Handler(), "SKU-1", 1, ""))
}

func TestAsyncAccepted(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	res := postOrder(t, s.Handler(), "SKU-1", 3, "")
	if res.status != http.StatusAccepted {
		t.Fatalf("status = %d, body %s", res.status, res.body)
	}
	o := res.order(t)
	if o.Status != StatusPending || o.Mode != ModeAsync || o.Quantity != 3 {
		t.Fatalf("order = %+v", o)
	}
	if n, ob := counts(t, s.Store()); n != 1 || ob != 1 {
		t.Fatalf("%d orders, %d outbox rows; want 1 and 1", n, ob)
	}
	rows, err := s.Store().unpublished(context.Background(), 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("unpublished = %v, %v", rows, err)
	}
	m := rows[0].msg
	e, err := events.Decode(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != events.TopicOrderPlaced || m.Key != o.ID || m.Header(events.HeaderContentType) != events.ContentType ||
		m.Header(events.HeaderEventID) != e.EventID || rows[0].eventID != e.EventID ||
		e.Type != events.OrderPlaced || e.OrderID != o.ID || e.SKU != "SKU-1" || e.Quantity != 3 {
		t.Fatalf("outbox row %+v, event %+v", m, e)
	}
	if st, err := s.Store().Stats(context.Background()); err != nil || st.ByStatus[StatusPending] != 1 || st.OutboxBacklog != 1 {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

// TestAsyncOrderAndOutboxAreOneTransaction makes the outbox insert fail and
// checks the order insert was rolled back with it.
func TestAsyncOrderAndOutboxAreOneTransaction(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	if _, err := s.Store().db.Exec(`CREATE TRIGGER outbox_down BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'outbox down'); END`); err != nil {
		t.Fatal(err)
	}
	res := postOrder(t, s.Handler(), "SKU-1", 1, "")
	if res.status != http.StatusInternalServerError {
		t.Fatalf("status = %d, body %s", res.status, res.body)
	}
	if n, ob := counts(t, s.Store()); n != 0 || ob != 0 {
		t.Fatalf("%d orders, %d outbox rows left after a failed transaction", n, ob)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Run("async", func(t *testing.T) {
		s := newService(t, Config{Mode: ModeAsync})
		first := postOrder(t, s.Handler(), "SKU-1", 2, "key-1")
		again := postOrder(t, s.Handler(), "SKU-1", 2, "key-1")
		if first.status != 202 || again.status != 202 || !bytes.Equal(first.body, again.body) {
			t.Fatalf("first %d %s, again %d %s", first.status, first.body, again.status, again.body)
		}
		if again.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("Idempotent-Replayed header: first %q, again %q", first.header.Get("Idempotent-Replayed"), again.header.Get("Idempotent-Replayed"))
		}
		if n, ob := counts(t, s.Store()); n != 1 || ob != 1 {
			t.Fatalf("%d orders, %d outbox rows; want 1 and 1", n, ob)
		}
		if other := postOrder(t, s.Handler(), "SKU-1", 2, "key-2"); other.status != 202 || other.order(t).ID == first.order(t).ID {
			t.Fatalf("another key: %d %s", other.status, other.body)
		}
		if reused := postOrder(t, s.Handler(), "SKU-1", 5, "key-1"); reused.status != 422 || reused.errCode(t) != "idempotency_key_reused" {
			t.Fatalf("reused key: %d %s", reused.status, reused.body)
		}
	})
	t.Run("sync", func(t *testing.T) {
		inv := newFakeInventory(t, map[string]int{"SKU-1": 1}, nil)
		s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})
		for _, want := range []int{201, 409} { // the second key runs out of stock
			key := "key-" + http.StatusText(want)
			first := postOrder(t, s.Handler(), "SKU-1", 1, key)
			again := postOrder(t, s.Handler(), "SKU-1", 1, key)
			if first.status != want || again.status != want || !bytes.Equal(first.body, again.body) {
				t.Fatalf("want %d: first %d %s, again %d %s", want, first.status, first.body, again.status, again.body)
			}
		}
		if len(inv.calls) != 2 {
			t.Fatalf("inventory called %d times, want 2", len(inv.calls))
		}
	})
	t.Run("sync 503 replayed", func(t *testing.T) {
		inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})
		first := postOrder(t, s.Handler(), "SKU-1", 1, "k")
		again := postOrder(t, s.Handler(), "SKU-1", 1, "k")
		check503(t, s, first)
		check503(t, s, again)
		if !bytes.Equal(first.body, again.body) {
			t.Fatalf("bodies differ: %s vs %s", first.body, again.body)
		}
	})
}

func TestGetStatsHealth(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	if res := do(t, s.Handler(), http.MethodGet, "/orders/nope", nil, nil); res.status != 404 || res.errCode(t) != "not_found" {
		t.Fatalf("GET unknown: %d %s", res.status, res.body)
	}
	o := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	got := do(t, s.Handler(), http.MethodGet, "/orders/"+o.ID, nil, nil)
	if got.status != 200 || got.order(t) != o {
		t.Fatalf("GET = %d %s, want %+v", got.status, got.body, o)
	}
	res := do(t, s.Handler(), http.MethodGet, "/stats", nil, nil)
	var stats struct {
		Orders        map[string]int `json:"orders"`
		OutboxBacklog *int           `json:"outbox_backlog"`
		ConsumerLag   *int64         `json:"consumer_lag"`
	}
	if err := json.Unmarshal(res.body, &stats); err != nil || res.status != 200 {
		t.Fatalf("stats %d %s: %v", res.status, res.body, err)
	}
	want := map[string]int{"PENDING": 1, "CONFIRMED": 0, "REJECTED": 0, "FAILED": 0}
	if len(stats.Orders) != 4 || stats.Orders["PENDING"] != 1 || stats.OutboxBacklog == nil || *stats.OutboxBacklog != 1 || stats.ConsumerLag == nil {
		t.Fatalf("stats = %s, want orders %v, backlog 1, consumer_lag present", res.body, want)
	}
	h := do(t, s.Handler(), http.MethodGet, "/healthz", nil, nil)
	if h.status != 200 || strings.TrimSpace(string(h.body)) != `{"mode":"async","status":"ok"}` {
		t.Fatalf("healthz = %d %s", h.status, h.body)
	}
}

// TestSyncOutcomeRecordedWhenClientLeaves cancels the client's request while
// inventory is reserving: the reservation outcome must still be stored.
func TestSyncOutcomeRecordedWhenClientLeaves(t *testing.T) {
	called, release := make(chan string, 1), make(chan struct{})
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) {
		called <- "reserve"
		<-release
		web.WriteJSON(w, http.StatusCreated, Reservation{Status: "reserved"})
	})
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/orders", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
	done := make(chan struct{})
	go func() { defer close(done); s.Handler().ServeHTTP(httptest.NewRecorder(), req) }()
	<-called
	cancel()
	close(release)
	<-done
	if got := ordersWithStatus(t, s.Store(), StatusConfirmed); len(got) != 1 {
		t.Fatalf("confirmed orders %v; pending %v; failed %v", got, ordersWithStatus(t, s.Store(), StatusPending), ordersWithStatus(t, s.Store(), StatusFailed))
	}
}
