package events_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

func valid() events.Event {
	return events.Event{EventID: "e-1", Type: events.OrderPlaced, OrderID: "o-1", SKU: "SKU-1", Quantity: 2,
		OccurredAt: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
}

func TestValidate(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	for name, tc := range map[string]struct {
		mutate func(*events.Event)
		field  string
	}{
		"no event id":       {func(e *events.Event) { e.EventID = " " }, "event_id"},
		"unknown type":      {func(e *events.Event) { e.Type = "order-shipped" }, "type"},
		"empty type":        {func(e *events.Event) { e.Type = "" }, "type"},
		"no order id":       {func(e *events.Event) { e.OrderID = "" }, "order_id"},
		"no sku":            {func(e *events.Event) { e.SKU = "\t" }, "sku"},
		"zero quantity":     {func(e *events.Event) { e.Quantity = 0 }, "quantity"},
		"negative":          {func(e *events.Event) { e.Quantity = -1 }, "quantity"},
		"no occurred time":  {func(e *events.Event) { e.OccurredAt = time.Time{} }, "occurred_at"},
		"sku too long":      {func(e *events.Event) { e.SKU = strings.Repeat("S", events.MaxSKULen+1) }, "sku must be at most 64 bytes"},
		"sku line break":    {func(e *events.Event) { e.SKU = "SKU\n1" }, "sku must be printable"},
		"sku bad utf-8":     {func(e *events.Event) { e.SKU = "SKU-\xff" }, "sku is not valid UTF-8"},
		"quantity too big":  {func(e *events.Event) { e.Quantity = events.MaxQuantity + 1 }, "quantity must be from 1 to 10000"},
		"quantity max int":  {func(e *events.Event) { e.Quantity = math.MaxInt }, "quantity"},
		"order id too long": {func(e *events.Event) { e.OrderID = strings.Repeat("o", events.MaxOrderIDLen+1) }, "order_id must be at most 128"},
		"order id control":  {func(e *events.Event) { e.OrderID = "o\x001" }, "order_id must be printable"},
		"event id too long": {func(e *events.Event) { e.EventID = strings.Repeat("e", events.MaxEventIDLen+1) }, "event_id must be at most 256"},
		"reason too long":   {func(e *events.Event) { e.Reason = strings.Repeat("r", events.MaxReasonLen+1) }, "reason must be at most 64"},
		"reason control":    {func(e *events.Event) { e.Reason = "a\tb" }, "reason must be printable"},
	} {
		t.Run(name, func(t *testing.T) {
			e := valid()
			tc.mutate(&e)
			err := e.Validate()
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want ErrInvalid naming %s", err, tc.field)
			}
		})
	}
	// The bounds themselves are valid.
	edge := valid()
	edge.SKU, edge.Quantity = strings.Repeat("Ü", events.MaxSKULen/2), events.MaxQuantity
	edge.OrderID, edge.EventID = strings.Repeat("o", events.MaxOrderIDLen), strings.Repeat("e", events.MaxEventIDLen)
	edge.Reason = strings.Repeat("r", events.MaxReasonLen)
	if err := edge.Validate(); err != nil {
		t.Fatalf("event at the bounds: %v", err)
	}
	for _, typ := range []events.Type{events.OrderPlaced, events.StockReserved, events.StockRejected} {
		e := valid()
		e.Type = typ
		if err := e.Validate(); err != nil || e.Topic() != string(typ) {
			t.Errorf("type %s: %v, topic %s", typ, err, e.Topic())
		}
	}
}

func TestRecord(t *testing.T) {
	e := valid()
	e.Type, e.Reason = events.StockRejected, "insufficient_stock"
	m, err := events.Record(e)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != events.TopicStockRejected || m.Key != "o-1" {
		t.Fatalf("topic %q key %q", m.Topic, m.Key)
	}
	wantHeaders := []events.Header{{"content-type", "application/json"}, {"event-type", "stock-rejected"}, {"event-id", "e-1"}}
	if !reflect.DeepEqual(m.Headers, wantHeaders) {
		t.Fatalf("headers %v", m.Headers)
	}
	if m.Header("Event-ID") != "e-1" || m.Header("missing") != "" {
		t.Fatalf("Header lookup is not case-insensitive or invents values")
	}
	var raw map[string]any
	if err := json.Unmarshal(m.Value, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "type", "order_id", "sku", "quantity", "occurred_at", "reason"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("value %s lacks %q", m.Value, k)
		}
	}
	got, err := events.Decode(m.Value)
	if err != nil || got != e {
		t.Fatalf("Decode(Record(e)) = %+v, %v; want %+v", got, err, e)
	}
	e.Reason = ""
	m, _ = events.Record(e)
	if strings.Contains(string(m.Value), "reason") {
		t.Fatalf("empty reason encoded: %s", m.Value)
	}
	e.Quantity = 0
	if _, err := events.Record(e); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Record of an invalid event: %v", err)
	}
}

func TestDecode(t *testing.T) {
	for name, value := range map[string]string{
		"empty":          ``,
		"not json":       `{"event_id":`,
		"array":          `[]`,
		"null":           `null`,
		"wrong types":    `{"event_id":1,"type":"order-placed"}`,
		"missing fields": `{"event_id":"e","type":"order-placed","order_id":"o"}`,
		"bad time":       `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1,"occurred_at":"yesterday"}`,
		"unknown type":   `{"event_id":"e","type":"x","order_id":"o","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
		// Strictness (encoding/json v1 accepted all of these).
		"duplicate key":           `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1,"quantity":5,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"name in another case":    `{"event_id":"e","type":"order-placed","order_id":"o","SKU":"s","QUANTITY":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"second name, other case": `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","Sku":"t","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"folded name (long s)":    `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","\u017fku":"t","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"invalid UTF-8":           "{\"event_id\":\"e\",\"type\":\"order-placed\",\"order_id\":\"o\",\"sku\":\"s\xff\",\"quantity\":1,\"occurred_at\":\"2026-11-29T10:00:00Z\"}",
		"lone surrogate escape":   `{"event_id":"e","type":"order-placed","order_id":"o","sku":"\ud800","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"float quantity":          `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1.5,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"exponent quantity":       `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1e3,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"quantity overflows int":  `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":9223372036854775808,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"quantity max int64":      `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":9223372036854775807,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"quantity over bound":     `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":10001,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"sku over bound":          `{"event_id":"e","type":"order-placed","order_id":"o","sku":"` + strings.Repeat("s", 65) + `","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
		"trailing data":           `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"} {}`,
		"byte order mark":         "\ufeff" + `{"event_id":"e","type":"order-placed","order_id":"o","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z"}`,
	} {
		if _, err := events.Decode([]byte(value)); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: Decode = %v, want ErrInvalid (a poison message)", name, err)
		}
	}
	// Unknown fields are tolerated: a newer producer may add some.
	e, err := events.Decode([]byte(`{"event_id":"e","type":"stock-reserved","order_id":"o","sku":"s","quantity":1,"occurred_at":"2026-11-29T10:00:00Z","extra":true}`))
	if err != nil || e.Type != events.StockReserved {
		t.Fatalf("Decode with an extra field = %+v, %v", e, err)
	}
}

// TestDecodeChecksEveryFieldName: the case-variant check covers every
// member name of Event (a field added later must be listed too).
func TestDecodeChecksEveryFieldName(t *testing.T) {
	typ := reflect.TypeFor[events.Event]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		raw := map[string]any{"event_id": "e", "type": "order-placed", "order_id": "o", "sku": "s", "quantity": 1, "occurred_at": "2026-11-29T10:00:00Z"}
		raw[strings.ToUpper(name)] = raw[name]
		if name == "reason" {
			raw["REASON"] = "x"
		}
		value, _ := json.Marshal(raw)
		if _, err := events.Decode(value); !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), strings.ToUpper(name)) {
			t.Errorf("member %q next to %q: Decode = %v, want ErrInvalid naming it", strings.ToUpper(name), name, err)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode never panics; anything it accepts
// is a valid event that survives Record and Decode unchanged, and that
// encoding/json v1 (lenient: case-insensitive names, last duplicate wins,
// invalid UTF-8 replaced) reads the same way: no value means one thing to
// this decoder and another to a lenient one.
func FuzzDecode(f *testing.F) {
	m, _ := events.Record(valid())
	f.Add(m.Value)
	f.Add([]byte(`{"event_id":"e","type":"stock-rejected","order_id":"o","sku":"s","quantity":3,"occurred_at":"2026-11-29T10:00:00.123456789+02:00","reason":"unknown_sku"}`))
	f.Add([]byte(`{"event_id":`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"quantity":1e400}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := events.Decode(value)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Decode error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid event %+v: %v", e, err)
		}
		var lenient events.Event
		if err := json.Unmarshal(value, &lenient); err != nil || !lenient.OccurredAt.Equal(e.OccurredAt) {
			t.Fatalf("encoding/json v1 reads %q as %+v, %v; Decode as %+v", value, lenient, err, e)
		}
		lenient.OccurredAt = e.OccurredAt
		if lenient != e {
			t.Fatalf("encoding/json v1 reads %q as %+v; Decode as %+v", value, lenient, e)
		}
		m, err := events.Record(e)
		if err != nil {
			t.Fatalf("Record of a decoded event: %v", err)
		}
		again, err := events.Decode(m.Value)
		if err != nil || !again.OccurredAt.Equal(e.OccurredAt) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, e)
		}
		again.OccurredAt = e.OccurredAt
		if again != e {
			t.Fatalf("round trip changed the event: %+v, want %+v", again, e)
		}
	})
}
