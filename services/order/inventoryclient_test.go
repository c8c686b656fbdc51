package order

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/web"
)

func TestInventoryClientOutcomes(t *testing.T) {
	inv := newFakeInventory(t, map[string]int{"SKU-1": 3}, nil)
	c := NewInventoryClient(inv.URL+"/", time.Second)
	ctx := context.Background()

	if s, err := c.Stock(ctx, "SKU-1"); err != nil || s != (Stock{"SKU-1", 3}) {
		t.Fatalf("Stock = %+v, %v", s, err)
	}
	if _, err := c.Stock(ctx, "NOPE"); !errors.Is(err, ErrUnknownSKU) {
		t.Fatalf("Stock(NOPE) err = %v", err)
	}
	req := ReservationRequest{OrderID: "o-1", SKU: "SKU-1", Quantity: 2}
	want := Reservation{OrderID: "o-1", SKU: "SKU-1", Quantity: 2, Status: "reserved"}
	if res, err := c.Reserve(ctx, req); err != nil || res != want {
		t.Fatalf("Reserve = %+v, %v", res, err)
	}
	if res, err := c.Reserve(ctx, req); err != nil || res != want { // idempotent by order ID
		t.Fatalf("Reserve again = %+v, %v", res, err)
	}
	if _, err := c.Reserve(ctx, ReservationRequest{OrderID: "o-2", SKU: "SKU-1", Quantity: 2}); !errors.Is(err, ErrInsufficientStock) {
		t.Fatalf("over-reserve err = %v", err)
	}
	if _, err := c.Reserve(ctx, ReservationRequest{OrderID: "o-3", SKU: "NOPE", Quantity: 1}); !errors.Is(err, ErrUnknownSKU) {
		t.Fatalf("unknown sku err = %v", err)
	}
}

func TestInventoryClientUnavailable(t *testing.T) {
	respond := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	for name, h := range map[string]http.HandlerFunc{
		"500":        func(w http.ResponseWriter, r *http.Request) { web.WriteError(w, 500, "boom", "down") },
		"502 html":   respond(502, "<html>bad gateway</html>"),
		"400":        func(w http.ResponseWriter, r *http.Request) { web.WriteError(w, 400, "invalid_request", "nope") },
		"201 junk":   respond(201, "{not json"),
		"redirect":   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) },
		"empty 201":  respond(201, ""),
		"dropped":    func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
		"teapot 418": respond(418, `{"error":{"code":"teapot","message":"short and stout"}}`),
		"409 order_id_reused": func(w http.ResponseWriter, r *http.Request) {
			web.WriteError(w, http.StatusConflict, "order_id_reused", "order_id \"o\" already has a reservation for 2 x \"SKU-1\"")
		},
		"409 not an error body": respond(409, "conflict"),
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			_, err := NewInventoryClient(srv.URL, time.Second).Reserve(context.Background(), ReservationRequest{"o", "SKU-1", 1})
			if !errors.Is(err, ErrInventoryUnavailable) || errors.Is(err, ErrUnknownSKU) || errors.Is(err, ErrInsufficientStock) {
				t.Fatalf("err = %v, want only ErrInventoryUnavailable", err)
			}
		})
	}
}

func TestInventoryClientTimeoutAndCancel(t *testing.T) {
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	start := time.Now()
	_, err := NewInventoryClient(inv.URL, 150*time.Millisecond).Reserve(context.Background(), ReservationRequest{"o", "SKU-1", 1})
	var ne net.Error
	if !errors.Is(err, ErrInventoryUnavailable) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want ErrInventoryUnavailable wrapping a timeout", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("timed out after %v, want ~150ms", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = NewInventoryClient(inv.URL, time.Second).Stock(ctx, "SKU-1")
	if !errors.Is(err, ErrInventoryUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInventoryUnavailable and context.Canceled", err)
	}
}

// Stock asks for the path-escaped SKU, as JSON, and maps each answer: 200
// to the stock, 404 to ErrUnknownSKU, anything else (a 409 included: only
// a reservation can be short of stock) to ErrInventoryUnavailable.
func TestInventoryClientStock(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	var gotPath, gotAccept string
	var next answer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAccept = r.URL.EscapedPath(), r.Header.Get("Accept")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(next.status)
		_, _ = w.Write([]byte(next.body))
	}))
	t.Cleanup(srv.Close)
	c := NewInventoryClient(srv.URL, time.Second)
	ctx := context.Background()

	next = answer{200, `{"sku":"A/B C","available":7}`}
	s, err := c.Stock(ctx, "A/B C")
	if err != nil || s != (Stock{SKU: "A/B C", Available: 7}) {
		t.Fatalf("Stock = %+v, %v", s, err)
	}
	if gotPath != "/stock/A%2FB%20C" || gotAccept != "application/json" {
		t.Fatalf("request path %q, Accept %q; want /stock/A%%2FB%%20C and application/json", gotPath, gotAccept)
	}
	for _, tc := range []struct {
		answer answer
		want   error
	}{
		{answer{404, `{"error":{"code":"unknown_sku","message":"unknown sku"}}`}, ErrUnknownSKU},
		{answer{409, `{"error":{"code":"insufficient_stock","message":"?"}}`}, ErrInventoryUnavailable},
		{answer{500, `{"error":{"code":"internal","message":"boom"}}`}, ErrInventoryUnavailable},
		{answer{200, `{"sku":"A","available":"7"}`}, ErrInventoryUnavailable},
		{answer{200, `not json`}, ErrInventoryUnavailable},
	} {
		next = tc.answer
		s, err := c.Stock(ctx, "A")
		if !errors.Is(err, tc.want) || s != (Stock{}) {
			t.Errorf("answer %d %s: Stock = %+v, %v; want the zero stock and %v", tc.answer.status, tc.answer.body, s, err, tc.want)
		}
		if tc.want == ErrInventoryUnavailable && (errors.Is(err, ErrUnknownSKU) || errors.Is(err, ErrInsufficientStock)) {
			t.Errorf("answer %d: %v is also a business answer", tc.answer.status, err)
		}
	}
}
