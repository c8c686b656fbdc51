//go:build pact

package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
)

// TestInventoryProvider verifies inventory-service against every pact it
// provides (order-service's HTTP calls and its stock-reserved and
// stock-rejected messages) in one verification: the real HTTP handler on
// 127.0.0.1 over a real SQLite store, and the outcome records the real
// order-placed handler publishes.
func TestInventoryProvider(t *testing.T) {
	pub := &testkit.Records{} // the inventory.Publisher: keeps every record
	svc, err := inventory.New(inventory.Config{
		DBPath:    filepath.Join(t.TempDir(), "inventory.db"),
		Publisher: pub,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("new inventory service: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	st := svc.Store()

	sw := mutantSwitch(t)
	var handler http.Handler = svc.Handler()
	if sw != nil {
		handler = sw.Handler(handler)
	}
	srv := httptest.NewServer(handler) // 127.0.0.1:0
	t.Cleanup(srv.Close)

	// The verifier calls these on its own goroutines, one interaction at
	// a time. The store is safe for concurrent use, the publisher locks,
	// and mu keeps each message handler whole if calls ever overlap.
	var mu sync.Mutex
	locked := func(f func(ctx context.Context) error) error {
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
		defer cancel()
		return f(ctx)
	}

	states := map[string]stateSetup{
		contracts.StateInStock: func(ctx context.Context) error {
			return st.SetStock(ctx, contracts.SKU, contracts.InStock)
		},
		contracts.StateOutOfStock: func(ctx context.Context) error {
			return st.SetStock(ctx, contracts.SKU, 0)
		},
		contracts.StateNoUnknownSKU: func(ctx context.Context) error {
			_, err := st.Available(ctx, contracts.UnknownSKU)
			if errors.Is(err, inventory.ErrUnknownSKU) {
				return nil
			}
			return fmt.Errorf("state %q: %s must be unknown, Available returned %v", contracts.StateNoUnknownSKU, contracts.UnknownSKU, err)
		},
		contracts.StateReservationMade: func(ctx context.Context) error {
			// Exactly enough stock, reserved: only the stored outcome can
			// answer the repeated request with 201 now.
			if err := st.SetStock(ctx, contracts.SKU, contracts.Quantity); err != nil {
				return err
			}
			r, err := st.Reserve(ctx, contracts.OrderRepeated, contracts.SKU, contracts.Quantity)
			if err != nil {
				return err
			}
			if r.Status != inventory.StatusReserved {
				return fmt.Errorf("state %q: reservation %+v, want reserved", contracts.StateReservationMade, r)
			}
			return nil
		},
	}

	// outcome runs the real order-placed handler for one order and returns
	// the outcome record it published: OutcomeEvent or UnknownSKUEvent
	// turned into a record by events.Record, as sent to Kafka.
	outcome := func(orderID, sku string) message.Handler {
		return func([]models.ProviderState) (message.Body, message.Metadata, error) {
			var rec events.Message
			err := locked(func(ctx context.Context) error {
				placed, err := events.Record(events.Event{
					EventID: "placed:" + orderID, Type: events.OrderPlaced, OrderID: orderID,
					SKU: sku, Quantity: contracts.Quantity, OccurredAt: time.Now(),
				})
				if err != nil {
					return err
				}
				if err := svc.HandleOrderPlaced(ctx, placed); err != nil {
					return fmt.Errorf("HandleOrderPlaced %s: %w", orderID, err)
				}
				var ok bool
				if rec, ok = pub.Last(orderID); !ok {
					return fmt.Errorf("HandleOrderPlaced %s published nothing", orderID)
				}
				return nil
			})
			if err == nil && sw != nil {
				rec, err = sw.Record(rec)
			}
			if err != nil {
				return nil, nil, err
			}
			return rec.Value, contracts.RecordMetadata(rec), nil
		}
	}
	messages := message.Handlers{
		contracts.DescStockReserved:        outcome(contracts.OrderStockOK, contracts.SKU),
		contracts.DescStockRejectedShort:   outcome(contracts.OrderStockShort, contracts.SKU),
		contracts.DescStockRejectedUnknown: outcome(contracts.OrderStockUnknown, contracts.UnknownSKU),
	}
	requireHandlers(t, contracts.InventoryService, states, messages)

	req := provider.VerifyRequest{
		Provider:        contracts.InventoryService,
		ProviderBaseURL: srv.URL,
		MessageHandlers: messageHandlers(messages, sw),
	}
	pactSource(t, &req)
	verify(t, req, startStates(t, states, sw))
}
