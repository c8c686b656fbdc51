package stack_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/order"
)

// TestBypassIsDetected: a broker that advertises its own address (no proxy
// listens there) must make Start fail with ErrBypass, naming the address.
func TestBypassIsDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, events.AllTopics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	addr := cluster.ListenAddrs()[0]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := stack.Start(ctx, stack.Config{
		KafkaBrokers: []string{addr}, // real lane, in-process Toxiproxy
		Log:          slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err == nil {
		st.Close()
		t.Fatal("the stack started although the broker advertises an unproxied address")
	}
	if !errors.Is(err, stack.ErrBypass) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Start error = %v, want ErrBypass naming %s", err, addr)
	}
}

// TestOneBrokerCutStallsOnlyItsPartitions: with several brokers, each
// behind its own proxies, disabling one broker's proxies makes exactly the
// partitions it leads unwritable; the others keep taking records.
func TestOneBrokerCutStallsOnlyItsPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := stack.ConfigFromEnv()
	cfg.Brokers = 3 // embedded lane; a real cluster has what it has
	cfg.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	if len(st.Brokers) < 2 {
		t.Skipf("the %s lane has %d broker(s); this needs several", st.Lane, len(st.Brokers))
	}
	for _, b := range st.Brokers {
		if !strings.Contains(b.OrderProxy, "-") {
			t.Errorf("broker %d's proxy %q has no per-broker name", b.ID, b.OrderProxy)
		}
	}

	// The harness's own producer, through the advertised proxies like any
	// client, writing to chosen partitions of a topic nobody consumes.
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	sc.Net.DialTimeout, sc.Net.ReadTimeout, sc.Net.WriteTimeout = time.Second, time.Second, time.Second
	sc.Metadata.Retry.Max, sc.Metadata.Retry.Backoff = 1, 100*time.Millisecond
	sc.Producer.Retry.Max, sc.Producer.Retry.Backoff = 1, 100*time.Millisecond
	sc.Producer.Timeout = time.Second
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Return.Successes = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	client, err := sarama.NewClient(st.KafkaBrokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	leaders := map[int32]int32{}
	parts, err := client.Partitions(events.TopicDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		l, err := client.Leader(events.TopicDeadLetter, p)
		if err != nil {
			t.Fatal(err)
		}
		leaders[p] = l.ID()
	}
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	send := func(p int32) error {
		_, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: events.TopicDeadLetter, Partition: p, Value: sarama.StringEncoder(fmt.Sprintf("probe %d", p))})
		return err
	}
	for _, p := range parts {
		if err := send(p); err != nil {
			t.Fatalf("partition %d before the cut: %v", p, err)
		}
	}

	victim := st.Brokers[0]
	for _, b := range st.Brokers {
		for _, l := range leaders {
			if l == b.ID && b.ID != st.Brokers[0].ID {
				victim = b
			}
		}
	}
	var apply []func(context.Context) (faults.Undo, error)
	for _, name := range victim.Proxies() {
		apply = append(apply, func(ctx context.Context) (faults.Undo, error) { return st.Faults.Down(ctx, name) })
	}
	undo, err := faults.All(ctx, apply...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = undo(context.Background()) })

	var cutParts, okParts int
	for _, p := range parts {
		err := send(p)
		switch {
		case leaders[p] == victim.ID && err == nil:
			t.Errorf("partition %d (leader %d, cut) took a record", p, victim.ID)
		case leaders[p] == victim.ID:
			cutParts++
		case err != nil:
			t.Errorf("partition %d (leader %d, not cut) failed: %v", p, leaders[p], err)
		default:
			okParts++
		}
	}
	t.Logf("broker %d cut: %d partition(s) unwritable, %d still written (leaders %v)", victim.ID, cutParts, okParts, leaders)
	if cutParts == 0 || okParts == 0 {
		t.Fatalf("want some partitions cut and some not: cut %d, ok %d (leaders %v)", cutParts, okParts, leaders)
	}
}

// The advertised address must be a Toxiproxy listen address on both lanes.
func TestBrokersAdvertiseProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	st := startStack(t)
	for _, b := range st.Brokers {
		p, err := st.Faults.Client().Proxy(b.AdvertisedProxy)
		if err != nil {
			t.Fatalf("proxy %s: %v", b.AdvertisedProxy, err)
		}
		_, port, _ := net.SplitHostPort(b.Advertised)
		if !strings.HasSuffix(p.Listen, ":"+port) || p.Upstream != b.Upstream {
			t.Errorf("broker %d advertises %s but proxy %s is %s -> %s", b.ID, b.Advertised, p.Name, p.Listen, p.Upstream)
		}
	}
	if st.InventoryGroup == st.OrderGroup || !strings.HasSuffix(st.InventoryGroup, st.RunID) {
		t.Errorf("groups %q, %q are not this run's (%s)", st.InventoryGroup, st.OrderGroup, st.RunID)
	}
	groups := st.ConsumerGroups()
	placed := []string{events.TopicOrderPlaced}
	if len(groups) != 4 || !slices.Equal(groups[st.InventoryGroup], placed) || !slices.Equal(groups[st.NotificationGroup], placed) ||
		!slices.Equal(groups[st.OrderGroup], order.StockOutcomeTopics) || !slices.Equal(groups[st.OrderHybridGroup], order.StockOutcomeTopics) ||
		st.OrderHybridGroup == st.OrderGroup {
		t.Errorf("ConsumerGroups() = %v, want %s -> %v, %s -> %v, and %s and %s -> %v", groups, st.InventoryGroup, placed,
			st.NotificationGroup, placed, st.OrderGroup, st.OrderHybridGroup, order.StockOutcomeTopics)
	}
}
