//go:build pact

package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pact-foundation/pact-go/v2/matchers"
	message "github.com/pact-foundation/pact-go/v2/message/v4"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/order"
)

// What the message consumers depend on, stated as a separately deployed
// consumer would state it: literals, never the provider's constants
// (events.Topic*, events.Type, inventory.Reason*). A provider that renames
// one of them changes its messages, not these expectations, and fails
// verification.
const (
	topicOrderPlaced   = "order-placed"
	topicStockReserved = "stock-reserved"
	topicStockRejected = "stock-rejected"

	typeOrderPlaced   = "order-placed"
	typeStockReserved = "stock-reserved"
	typeStockRejected = "stock-rejected"

	reasonInsufficientStock = "insufficient_stock"
	reasonUnknownSKU        = "unknown_sku"

	// contentTypeJSON is the content-type header every record carries.
	contentTypeJSON = "application/json"
)

// messageMetadata is the metadata a consumer expects with a message on
// topic keyed by key (the order ID): content type application/json, the
// topic and the record key.
func messageMetadata(topic, key string) map[string]string {
	return map[string]string{contracts.MetaContentType: contentTypeJSON, contracts.MetaTopic: topic, contracts.MetaKey: key}
}

// eventBody is the JSON event a consumer expects: exactly this type (and
// reason, when given), any event ID matching eventIDRegex, any order ID,
// any SKU string, an integer quantity and an RFC 3339 time.
func eventBody(typ, eventID, eventIDRegex, orderID, sku, reason string) map[string]any {
	body := map[string]any{
		"event_id":    matchers.Regex(eventID, eventIDRegex),
		"type":        typ,
		"order_id":    matchers.Regex(orderID, anyID),
		"sku":         matchers.Like(sku),
		"quantity":    matchers.Integer(contracts.Quantity),
		"occurred_at": matchers.Regex("2026-11-29T10:00:00Z", rfc3339Regex),
	}
	if reason != "" {
		body["reason"] = reason
	}
	return body
}

// keyedRecord turns the pact message into the Kafka record the handler
// gets, and checks the key convention: the key is the event's order ID.
func keyedRecord(metadata map[string]string, m message.AsynchronousMessage) (events.Message, error) {
	rec := contracts.ConsumedRecord(metadata, m.Contents)
	var e struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(m.Contents, &e); err != nil {
		return events.Message{}, fmt.Errorf("message contents are not JSON: %v: %s", err, m.Contents)
	}
	if rec.Key == "" || rec.Key != e.OrderID {
		return events.Message{}, fmt.Errorf("metadata %s = %q, want the event's order_id %q", contracts.MetaKey, rec.Key, e.OrderID)
	}
	if got := rec.Header(events.HeaderContentType); got != contentTypeJSON {
		return events.Message{}, fmt.Errorf("metadata %s = %q, want %q", contracts.MetaContentType, got, contentTypeJSON)
	}
	return rec, nil
}

// TestInventoryConsumesOrderPlaced feeds the pact's order-placed message
// to inventory-service's real HandleOrderPlaced (real SQLite store,
// recording publisher) and checks the effect: stock reserved once and a
// stock-reserved outcome keyed by the order ID.
func TestInventoryConsumesOrderPlaced(t *testing.T) {
	reg := registered(t, contracts.InventoryService, contracts.OrderService)
	in := interaction(t, reg, contracts.DescOrderPlaced, contracts.Message)
	p, err := message.NewAsynchronousPact(message.Config{Consumer: reg.Consumer, Provider: reg.Provider, PactDir: testkit.PactDir(t)})
	if err != nil {
		t.Fatalf("new message pact: %v", err)
	}
	metadata := messageMetadata(topicOrderPlaced, contracts.OrderPlaced)

	b := p.AddAsynchronousMessage()
	for _, s := range in.States {
		b = b.Given(s)
	}
	err = b.ExpectsToReceive(in.Description).
		WithMetadata(metadata).
		WithJSONContent(eventBody(typeOrderPlaced, "5f0c3a52-8f1e-4c55-9a8e-2d0e4c1b7a90", anyID, contracts.OrderPlaced, contracts.SKU, "")).
		ConsumedBy(func(m message.AsynchronousMessage) error {
			rec, err := keyedRecord(metadata, m)
			if err != nil {
				return err
			}
			pub := &testkit.Records{} // the inventory.Publisher: keeps every record
			svc, err := inventory.New(inventory.Config{
				DBPath:    filepath.Join(t.TempDir(), "inventory.db"),
				Catalog:   map[string]int{contracts.SKU: contracts.InStock},
				Publisher: pub,
			}, testkit.Logger(t))
			if err != nil {
				return fmt.Errorf("new inventory service: %w", err)
			}
			defer svc.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			if err := svc.HandleOrderPlaced(ctx, rec); err != nil {
				return fmt.Errorf("HandleOrderPlaced: %w", err)
			}

			r, moves, err := svc.Store().Reservation(ctx, rec.Key)
			if err != nil {
				return fmt.Errorf("reservation of %s: %w", rec.Key, err)
			}
			if r.Status != inventory.StatusReserved || r.SKU != contracts.SKU || r.Quantity != contracts.Quantity || moves != 1 {
				return fmt.Errorf("reservation %+v with %d stock movements, want %d x %s reserved with 1 movement", r, moves, contracts.Quantity, contracts.SKU)
			}
			if n, err := svc.Store().Available(ctx, contracts.SKU); err != nil || n != contracts.InStock-contracts.Quantity {
				return fmt.Errorf("available %s = %d (%v), want %d", contracts.SKU, n, err, contracts.InStock-contracts.Quantity)
			}
			sent := pub.All()
			if len(sent) != 1 || sent[0].Topic != topicStockReserved || sent[0].Key != rec.Key {
				return fmt.Errorf("published %+v, want one %s record keyed %q", sent, topicStockReserved, rec.Key)
			}
			return nil
		}).
		Verify(t)
	if err != nil {
		t.Fatalf("%s: %v", in.Description, err)
	}
}

// TestOrderServiceConsumesStockOutcomes feeds each pact message to
// order-service's real HandleStockOutcome (real SQLite store holding the
// PENDING order) and checks the order's new status.
func TestOrderServiceConsumesStockOutcomes(t *testing.T) {
	reg := registered(t, contracts.OrderService, contracts.InventoryService)

	tests := []struct {
		description string
		topic       string
		orderID     string
		sku         string
		body        map[string]any
		wantStatus  order.Status
		wantReason  string
	}{
		{
			description: contracts.DescStockReserved,
			topic:       topicStockReserved,
			orderID:     contracts.OrderStockOK,
			sku:         contracts.SKU,
			body: eventBody(typeStockReserved, "stock-reserved:"+contracts.OrderStockOK, `^stock-reserved:\S+$`,
				contracts.OrderStockOK, contracts.SKU, ""),
			wantStatus: order.StatusConfirmed,
		},
		{
			description: contracts.DescStockRejectedShort,
			topic:       topicStockRejected,
			orderID:     contracts.OrderStockShort,
			sku:         contracts.SKU,
			body: eventBody(typeStockRejected, "stock-rejected:"+contracts.OrderStockShort, `^stock-rejected:\S+$`,
				contracts.OrderStockShort, contracts.SKU, reasonInsufficientStock),
			wantStatus: order.StatusRejected,
			wantReason: reasonInsufficientStock,
		},
		{
			description: contracts.DescStockRejectedUnknown,
			topic:       topicStockRejected,
			orderID:     contracts.OrderStockUnknown,
			sku:         contracts.UnknownSKU,
			body: eventBody(typeStockRejected, "stock-rejected:"+contracts.OrderStockUnknown, `^stock-rejected:\S+$`,
				contracts.OrderStockUnknown, contracts.UnknownSKU, reasonUnknownSKU),
			wantStatus: order.StatusRejected,
			wantReason: reasonUnknownSKU,
		},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			in := interaction(t, reg, tc.description, contracts.Message)
			metadata := messageMetadata(tc.topic, tc.orderID)
			// One pact per message: pact_ffi 0.4.28 duplicates an
			// interaction when one message pact holding three messages
			// is written three times (each write merges into the file).
			p, err := message.NewAsynchronousPact(message.Config{Consumer: reg.Consumer, Provider: reg.Provider, PactDir: testkit.PactDir(t)})
			if err != nil {
				t.Fatalf("new message pact: %v", err)
			}
			b := p.AddAsynchronousMessage()
			for _, s := range in.States {
				b = b.Given(s)
			}
			err = b.ExpectsToReceive(in.Description).
				WithMetadata(metadata).
				WithJSONContent(tc.body).
				ConsumedBy(func(m message.AsynchronousMessage) error {
					rec, err := keyedRecord(metadata, m)
					if err != nil {
						return err
					}
					svc, err := order.New(order.Config{Mode: order.ModeSync, DBPath: filepath.Join(t.TempDir(), "orders.db")}, testkit.Logger(t))
					if err != nil {
						return fmt.Errorf("new order service: %w", err)
					}
					defer svc.Close()
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					defer cancel()
					if _, err := svc.Store().PlaceAsync(ctx, order.Order{ID: rec.Key, SKU: tc.sku, Quantity: contracts.Quantity}, "placed:"+rec.Key); err != nil {
						return fmt.Errorf("place the pending order: %w", err)
					}

					if err := svc.HandleStockOutcome(ctx, rec); err != nil {
						return fmt.Errorf("HandleStockOutcome: %w", err)
					}

					o, err := svc.Store().Get(ctx, rec.Key)
					if errors.Is(err, order.ErrNotFound) {
						return fmt.Errorf("order %s vanished", rec.Key)
					}
					if err != nil {
						return err
					}
					if o.Status != tc.wantStatus || o.Reason != tc.wantReason {
						return fmt.Errorf("order %s is %s (reason %q), want %s (reason %q)", o.ID, o.Status, o.Reason, tc.wantStatus, tc.wantReason)
					}
					return nil
				}).
				Verify(t)
			if err != nil {
				t.Fatalf("%s: %v", in.Description, err)
			}
		})
	}
}
