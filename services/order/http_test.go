package order

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/web"
)

func TestCreateOrderRequestErrors(t *testing.T) {
	big := `{"sku":"` + strings.Repeat("a", web.MaxBodyBytes+10) + `","quantity":1}`
	mibSKU := `{"sku":"` + strings.Repeat("a", web.MaxBodyBytes-100) + `","quantity":1}` // under the body limit
	ctJSON := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name   string
		body   string
		header map[string]string
		status int
		code   string
		msgHas string // the message names the field (and the bound)
	}{
		{"malformed json", `{"sku":`, nil, 400, "malformed_json", ""},
		{"unknown field", `{"sku":"SKU-1","quantity":1,"color":"red"}`, nil, 400, "malformed_json", "color"},
		{"empty body", ``, nil, 400, "malformed_json", "empty"},
		{"trailing data", `{"sku":"SKU-1","quantity":1} {}`, nil, 400, "malformed_json", ""},
		{"quantity wrong type", `{"sku":"SKU-1","quantity":"2"}`, nil, 400, "malformed_json", "quantity"},
		{"body over 1 MiB", big, nil, 413, "body_too_large", ""},
		{"wrong content type", `{"sku":"SKU-1","quantity":1}`, map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type", ""},
		{"quantity zero", `{"sku":"SKU-1","quantity":0}`, nil, 400, "invalid_request", "quantity must be from 1 to 10000"},
		{"quantity negative", `{"sku":"SKU-1","quantity":-3}`, nil, 400, "invalid_request", "quantity"},
		{"missing sku", `{"quantity":1}`, nil, 400, "invalid_request", "sku is required"},
		{"blank sku", `{"sku":"  ","quantity":1}`, nil, 400, "invalid_request", "sku"},
		{"unknown sku in catalog", `{"sku":"NOPE","quantity":1}`, nil, 422, "unknown_sku", ""},
		{"idempotency key too long", `{"sku":"SKU-1","quantity":1}`, map[string]string{"Idempotency-Key": strings.Repeat("k", MaxIdempotencyKeyLen+1)}, 400, "invalid_request", "Idempotency-Key"},
		// Bounds (events.MaxSKULen, events.MaxQuantity).
		{"quantity over the bound", `{"sku":"SKU-1","quantity":10001}`, ctJSON, 400, "invalid_request", "quantity must be from 1 to 10000, got 10001"},
		{"quantity max int64", `{"sku":"SKU-1","quantity":9223372036854775807}`, ctJSON, 400, "invalid_request", "quantity must be from 1 to 10000"},
		{"sku over the bound", `{"sku":"` + strings.Repeat("S", 65) + `","quantity":1}`, ctJSON, 400, "invalid_request", "sku must be at most 64 bytes, got 65"},
		{"sku of almost 1 MiB", mibSKU, ctJSON, 400, "invalid_request", "sku must be at most 64 bytes"},
		{"sku with a line break", `{"sku":"SKU\n1","quantity":1}`, ctJSON, 400, "invalid_request", "sku must be printable"},
		{"both out of bounds", `{"sku":"` + strings.Repeat("S", 65) + `","quantity":0}`, ctJSON, 400, "invalid_request", "sku must be at most 64 bytes, got 65; quantity"},
		// Strict JSON (encoding/json v1 accepted each of these).
		{"duplicate key", `{"sku":"SKU-1","quantity":1,"quantity":5}`, ctJSON, 400, "malformed_json", "duplicate"},
		{"field names in another case", `{"SKU":"SKU-1","QUANTITY":1}`, ctJSON, 400, "malformed_json", "SKU"},
		{"invalid UTF-8", "{\"sku\":\"SKU-1\xff\",\"quantity\":1}", ctJSON, 400, "malformed_json", "UTF-8"},
		{"quantity beyond int64", `{"sku":"SKU-1","quantity":9223372036854775808}`, ctJSON, 400, "malformed_json", "quantity"},
		{"quantity fraction", `{"sku":"SKU-1","quantity":1.5}`, ctJSON, 400, "malformed_json", "quantity"},
		{"quantity exponent", `{"sku":"SKU-1","quantity":1e2}`, ctJSON, 400, "malformed_json", "quantity"},
		{"null body", `null`, ctJSON, 400, "malformed_json", "object"},
		// Content-Type is the media type application/json, nothing else.
		{"jsonp content type", `{"sku":"SKU-1","quantity":1}`, map[string]string{"Content-Type": "application/jsonp"}, 415, "unsupported_media_type", "application/jsonp"},
		{"latin-1 charset", `{"sku":"SKU-1","quantity":1}`, map[string]string{"Content-Type": "application/json; charset=latin1"}, 415, "unsupported_media_type", "utf-8"},
	}
	for _, mode := range []Mode{ModeSync, ModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			inv := newFakeInventory(t, map[string]int{"SKU-1": 1000}, nil)
			s := newService(t, Config{Mode: mode, InventoryURL: inv.URL, Catalog: map[string]int{"SKU-1": 10}})
			want := map[Mode]int{ModeSync: http.StatusCreated, ModeAsync: http.StatusAccepted}[mode]
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					header := map[string]string{"Idempotency-Key": fmt.Sprintf("bad-request-%d", i)}
					for k, v := range tc.header {
						header[k] = v
					}
					orders, outbox := counts(t, s.Store())
					res := do(t, s.Handler(), http.MethodPost, "/orders", []byte(tc.body), header)
					if res.status != tc.status {
						t.Fatalf("status = %d, want %d; body %.200s", res.status, tc.status, res.body)
					}
					if code := res.errCode(t); code != tc.code {
						t.Fatalf("error code = %q, want %q", code, tc.code)
					}
					if !strings.Contains(string(res.body), tc.msgHas) {
						t.Fatalf("error body %.300s does not mention %q", res.body, tc.msgHas)
					}
					if o, ob := counts(t, s.Store()); o != orders || ob != outbox {
						t.Fatalf("side effects: %d orders, %d outbox rows, had %d and %d", o, ob, orders, outbox)
					}
					if len(inv.calls) != 0 {
						t.Fatalf("inventory called for a bad request: %+v", <-inv.calls)
					}
					if key := header["Idempotency-Key"]; len(key) <= MaxIdempotencyKeyLen {
						// The key is still unused: a good request with it places an order.
						res := postOrder(t, s.Handler(), "SKU-1", 1, key)
						if res.status != want || res.header.Get("Idempotent-Replayed") != "" {
							t.Fatalf("good request with the refused request's key: %d %s (replayed %q)", res.status, res.body, res.header.Get("Idempotent-Replayed"))
						}
						if mode == ModeSync {
							<-inv.calls
						}
					}
				})
			}
		})
	}
}

// TestCreateOrderAtTheBounds: a SKU of exactly events.MaxSKULen bytes and
// a quantity of events.MaxQuantity are accepted in both modes, and the
// largest order's record is far under the producer's MaxMessageBytes.
func TestCreateOrderAtTheBounds(t *testing.T) {
	sku := strings.Repeat("Ü", events.MaxSKULen/2) // 2 bytes each
	for _, mode := range []Mode{ModeSync, ModeAsync} {
		t.Run(string(mode), func(t *testing.T) {
			inv := newFakeInventory(t, map[string]int{sku: events.MaxQuantity}, nil)
			s := newService(t, Config{Mode: mode, InventoryURL: inv.URL})
			res := postOrder(t, s.Handler(), sku, events.MaxQuantity, "at-the-bounds")
			if res.status != map[Mode]int{ModeSync: http.StatusCreated, ModeAsync: http.StatusAccepted}[mode] {
				t.Fatalf("order at the bounds: %d %s", res.status, res.body)
			}
			if o := res.order(t); o.SKU != sku || o.Quantity != events.MaxQuantity {
				t.Fatalf("order %+v", o)
			}
		})
	}
	o := Order{ID: strings.Repeat("o", events.MaxOrderIDLen), SKU: strings.Repeat("S", events.MaxSKULen), Quantity: events.MaxQuantity, CreatedAt: time.Now()}
	msg, err := orderPlacedRecord(o, strings.Repeat("e", events.MaxEventIDLen))
	if err != nil {
		t.Fatal(err)
	}
	if n := messaging.RecordSize(msg); n > 2000 {
		t.Fatalf("the largest order-placed record is %d bytes; the bounds should keep it under 2000 (limit %d)", n, messaging.MaxMessageBytes)
	}
}

// TestRecordSizeCheck: a record over the limit is refused with
// messaging.ErrTooLarge (permanent), one at the limit passes.
func TestRecordSizeCheck(t *testing.T) {
	msg, err := orderPlacedRecord(Order{ID: "o", SKU: "SKU-1", Quantity: 1, CreatedAt: time.Now()}, "e")
	if err != nil {
		t.Fatal(err)
	}
	n := messaging.RecordSize(msg)
	if err := checkRecordSize(msg, n); err != nil {
		t.Fatalf("record of %d bytes at a limit of %d: %v", n, n, err)
	}
	err = checkRecordSize(msg, n-1)
	if !errors.Is(err, messaging.ErrTooLarge) || !messaging.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprint(n)) {
		t.Fatalf("record of %d bytes at a limit of %d: %v, want ErrTooLarge naming the size", n, n-1, err)
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
