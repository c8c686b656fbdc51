package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
)

// topicRelayRef is where the raw producer reference writes on the chaos
// stack's broker (not order-placed: inventory would consume it).
const topicRelayRef = "bench-relay-reference"

// orderKafkaConfig is order-async's own Kafka path on st: every
// connection through the order-service proxies.
func orderKafkaConfig(st *stack.Stack) messaging.Config {
	var brokers []string
	for _, b := range st.Brokers {
		brokers = append(brokers, b.Advertised)
	}
	return messaging.Config{Brokers: brokers, ClientID: "faultline-bench-raw", Route: st.OrderKafkaRoute}
}

// createTopic creates topic with stack.Partitions partitions (replication
// 1) through the harness's direct client; an existing topic is fine.
func createTopic(ctx context.Context, st *stack.Stack, topic string) error {
	client, err := st.NewHarnessClient(ctx, true)
	if err != nil {
		return err
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return err
	}
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: stack.Partitions, ReplicationFactor: 1}, false)
	if err != nil && !strings.Contains(err.Error(), sarama.ErrTopicAlreadyExists.Error()) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// rawProducerThroughOrderProxy measures messaging.Producer.Send from
// cfg.Workers goroutines (each waits for its acknowledgement) on
// order-async's path (the same proxy the relay uses), with records shaped
// like order-placed ones, for cfg.Window: the relay's reference.
func rawProducerThroughOrderProxy(ctx context.Context, st *stack.Stack, cfg Config) (Measurement, error) {
	if err := createTopic(ctx, st, topicRelayRef); err != nil {
		return Measurement{}, err
	}
	p, err := messaging.NewProducer(orderKafkaConfig(st))
	if err != nil {
		return Measurement{}, err
	}
	defer p.Close()
	now := time.Now()
	name := fmt.Sprintf("sarama produce order-placed-sized, %d goroutines, through order-async's proxy", cfg.Workers)
	m, err := closedLoop(ctx, name, "msg", cfg.Workers, cfg.Window, cfg.MaxOps, func(ctx context.Context, _ int64) error {
		o := order.Order{ID: uuid.NewString(), SKU: "SKU-1", Quantity: 1, Mode: order.ModeAsync}
		rec, err := events.Record(order.OrderPlacedEvent(o, uuid.NewString(), now))
		if err != nil {
			return err
		}
		rec.Topic = topicRelayRef
		return p.Send(ctx, rec)
	})
	fmt.Fprintf(cfg.Progress, "  %-52s %s\n", name, m)
	return m, err
}

// fillOutbox places n async orders from cfg.Workers goroutines (bounded
// by two minutes) and returns their IDs (the outbox rows' keys).
func fillOutbox(ctx context.Context, c *http.Client, url string, n int, cfg Config) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	body := `{"sku":"SKU-1","quantity":1}`
	for range cfg.Workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n) && ctx.Err() == nil; i = next.Add(1) - 1 {
				id, err := placeAsync(ctx, c, url, body)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("fill the outbox: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fill the outbox with %d orders: %w", n, err)
	}
	return ids, nil
}

func placeAsync(ctx context.Context, c *http.Client, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/orders", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var o struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != http.StatusAccepted || o.ID == "" {
		return "", fmt.Errorf("POST %s/orders: status %d (%v)", url, resp.StatusCode, err)
	}
	return o.ID, nil
}

// oneBrokerCutDrain runs a three-broker chaos stack, cuts order-async
// from every broker, fills the outbox with cfg.OutboxOrders/2 orders,
// then restores every broker but one that leads some order-placed
// partitions, and measures how fast the relay drains the rows of the
// healthy partitions while that broker stays cut (rows of its partitions
// must stay waiting).
func oneBrokerCutDrain(ctx context.Context, c *http.Client, cfg Config) (Measurement, error) {
	st, err := stack.Start(ctx, stack.Config{Brokers: 3, Catalog: map[string]int{"SKU-1": 1 << 30}})
	if err != nil {
		return Measurement{}, fmt.Errorf("start 3-broker stack: %w", err)
	}
	defer st.Close()
	client, err := st.NewHarnessClient(ctx, true)
	if err != nil {
		return Measurement{}, err
	}
	leaders := map[int32][]int32{} // broker -> partitions of order-placed it leads
	for p := range int32(stack.Partitions) {
		b, err := client.Leader(events.TopicOrderPlaced, p)
		if err != nil {
			client.Close()
			return Measurement{}, fmt.Errorf("leader of %s/%d: %w", events.TopicOrderPlaced, p, err)
		}
		leaders[b.ID()] = append(leaders[b.ID()], p)
	}
	client.Close()
	var victim stack.BrokerInfo
	for _, b := range st.Brokers {
		if n := len(leaders[b.ID]); n > 0 && n < stack.Partitions && (victim.OrderProxy == "" || n < len(leaders[victim.ID])) {
			victim = b
		}
	}
	if victim.OrderProxy == "" {
		return Measurement{}, fmt.Errorf("no broker leads some but not all %s partitions: %v", events.TopicOrderPlaced, leaders)
	}
	cutParts := map[int32]bool{}
	for _, p := range leaders[victim.ID] {
		cutParts[p] = true
	}

	var undo []func(context.Context) error
	defer func() {
		for _, u := range undo {
			_ = u(context.WithoutCancel(ctx))
		}
	}()
	var healthyUndo []func(context.Context) error
	for _, b := range st.Brokers {
		// The consumers stay cut throughout, as in relayDrain: only the
		// relay works.
		for _, p := range []string{b.InventoryProxy, b.NotificationProxy} {
			u, err := st.Faults.Down(ctx, p)
			if err != nil {
				return Measurement{}, err
			}
			undo = append(undo, u)
		}
		u, err := st.Faults.Down(ctx, b.OrderProxy)
		if err != nil {
			return Measurement{}, err
		}
		if b.ID == victim.ID {
			undo = append(undo, u)
		} else {
			healthyUndo = append(healthyUndo, u)
		}
	}
	n := max(cfg.OutboxOrders/2, 1)
	ids, err := fillOutbox(ctx, c, st.OrderAsyncURL, n, cfg)
	if err != nil {
		return Measurement{}, err
	}
	stuck := 0
	for _, id := range ids {
		if cutParts[messaging.Partition(id, stack.Partitions)] {
			stuck++
		}
	}
	healthy := n - stuck
	if _, err := waitFor(ctx, c, st.OrderAsyncURL, 30*time.Second, "outbox filled", func(s orderStats) bool { return s.OutboxBacklog >= n }); err != nil {
		return Measurement{}, err
	}
	t0 := time.Now()
	for _, u := range healthyUndo {
		if err := u(ctx); err != nil {
			return Measurement{}, err
		}
	}
	if _, err := waitFor(ctx, c, st.OrderAsyncURL, 2*time.Minute, "healthy partitions drained", func(s orderStats) bool { return s.OutboxBacklog <= stuck }); err != nil {
		return Measurement{}, err
	}
	m := Measurement{Name: fmt.Sprintf("outbox relay drain of the healthy partitions' %d rows, broker %d (partitions %v, %d rows) cut", healthy, victim.ID, leaders[victim.ID], stuck),
		Unit: "msg", Ops: int64(healthy), Seconds: time.Since(t0).Seconds()}
	m.PerSecond = float64(m.Ops) / m.Seconds
	if s, err := readOrderStats(ctx, c, st.OrderAsyncURL); err != nil || s.OutboxBacklog != stuck {
		return m, fmt.Errorf("after the healthy partitions drained: backlog %d, want the cut broker's %d rows waiting (%v)", s.OutboxBacklog, stuck, err)
	}
	fmt.Fprintf(cfg.Progress, "  %-52s %s\n", m.Name, m)
	return m, nil
}
