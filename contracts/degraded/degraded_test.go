package degraded

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/order"
)

// newSyncOrderService runs the real order-service in sync mode, calling
// inventory at inventoryURL, on an httptest server (127.0.0.1).
func newSyncOrderService(t *testing.T, inventoryURL string) *httptest.Server {
	t.Helper()
	svc, err := order.New(order.Config{
		Mode:             order.ModeSync,
		DBPath:           filepath.Join(t.TempDir(), "orders.db"),
		InventoryURL:     inventoryURL,
		InventoryTimeout: 300 * time.Millisecond,
	}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("new order service: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// deadURL returns the URL of a 127.0.0.1 port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func postOrder(t *testing.T, baseURL, idemKey string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, baseURL+"/orders", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /orders: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestRealOrderServiceDegradesToTheContract: order-service in sync mode
// with inventory down (refused) or hanging (timeout) answers the
// documented 503, a replay with the same Idempotency-Key answers it again,
// and the order named in the message is stored FAILED.
func TestRealOrderServiceDegradesToTheContract(t *testing.T) {
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only after the client gave up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) }) // runs first: frees the handler so Close returns
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)

	for _, tc := range []struct{ name, inventoryURL string }{
		{"connection refused", deadURL(t)},
		{"timeout", hanging.URL},
		{"inventory 500", failing.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSyncOrderService(t, tc.inventoryURL)

			resp, body := postOrder(t, srv.URL, "key-1")
			if err := Check503(resp.StatusCode, resp.Header, body); err != nil {
				t.Fatalf("first answer: %v\nheaders %v\nbody %s", err, resp.Header, body)
			}
			replay, replayBody := postOrder(t, srv.URL, "key-1")
			if err := Check503(replay.StatusCode, replay.Header, replayBody); err != nil {
				t.Fatalf("replayed answer: %v", err)
			}
			if !bytes.Equal(body, replayBody) || replay.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay: body %s (Idempotent-Replayed %q), want the first body %s replayed", replayBody, replay.Header.Get("Idempotent-Replayed"), body)
			}

			a, err := Parse503(resp.StatusCode, resp.Header, body)
			if err != nil || a.Code != CodeInventoryUnavailable || a.OrderID == "" || a.RetryAfter != time.Second {
				t.Fatalf("Parse503 = %+v, %v; want inventory_unavailable naming the stored order, Retry-After 1s", a, err)
			}
			id := a.OrderID
			get, err := http.Get(srv.URL + "/orders/" + id)
			if err != nil {
				t.Fatalf("GET /orders/%s: %v", id, err)
			}
			defer get.Body.Close()
			var o order.Order
			if err := json.NewDecoder(get.Body).Decode(&o); err != nil || get.StatusCode != http.StatusOK {
				t.Fatalf("GET /orders/%s: %d, %v", id, get.StatusCode, err)
			}
			if o.Status != order.StatusFailed || !strings.HasPrefix(o.Reason, CodeInventoryUnavailable) {
				t.Errorf("order %s is %s (reason %q), want FAILED with reason %s…", id, o.Status, o.Reason, CodeInventoryUnavailable)
			}
		})
	}
}

func TestCheck503RejectsOtherShapes(t *testing.T) {
	goodHeader := func() http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}}
	}
	const good = `{"error":{"code":"inventory_unavailable","message":"order 0b7c failed: inventory unavailable: connection refused; retry later"}}` + "\n"
	if err := Check503(http.StatusServiceUnavailable, goodHeader(), []byte(good)); err != nil {
		t.Fatalf("the documented shape: %v", err)
	}
	withHeader := func(k, v string) http.Header {
		h := goodHeader()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   string
	}{
		{"status 500", 500, goodHeader(), good, "status 500"},
		{"sync 409", 409, goodHeader(), `{"error":{"code":"insufficient_stock","message":"order 1 rejected: insufficient stock"}}`, `error.code "insufficient_stock"`},
		{"circuit open, order stored", 503, goodHeader(), `{"error":{"code":"circuit_open","message":"order 1 failed: circuit open: 5 failures; retry later"}}`, ""},
		{"circuit open, turned away", 503, withHeader("Retry-After", "7"), `{"error":{"code":"circuit_open","message":"circuit open: 5 consecutive failures, probe in 6.2s: inventory unavailable; nothing was stored, retry later"}}`, ""},
		{"bulkhead full", 503, goodHeader(), `{"error":{"code":"bulkhead_full","message":"bulkhead full: 8 inventory calls in flight: inventory unavailable; nothing was stored, retry later"}}`, ""},
		{"bulkhead full naming an order", 503, goodHeader(), `{"error":{"code":"bulkhead_full","message":"order 1 failed: bulkhead full; retry later"}}`, "nothing was stored"},
		{"unavailable but nothing stored", 503, goodHeader(), `{"error":{"code":"inventory_unavailable","message":"inventory unavailable; nothing was stored, retry later"}}`, "order <id> failed"},
		{"unknown 503 code", 503, goodHeader(), `{"error":{"code":"overloaded","message":"order 1 failed: x; retry later"}}`, `error.code "overloaded"`},
		{"no content type", 503, withHeader("Content-Type", ""), good, "no Content-Type"},
		{"text/plain", 503, withHeader("Content-Type", "text/plain; charset=utf-8"), good, `Content-Type "text/plain`},
		{"charset is fine", 503, withHeader("Content-Type", "application/json; charset=utf-8"), good, ""},
		{"no Retry-After", 503, withHeader("Retry-After", ""), good, "no Retry-After"},
		{"Retry-After date", 503, withHeader("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"), good, "Retry-After \"Wed"},
		{"Retry-After 0", 503, withHeader("Retry-After", "0"), good, `Retry-After "0"`},
		{"not JSON", 503, goodHeader(), "Service Unavailable", "body is not"},
		{"extra field", 503, goodHeader(), `{"error":{"code":"inventory_unavailable","message":"order 1 failed: x; retry later","retry":true}}`, "unknown field"},
		{"extra top-level field", 503, goodHeader(), `{"error":{"code":"inventory_unavailable","message":"order 1 failed: x; retry later"},"order":{}}`, "unknown field"},
		{"trailing data", 503, goodHeader(), good + `{}`, "data after"},
		{"no error object", 503, goodHeader(), `{}`, `no "error" object`},
		{"no code", 503, goodHeader(), `{"error":{"message":"order 1 failed: x; retry later"}}`, "error.code is missing"},
		{"no message", 503, goodHeader(), `{"error":{"code":"inventory_unavailable"}}`, "error.message is missing"},
		{"no order in message", 503, goodHeader(), `{"error":{"code":"inventory_unavailable","message":"inventory unavailable"}}`, "error.message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check503(tt.status, tt.header, []byte(tt.body))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check503: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check503 accepted it, want an error naming %q", tt.want)
			}
			if !errors.Is(err, ErrShape) {
				t.Errorf("error %v does not wrap ErrShape", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}
