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
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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

// ErrInvalid marks an event that decoded but breaks the schema; such a
// record is a poison message and belongs on the dead-letter topic.
var ErrInvalid = errors.New("invalid event")

// Validate checks the fields every event must carry. It returns an error
// wrapping ErrInvalid that names the first bad field.
func (e Event) Validate() error {
	switch {
	case strings.TrimSpace(e.EventID) == "":
		return fmt.Errorf("%w: event_id is empty", ErrInvalid)
	case e.Type != OrderPlaced && e.Type != StockReserved && e.Type != StockRejected:
		return fmt.Errorf("%w: unknown type %q", ErrInvalid, e.Type)
	case strings.TrimSpace(e.OrderID) == "":
		return fmt.Errorf("%w: order_id is empty", ErrInvalid)
	case strings.TrimSpace(e.SKU) == "":
		return fmt.Errorf("%w: sku is empty", ErrInvalid)
	case e.Quantity <= 0:
		return fmt.Errorf("%w: quantity must be > 0, got %d", ErrInvalid, e.Quantity)
	case e.OccurredAt.IsZero():
		return fmt.Errorf("%w: occurred_at is missing", ErrInvalid)
	}
	return nil
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

// Decode parses and validates a record value. Undecodable JSON and invalid
// events both return an error wrapping ErrInvalid.
func Decode(value []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(value, &e); err != nil {
		return Event{}, fmt.Errorf("%w: decode json: %v", ErrInvalid, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}
