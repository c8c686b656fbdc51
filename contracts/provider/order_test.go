//go:build pact

package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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

// TestOrderProvider verifies order-service against the order-placed pact:
// the provider state places a real order (order row and outbox record in
// one transaction) in a new, empty order store, and the message is the
// record order-service's real outbox relay publishes for it.
func TestOrderProvider(t *testing.T) {
	log := testLogger(t)
	sw := mutantSwitch(t)
	// order-service provides messages only; the verifier still needs an
	// HTTP base URL.
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)

	// The verifier calls handlers on its goroutines: mu guards st. Every
	// setup of the state starts from a new store, so the state can be set
	// up again for the next interaction (make mutants verifies copies).
	var mu sync.Mutex
	var st *order.Store
	t.Cleanup(func() {
		if st != nil {
			_ = st.Close()
		}
	})
	base := t.TempDir()
	states := map[string]stateSetup{
		contracts.StateOrderPlaced: func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			dir, err := os.MkdirTemp(base, "orders-")
			if err != nil {
				return err
			}
			next, err := order.OpenStore(ctx, filepath.Join(dir, "orders.db"))
			if err != nil {
				return fmt.Errorf("open order store: %w", err)
			}
			if st != nil {
				_ = st.Close()
			}
			st = next
			_, err = st.PlaceAsync(ctx, order.Order{ID: contracts.OrderPlaced, SKU: contracts.SKU, Quantity: contracts.Quantity}, uuid.NewString())
			return err
		},
	}
	messages := message.Handlers{
		contracts.DescOrderPlaced: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			mu.Lock()
			defer mu.Unlock()
			if st == nil {
				return nil, nil, fmt.Errorf("no order placed: the state %q was not set up", contracts.StateOrderPlaced)
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			rec, err := relayOnce(ctx, st, contracts.OrderPlaced, log)
			if err == nil && sw != nil {
				rec, err = sw.Record(rec)
			}
			if err != nil {
				return nil, nil, err
			}
			return rec.Value, contracts.RecordMetadata(rec), nil
		},
	}
	requireHandlers(t, contracts.OrderService, states, messages)

	req := provider.VerifyRequest{
		Provider:        contracts.OrderService,
		ProviderBaseURL: srv.URL,
		MessageHandlers: messageHandlers(messages, sw),
	}
	pactSource(t, &req)
	verify(t, req, startStates(t, states, sw))
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
type publisherFunc = order.SendFunc
