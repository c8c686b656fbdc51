// Package events holds the Kafka topics, event types and JSON event schema
// shared by order-service (provider of order-placed, consumer of the stock
// outcomes) and inventory-service (consumer of order-placed, provider of
// stock-reserved and stock-rejected).
//
// Wire format of every record:
//   - key:   the order ID (UTF-8), so all events of one order land on one
//     partition and keep their order;
//   - value: the JSON Event below;
//   - headers: "content-type: application/json", "event-type: <Type>",
//     "event-id: <EventID>".
//
// Build records with Record and read them with Decode, so the services, the
// contract tests and the chaos harness all agree on the bytes.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Topic names. One topic per event type keeps consumers simple.
const (
	TopicOrderPlaced   = "order-placed"
	TopicStockReserved = "stock-reserved"
	TopicStockRejected = "stock-rejected"
	// TopicDeadLetter receives records a consumer could not decode or
	// validate (poison messages), with the original headers plus
	// "dlq-reason" and "dlq-source-topic".
	TopicDeadLetter = "dead-letter"
)

// AllTopics lists every topic the services use, for seeding a broker.
var AllTopics = []string{TopicOrderPlaced, TopicStockReserved, TopicStockRejected, TopicDeadLetter}

// Type is an event type; it equals the event's topic name.
type Type string

// Event types.
const (
	OrderPlaced   Type = TopicOrderPlaced
	StockReserved Type = TopicStockReserved
	StockRejected Type = TopicStockRejected
)

// Record header names and the content type of every value.
const (
	HeaderContentType = "content-type"
	HeaderEventType   = "event-type"
	HeaderEventID     = "event-id"
	ContentType       = "application/json"
)

// Event is the JSON body of every record.
//
//	{"event_id":"…","type":"order-placed","order_id":"…","sku":"SKU-1",
//	 "quantity":2,"occurred_at":"2026-11-29T10:00:00Z","reason":"…"}
//
// Reason is set only on stock-rejected (for example "insufficient_stock",
// "unknown_sku").
type Event struct {
	EventID    string    `json:"event_id"`
	Type       Type      `json:"type"`
	OrderID    string    `json:"order_id"`
	SKU        string    `json:"sku"`
	Quantity   int       `json:"quantity"`
	OccurredAt time.Time `json:"occurred_at"`
	Reason     string    `json:"reason,omitempty"`
}

// Bounds of the fields, shared by both services' HTTP APIs and the event
// schema: a request outside them gets 400 invalid_request, an event
// outside them is invalid (ErrInvalid: a poison record). With them an
// event's record is at most about 1 KB, far under the producer's
// MaxMessageBytes.
const (
	// MaxSKULen: a SKU is 1 to 64 bytes of UTF-8, printable characters
	// only (unicode.IsPrint: no control characters, no line breaks), not
	// all spaces.
	MaxSKULen = 64
	// MaxQuantity: a quantity is a whole number from 1 to 10,000 units.
	MaxQuantity = 10_000
	// MaxOrderIDLen: an order ID is 1 to 128 bytes, printable, not all
	// spaces (order-service's are 36-character UUIDs; the room is for
	// other producers' and tests' IDs).
	MaxOrderIDLen = 128
	// MaxEventIDLen: an event ID is 1 to 256 bytes, printable, not all
	// spaces (inventory's are "stock-rejected:<order ID>").
	MaxEventIDLen = 256
	// MaxReasonLen: a reason is at most 64 bytes, printable.
	MaxReasonLen = 64
)

// CheckSKU returns nil for a SKU within the bounds, or an error naming the
// field and the bound ("sku must be at most 64 bytes, got 70").
func CheckSKU(sku string) error { return checkText("sku", sku, MaxSKULen, true) }

// CheckOrderID returns nil for an order ID within the bounds, or an error
// naming the field and the bound.
func CheckOrderID(id string) error { return checkText("order_id", id, MaxOrderIDLen, true) }

// CheckQuantity returns nil for 1 <= q <= MaxQuantity, or an error naming
// the bound ("quantity must be from 1 to 10000, got 0").
func CheckQuantity(q int) error {
	if q < 1 || q > MaxQuantity {
		return fmt.Errorf("quantity must be from 1 to %d, got %d", MaxQuantity, q)
	}
	return nil
}

// checkText checks a text field: valid UTF-8, at most maxLen bytes,
// printable characters only, and (when required) not empty or all spaces.
func checkText(field, s string, maxLen int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is required (1 to %d bytes)", field, maxLen)
	case len(s) > maxLen:
		return fmt.Errorf("%s must be at most %d bytes, got %d", field, maxLen, len(s))
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for i, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s must be printable characters, got %U at byte %d", field, r, i)
		}
	}
	return nil
}

// ErrInvalid marks an event that decoded but breaks the schema; such a
// record is a poison message and belongs on the dead-letter topic.
var ErrInvalid = errors.New("invalid event")

// Validate checks the fields every event must carry and their bounds
// (MaxEventIDLen, MaxOrderIDLen, MaxSKULen, MaxQuantity, MaxReasonLen). It
// returns an error wrapping ErrInvalid that names the first bad field.
func (e Event) Validate() error {
	if err := e.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (e Event) check() error {
	if err := checkText("event_id", e.EventID, MaxEventIDLen, true); err != nil {
		return err
	}
	if e.Type != OrderPlaced && e.Type != StockReserved && e.Type != StockRejected {
		return fmt.Errorf("unknown type %q", e.Type)
	}
	if err := CheckOrderID(e.OrderID); err != nil {
		return err
	}
	if err := CheckSKU(e.SKU); err != nil {
		return err
	}
	if err := CheckQuantity(e.Quantity); err != nil {
		return err
	}
	if e.OccurredAt.IsZero() {
		return errors.New("occurred_at is missing")
	}
	return checkText("reason", e.Reason, MaxReasonLen, false)
}

// Topic returns the topic an event of this type is published to.
func (e Event) Topic() string { return string(e.Type) }

// Header is one record header. It mirrors sarama.RecordHeader without
// importing sarama, so contract tests can use it without a Kafka client.
type Header struct {
	Key   string
	Value string
}

// Message is a broker-neutral Kafka record: what the outbox relay and the
// inventory publisher send, and what contract tests verify.
type Message struct {
	Topic   string
	Key     string
	Value   []byte
	Headers []Header
}

// Header returns the value of the named header, or "" when absent.
func (m Message) Header(key string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Key, key) {
			return h.Value
		}
	}
	return ""
}

// Record builds the Kafka record for e: topic from the type, key = order ID,
// JSON value and the three headers. It fails only if e is invalid.
func Record(e Event) (Message, error) {
	if err := e.Validate(); err != nil {
		return Message{}, err
	}
	value, err := json.Marshal(e)
	if err != nil {
		return Message{}, fmt.Errorf("encode event: %w", err)
	}
	return Message{
		Topic: e.Topic(),
		Key:   e.OrderID,
		Value: value,
		Headers: []Header{
			{Key: HeaderContentType, Value: ContentType},
			{Key: HeaderEventType, Value: string(e.Type)},
			{Key: HeaderEventID, Value: e.EventID},
		},
	}, nil
}

// Decode parses and validates a record value. The JSON must be one object
// with no trailing data, decoded strictly (github.com/go-json-experiment/json,
// the encoding/json/v2 design): duplicate member names, invalid UTF-8, and
// numbers that are not whole or do not fit are errors; member names match
// exactly, and a member whose name is a schema name in another case
// ("SKU", "Quantity") is an error too, not a second sku. Other unknown
// members are ignored, so a newer producer may add fields. Undecodable
// JSON and invalid events both return an error wrapping ErrInvalid.
func Decode(value []byte) (Event, error) {
	var e Event
	if err := jsonv2.Unmarshal(value, &e); err != nil {
		return Event{}, fmt.Errorf("%w: decode json: %v", ErrInvalid, err)
	}
	if name, ok := caseVariant(value); ok {
		return Event{}, fmt.Errorf("%w: decode json: member %q is a field name in another case", ErrInvalid, name)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// fieldNames are the JSON member names of Event.
var fieldNames = []string{"event_id", "type", "order_id", "sku", "quantity", "occurred_at", "reason"}

// caseVariant finds a top-level member of the JSON object value whose name
// is not a field name but equals one under Unicode case folding (what
// encoding/json v1 would match). value must be valid JSON.
func caseVariant(value []byte) (string, bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(value))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", false
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return "", false
		}
		name := tok.String()
		for _, f := range fieldNames {
			if name != f && strings.EqualFold(name, f) {
				return name, true
			}
		}
		if err := dec.SkipValue(); err != nil {
			return "", false
		}
	}
	return "", false
}
