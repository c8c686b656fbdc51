//go:build pact

package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
)

// Mutants of order-service's producer: what reaches Kafka is wrong.
const (
	// mutantWireContentType sends the record with content-type text/plain.
	mutantWireContentType = "wire-content-type"
	// mutantWireBytes sends the value with "quantity" as a JSON string.
	mutantWireBytes = "wire-bytes"
)

// wireTimeout bounds the whole wire check.
const wireTimeout = 60 * time.Second

// TestOrderPlacedOnTheWire runs order-service (async mode, its real outbox
// relay and Kafka producer) against an embedded kfake broker, places an
// order, reads the record back from the broker with sarama (key, headers,
// value) and verifies exactly those bytes and headers against the
// order-placed pact. It always verifies the local pact file.
func TestOrderPlacedOnTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), wireTimeout)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, events.AllTopics...))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	kafka := messaging.Config{Brokers: cluster.ListenAddrs(), ClientID: "order-service"}
	placed := order.Order{ID: contracts.OrderPlaced, SKU: contracts.SKU, Quantity: contracts.Quantity}

	if m := mutant(); m == "" {
		runOrderService(t, kafka, placed)
	} else {
		runBrokenProducer(t, kafka, placed, m)
	}

	rec := readRecord(t, ctx, kafka.Brokers, events.TopicOrderPlaced, placed.ID)
	t.Logf("read from Kafka: topic %s key %q headers %v value %s", rec.Topic, rec.Key, rec.Headers, rec.Value)
	// What the pact cannot say: the key is the event's order ID.
	var e struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(rec.Value, &e); err != nil || e.OrderID != rec.Key {
		t.Errorf("record key %q is not the value's order_id %q (%v)", rec.Key, e.OrderID, err)
	}

	srv := httptest.NewServer(http.NotFoundHandler()) // messages only
	t.Cleanup(srv.Close)
	states := models.StateHandlers{
		// The order was placed above, before the record was read.
		contracts.StateOrderPlaced: setupOnly(func() error { return nil }),
	}
	messages := message.Handlers{
		contracts.DescOrderPlaced: func([]models.ProviderState) (message.Body, message.Metadata, error) {
			return slices.Clone(rec.Value), contracts.RecordMetadata(rec), nil
		},
	}
	requireHandlers(t, contracts.OrderService, states, messages)
	pact, _ := contracts.Lookup(contracts.InventoryService, contracts.OrderService)
	verify(t, provider.VerifyRequest{
		Provider:        contracts.OrderService,
		ProviderBaseURL: srv.URL,
		PactFiles:       []string{filepath.Join(pactDir(t), pact.File())},
		StateHandlers:   states,
		MessageHandlers: messages,
	})
}

// runOrderService runs the real order-service in async mode on 127.0.0.1,
// places o (order row and outbox record in one transaction, as POST
// /orders does, with the ID the pact pins) and wakes its relay. It stops
// the service when the test ends.
func runOrderService(t *testing.T, kafka messaging.Config, o order.Order) {
	t.Helper()
	svc, err := order.New(order.Config{
		Mode:   order.ModeAsync,
		DBPath: filepath.Join(t.TempDir(), "orders.db"),
		Kafka:  kafka,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("new order service: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("order service run: %v", err)
		}
		_ = svc.Close()
	})
	if _, err := svc.Store().PlaceAsync(t.Context(), o, uuid.NewString()); err != nil {
		t.Fatalf("place order: %v", err)
	}
	svc.Relay().Wake()
}

// runBrokenProducer publishes o through order-service's real outbox relay
// and a real producer wrapped so that it sends what mutant says: the check
// must catch a producer that puts wrong bytes or headers on the wire.
func runBrokenProducer(t *testing.T, kafka messaging.Config, o order.Order, mutant string) {
	t.Helper()
	st, err := order.OpenStore(t.Context(), filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatalf("open order store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	prod, err := messaging.NewProducer(kafka)
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	t.Cleanup(func() { _ = prod.Close() })
	var corrupt func(events.Message) events.Message
	switch mutant {
	case mutantWireContentType:
		corrupt = func(m events.Message) events.Message {
			m.Headers = slices.Clone(m.Headers)
			for i, h := range m.Headers {
				if h.Key == events.HeaderContentType {
					m.Headers[i].Value = "text/plain"
				}
			}
			return m
		}
	case mutantWireBytes:
		corrupt = func(m events.Message) events.Message {
			m.Value = bytes.Replace(m.Value, []byte(`"quantity":2`), []byte(`"quantity":"2"`), 1)
			return m
		}
	default:
		t.Skipf("mutant %q does not apply to the wire check", mutant)
	}
	if _, err := st.PlaceAsync(t.Context(), o, uuid.NewString()); err != nil {
		t.Fatalf("place order: %v", err)
	}
	relay := order.NewRelay(st, publisherFunc(func(ctx context.Context, m events.Message) error {
		return prod.Send(ctx, corrupt(m))
	}), order.RelayConfig{}, testLogger(t))
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = relay.Run(runCtx)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
}

// readRecord reads topic from the oldest offset of every partition until
// it finds the record keyed key, and returns it as the services see a
// consumed record (messaging.FromSarama).
func readRecord(t *testing.T, ctx context.Context, brokers []string, topic, key string) events.Message {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = "pact-wire-check"
	cfg.Consumer.Return.Errors = false
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	found := make(chan *sarama.ConsumerMessage, 1)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		defer pc.Close()
		go func() { // ends when pc closes its channel
			for m := range pc.Messages() {
				if string(m.Key) == key {
					select {
					case found <- m:
					default:
					}
				}
			}
		}()
	}
	select {
	case m := <-found:
		return messaging.FromSarama(m)
	case <-ctx.Done():
		t.Fatalf("no %s record keyed %q in %d partitions of %v: %v", topic, key, len(parts), brokers, ctx.Err())
		return events.Message{}
	}
}
