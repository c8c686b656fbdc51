package order

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/faultline-harness/faultline/services/events"
)

// FuzzCreateOrder throws arbitrary bodies, content types and
// Idempotency-Keys at POST /orders (async mode: nothing leaves the
// process). It never panics, answers only documented statuses with the
// documented error codes, and accepts only well-formed orders within the
// bounds (events.CheckSKU, events.CheckQuantity), sent as
// application/json (or without Content-Type), which it stores with their
// outbox record.
func FuzzCreateOrder(f *testing.F) {
	s := newService(f, Config{Mode: ModeAsync, Catalog: map[string]int{"SKU-1": 1, "SKU-2": 1}})
	f.Add(`{"sku":"SKU-1","quantity":2}`, "application/json", "")
	f.Add(`{"sku":"SKU-1","quantity":2}`, "", "key-1")
	f.Add(`{"sku":"SKU-2","quantity":5}`, "application/json", "key-1")
	f.Add(`{"sku":"NOPE","quantity":1}`, "", "")
	f.Add(`{"sku":"  ","quantity":1}`, "", "")
	f.Add(`{"sku":"SKU-1","quantity":-1}`, "", "")
	f.Add(`{"sku":"SKU-1","quantity":1,"x":1}`, "", "")
	f.Add(`{"sku":`, "text/plain", strings.Repeat("k", 300))
	f.Add(`{"sku":"SKU-1","quantity":1,"quantity":5}`, "application/json", "")
	f.Add(`{"SKU":"SKU-1","QUANTITY":1}`, "", "")
	f.Add(`{"sku":"SKU-1","quantity":10001}`, "application/json; charset=utf-8", "")
	f.Add(`{"sku":"SKU-1","quantity":1}`, "application/jsonp", "")
	f.Fuzz(func(t *testing.T, body, contentType, key string) {
		hdr := map[string]string{"Content-Type": contentType}
		if key != "" {
			hdr["Idempotency-Key"] = key
		}
		res := do(t, s.Handler(), http.MethodPost, "/orders", []byte(body), hdr)
		switch res.status {
		case http.StatusAccepted:
			var req createRequest
			dec := json.NewDecoder(bytes.NewReader([]byte(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil || events.CheckSKU(req.SKU) != nil || events.CheckQuantity(req.Quantity) != nil || len(key) > MaxIdempotencyKeyLen {
				t.Fatalf("accepted a bad request %q (key %d bytes): %s", body, len(key), res.body)
			}
			if mt, _, err := mime.ParseMediaType(contentType); contentType != "" && (err != nil || mt != "application/json") {
				t.Fatalf("accepted content type %q", contentType)
			}
			if !utf8.ValidString(body) {
				t.Fatalf("accepted invalid UTF-8 %q", body)
			}
			o := res.order(t)
			if o.SKU != req.SKU || o.Quantity != req.Quantity || o.Status != StatusPending || res.header.Get("Location") != "/orders/"+o.ID {
				t.Fatalf("202 body %s for request %q", res.body, body)
			}
			if _, err := s.Store().Get(context.Background(), o.ID); err != nil {
				t.Fatalf("accepted order %s not stored: %v", o.ID, err)
			}
		default:
			want := map[int][]string{
				400: {"malformed_json", "invalid_request"},
				413: {"body_too_large"},
				415: {"unsupported_media_type"},
				422: {"unknown_sku", "idempotency_key_reused"},
			}[res.status]
			code := res.errCode(t)
			found := false
			for _, w := range want {
				found = found || w == code
			}
			if !found {
				t.Fatalf("POST /orders %q (content type %q) = %d %s", body, contentType, res.status, res.body)
			}
		}
	})
}

// FuzzHandleStockOutcome throws arbitrary record values at the
// stock-outcome handler: it never panics and either applies the record or
// calls it poison (ErrInvalid, dead-lettered); it never moves an order on
// an invalid record.
func FuzzHandleStockOutcome(f *testing.F) {
	s := newService(f, Config{Mode: ModeAsync})
	ctx := context.Background()
	o, err := s.Store().PlaceAsync(ctx, Order{ID: "fuzz-order", SKU: "SKU-1", Quantity: 1}, "fuzz-event")
	if err != nil {
		f.Fatal(err)
	}
	ok, _ := events.Record(events.Event{EventID: "e", Type: events.StockReserved, OrderID: "other-order", SKU: "SKU-1", Quantity: 1, OccurredAt: time.Now()})
	f.Add(ok.Value)
	f.Add([]byte(`{"event_id":"e","type":"order-placed","order_id":"fuzz-order","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`))
	f.Add([]byte(`{"event_id":`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		before, err := s.Store().Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		err = s.HandleStockOutcome(ctx, events.Message{Topic: events.TopicStockReserved, Key: "k", Value: value})
		e, decErr := events.Decode(value)
		switch {
		case decErr != nil || (e.Type != events.StockReserved && e.Type != events.StockRejected):
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("poison %q: err %v, want ErrInvalid", value, err)
			}
		case err != nil:
			t.Fatalf("valid outcome %q: %v", value, err)
		}
		got, err := s.Store().Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != before && (decErr != nil || e.OrderID != o.ID || before.Status != StatusPending) {
			t.Fatalf("order %s went from %+v to %+v after %q", o.ID, before, got, value)
		}
	})
}
