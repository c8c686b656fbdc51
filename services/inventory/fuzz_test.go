package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
)

// FuzzPostReservation throws arbitrary bodies and content types at
// POST /reservations: it never panics, answers only documented statuses
// and codes, reserves only for well-formed requests within the bounds
// (events.CheckOrderID, CheckSKU, CheckQuantity) sent as application/json
// or without Content-Type, never moves stock on an error (409 included),
// and a repeat of an accepted request is answered the same way without
// moving stock again.
func FuzzPostReservation(f *testing.F) {
	svc := newService(f, map[string]int{"SKU-A": 1_000_000, "SKU-LOW": 1}, inventory.Config{})
	f.Add(`{"order_id":"o1","sku":"SKU-A","quantity":1}`, "application/json")
	f.Add(`{"order_id":"o2","sku":"SKU-LOW","quantity":2}`, "")
	f.Add(`{"order_id":"o3","sku":"SKU-NOPE","quantity":1}`, "")
	f.Add(`{"order_id":" ","sku":"SKU-A","quantity":0}`, "")
	f.Add(`{"order_id":"o1","sku":"SKU-A","quantity":1,"x":true}`, "")
	f.Add(`{"order_id":`, "text/plain")
	f.Add(`{"order_id":"o1","sku":"SKU-A","quantity":2}`, "application/json")
	f.Add(`{"order_id":"o4","sku":"SKU-A","quantity":1,"quantity":2}`, "")
	f.Add(`{"order_id":"o5","SKU":"SKU-A","quantity":1}`, "")
	f.Add(`{"order_id":"o6","sku":"SKU-A","quantity":10001}`, "application/jsonp")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		post := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/reservations", strings.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			rec := httptest.NewRecorder()
			svc.Handler().ServeHTTP(rec, req)
			return rec
		}
		before := available(t, svc.Store(), "SKU-A") + available(t, svc.Store(), "SKU-LOW")
		rec := post()
		switch rec.Code {
		case http.StatusCreated:
			var req struct {
				OrderID  string `json:"order_id"`
				SKU      string `json:"sku"`
				Quantity int    `json:"quantity"`
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil || events.CheckOrderID(req.OrderID) != nil || events.CheckSKU(req.SKU) != nil || events.CheckQuantity(req.Quantity) != nil {
				t.Fatalf("reserved for a bad request %q: %s", body, rec.Body)
			}
			if mt, _, err := mime.ParseMediaType(contentType); contentType != "" && (err != nil || mt != "application/json") {
				t.Fatalf("accepted content type %q", contentType)
			}
			if !utf8.ValidString(body) {
				t.Fatalf("accepted invalid UTF-8 %q", body)
			}
			after := available(t, svc.Store(), "SKU-A") + available(t, svc.Store(), "SKU-LOW")
			again := post()
			if again.Code != http.StatusCreated || !bytes.Equal(again.Body.Bytes(), rec.Body.Bytes()) {
				t.Fatalf("repeat of %q: %d %s, first %s", body, again.Code, again.Body, rec.Body)
			}
			if before-after > req.Quantity || available(t, svc.Store(), "SKU-A")+available(t, svc.Store(), "SKU-LOW") != after {
				t.Fatalf("stock moved wrongly: %d -> %d (quantity %d), then %d", before, after, req.Quantity, available(t, svc.Store(), "SKU-A")+available(t, svc.Store(), "SKU-LOW"))
			}
		default:
			want := map[int][]string{
				400: {"malformed_json", "invalid_request"},
				404: {"unknown_sku"},
				409: {"insufficient_stock", "order_id_reused"},
				413: {"body_too_large"},
				415: {"unsupported_media_type"},
			}[rec.Code]
			code := errCode(t, rec.Body.Bytes())
			ok := false
			for _, w := range want {
				ok = ok || w == code
			}
			if !ok {
				t.Fatalf("POST /reservations %q (content type %q) = %d %s", body, contentType, rec.Code, rec.Body)
			}
			if available(t, svc.Store(), "SKU-A")+available(t, svc.Store(), "SKU-LOW") != before {
				t.Fatalf("a %d %s moved stock", rec.Code, code)
			}
		}
	})
}

// FuzzHandleOrderPlaced throws arbitrary record values at the order-placed
// handler: it never panics, calls undecodable or foreign records poison
// (ErrInvalid: dead-lettered), and records whose order ID already has a
// reservation for another SKU or quantity too (ErrOrderIDReused, nothing
// published), and handles valid ones, publishing exactly the stored
// outcome.
func FuzzHandleOrderPlaced(f *testing.F) {
	pub := &recorder{}
	svc := newService(f, map[string]int{"SKU-A": 1_000_000}, inventory.Config{Publisher: pub})
	ok, _ := events.Record(events.Event{EventID: "e", Type: events.OrderPlaced, OrderID: "o", SKU: "SKU-A", Quantity: 1, OccurredAt: time.Now()})
	f.Add(ok.Value)
	f.Add([]byte(`{"event_id":"e","type":"stock-reserved","order_id":"o","sku":"SKU-A","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`))
	f.Add([]byte(`{"event_id":"e","type":"order-placed","order_id":"o2","sku":"SKU-X","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`))
	f.Add([]byte(`{"event_id":`))
	f.Add([]byte(`{"event_id":"e","type":"order-placed","order_id":"o","sku":"SKU-A","quantity":2,"occurred_at":"2026-11-29T10:00:00Z"}`))
	f.Add([]byte(`{"event_id":"e","type":"order-placed","order_id":"o","sku":"SKU-A","quantity":1,"quantity":2,"occurred_at":"2026-11-29T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		n := len(pub.sent())
		err := svc.HandleOrderPlaced(context.Background(), events.Message{Topic: events.TopicOrderPlaced, Key: "k", Value: value})
		e, decErr := events.Decode(value)
		switch {
		case decErr != nil || e.Type != events.OrderPlaced:
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("poison %q: err %v, want ErrInvalid", value, err)
			}
			if len(pub.sent()) != n {
				t.Fatalf("poison %q published an outcome", value)
			}
		case errors.Is(err, inventory.ErrOrderIDReused):
			if !errors.Is(err, events.ErrInvalid) || len(pub.sent()) != n {
				t.Fatalf("order-placed %q reusing an order ID: err %v, %d outcomes published; want poison, none", value, err, len(pub.sent())-n)
			}
		case err != nil:
			t.Fatalf("valid order-placed %q: %v", value, err)
		default:
			sent := pub.sent()
			if len(sent) != n+1 || sent[n].Key != e.OrderID {
				t.Fatalf("valid order-placed %q: published %d records, last %+v", value, len(sent)-n, sent[len(sent)-1])
			}
		}
	})
}
