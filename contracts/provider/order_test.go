//go:build pact

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/order"
)

// Mutants of order-service.
const (
	// mutantOrderPlacedWithoutSKU publishes order-placed without "sku".
	mutantOrderPlacedWithoutSKU = "order-placed-without-sku"
)

// TestOrderProvider verifies order-service against the order-placed pact:
// the provider state places a real order (order row and outbox record in
// one transaction), and the message is the record order-service's real
// outbox relay publishes for it.
func TestOrderProvider(t *testing.T) {
	ctx := t.Context()
	st, err := order.OpenStore(ctx, filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatalf("open order store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := testLogger(t)
	// order-service provides messages only; the verifier still needs an
	// HTTP base URL.
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)

	var mu sync.Mutex // the verifier calls handlers on its goroutines
	states := models.StateHandlers{
		contracts.StateOrderPlaced: setupOnly(func() error {
			mu.Lock()
			defer mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			_, err := st.PlaceAsync(ctx, order.Order{ID: contracts.OrderPlaced, SKU: contracts.SKU, Quantity: contracts.Quantity}, uuid.NewString())
			return err
		}),
	}
	messages := message.Handlers{
		contracts.DescOrderPlaced: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			mu.Lock()
			defer mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			rec, err := relayOnce(ctx, st, contracts.OrderPlaced, log)
			if err != nil {
				return nil, nil, err
			}
			if mutant() == mutantOrderPlacedWithoutSKU {
				if rec.Value, err = dropField(rec.Value, "sku"); err != nil {
					return nil, nil, err
				}
			}
			return rec.Value, contracts.RecordMetadata(rec), nil
		},
	}
	requireHandlers(t, contracts.OrderService, states, messages)

	req := provider.VerifyRequest{
		Provider:        contracts.OrderService,
		ProviderBaseURL: srv.URL,
		StateHandlers:   states,
		MessageHandlers: messages,
	}
	pactSource(t, &req)
	verify(t, req)
}

// relayOnce runs order-service's real outbox relay over st, publishing
// into a capture, until it has published the record keyed key (other
// unpublished rows are published and dropped on the way). It returns that
// record exactly as the relay handed it to its publisher.
func relayOnce(ctx context.Context, st *order.Store, key string, log *slog.Logger) (events.Message, error) {
	ctx, cancel := context.WithCancel(ctx)
	got := make(chan events.Message)
	relay := order.NewRelay(st, publisherFunc(func(ctx context.Context, m events.Message) error {
		select {
		case got <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}), order.RelayConfig{}, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = relay.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	for {
		select {
		case m := <-got:
			if m.Key == key {
				log.Info("outbox relay published", "topic", m.Topic, "key", m.Key, "value", string(m.Value))
				return m, nil
			}
		case <-ctx.Done():
			return events.Message{}, fmt.Errorf("the outbox relay published no record keyed %q: %w", key, ctx.Err())
		}
	}
}

// publisherFunc adapts a function to order.Publisher.
type publisherFunc func(ctx context.Context, m events.Message) error

func (f publisherFunc) Send(ctx context.Context, m events.Message) error { return f(ctx, m) }

// dropField removes a top-level field from a JSON object.
func dropField(value []byte, field string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil {
		return nil, fmt.Errorf("drop %q: %w", field, err)
	}
	delete(obj, field)
	return json.Marshal(obj)
}
