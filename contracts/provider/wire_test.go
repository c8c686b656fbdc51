//go:build pact

package provider

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/faultline-harness/faultline/contracts/mutants"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
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

	if name := os.Getenv(wireMutantEnv); name == "" {
		runOrderService(t, kafka, placed)
	} else {
		runBrokenProducer(t, kafka, placed, name)
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
	states := map[string]stateSetup{
		// The order was placed above, before the record was read.
		contracts.StateOrderPlaced: func(context.Context) error { return nil },
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
		PactFiles:       []string{filepath.Join(testkit.PactDir(t), pact.File())},
		MessageHandlers: messages,
	}, startStates(t, states, nil))
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
// and a real producer wrapped so that every record it sends is first
// changed by the catalogue's wire mutant name: the check must catch a
// producer that puts wrong data or headers on the wire, and must not
// mind one that re-indents. It prints how often the mutant applied (for
// TestMutants).
func runBrokenProducer(t *testing.T, kafka messaging.Config, o order.Order, name string) {
	t.Helper()
	m, ok := mutants.ByName(name)
	if !ok || m.Layer != mutants.LayerWire {
		t.Fatalf("%s=%q: not a wire mutant of the catalogue", wireMutantEnv, name)
	}
	sw := mutants.NewSwitch([]mutants.Mutant{m})
	if _, err := sw.SetState(mutants.State(name), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reportApplied(sw) })
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
	if _, err := st.PlaceAsync(t.Context(), o, uuid.NewString()); err != nil {
		t.Fatalf("place order: %v", err)
	}
	relay := order.NewRelay(st, publisherFunc(func(ctx context.Context, m events.Message) error {
		changed, err := sw.Record(m)
		if err != nil {
			return err
		}
		return prod.Send(ctx, changed)
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
