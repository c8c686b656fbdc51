package testkit

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// GroupOffsets is a consumer group's position on one topic as the broker
// records it, summed over the topic's partitions: Committed is the group's
// committed offsets (a partition without a commit counts at its log start,
// where a group reading from the oldest offset begins), End the partitions'
// high-water marks.
type GroupOffsets struct {
	Committed, End int64
}

// Lag is the group's lag at the broker: records written but not yet
// committed by the group.
func (g GroupOffsets) Lag() int64 { return g.End - g.Committed }

// ReadGroupOffsets reads group's committed offsets and topic's high-water
// marks from the broker (brokers: bootstrap addresses, dialed directly,
// every call bounded by 5 s). This is the source of truth for lag: unlike
// a consumer's own estimate it keeps moving while the consumer is cut off.
// It fails the test when the broker does not answer.
func ReadGroupOffsets(t testing.TB, brokers []string, group, topic string) GroupOffsets {
	t.Helper()
	client := adminClient(t, brokers)
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("group offsets of %s: partitions of %s: %v", group, topic, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatalf("group offsets of %s: admin: %v", group, err)
	}
	// Not admin.Close: it would close the client, which the deferred
	// client.Close already does.
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil && !errors.Is(err, sarama.ErrGroupIDNotFound) {
		t.Fatalf("group offsets of %s on %s: %v", group, topic, err)
	}
	var g GroupOffsets
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("high-water mark of %s/%d: %v", topic, p, err)
		}
		start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("log start of %s/%d: %v", topic, p, err)
		}
		committed := start
		if resp != nil {
			if b := resp.GetBlock(topic, p); b != nil && b.Err == sarama.ErrNoError && b.Offset > start {
				committed = b.Offset
			}
		}
		g.Committed += committed
		g.End += end
	}
	return g
}

// SetGroupOffsets commits offsets (partition -> next offset to read) of
// topic for group at the broker, as an offset reset tool does: moving
// them back makes the group's next member re-read records it already
// processed (a crash before the commit, or lost offsets). The group must
// have no active member. It fails the test on any error.
func SetGroupOffsets(t testing.TB, brokers []string, group, topic string, offsets map[int32]int64) {
	t.Helper()
	client := adminClient(t, brokers)
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatalf("set offsets of %s: admin: %v", group, err)
	}
	req := map[string]map[int32]sarama.OffsetAndMetadata{topic: {}}
	for p, off := range offsets {
		req[topic][p] = sarama.OffsetAndMetadata{Offset: off, LeaderEpoch: -1}
	}
	resp, err := admin.AlterConsumerGroupOffsets(group, req, nil)
	if err != nil {
		t.Fatalf("set offsets of %s on %s: %v", group, topic, err)
	}
	for p, kerr := range resp.Errors[topic] {
		if kerr != sarama.ErrNoError {
			t.Fatalf("set offset of %s on %s/%d: %v", group, topic, p, kerr)
		}
	}
}

// ConsumeTopic reads every partition of topic from its oldest offset into
// the returned channel (buffered: 100 records) until the test ends
// (brokers: bootstrap addresses, dialed directly). It fails the test when
// the broker does not answer.
func ConsumeTopic(t testing.TB, brokers []string, topic string) <-chan *sarama.ConsumerMessage {
	t.Helper()
	client := adminClient(t, brokers)
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		_ = client.Close()
		t.Fatalf("consume %s: %v", topic, err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = client.Close() })
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	out := make(chan *sarama.ConsumerMessage, 100)
	done := make(chan struct{})
	var pcs []sarama.PartitionConsumer
	var wg sync.WaitGroup
	t.Cleanup(func() { // before c.Close (cleanups run last-in first-out)
		close(done)
		for _, pc := range pcs {
			pc.AsyncClose() // Messages closes once drained: the goroutines end
		}
		wg.Wait()
	})
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		pcs = append(pcs, pc)
		wg.Go(func() {
			for m := range pc.Messages() {
				select {
				case out <- m:
				case <-done:
				}
			}
		})
	}
	return out
}

// adminClient connects a sarama client to brokers directly, every call
// bounded by 5 s.
func adminClient(t testing.TB, brokers []string) sarama.Client {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	cfg.Metadata.Retry.Max, cfg.Metadata.Retry.Backoff = 3, 100*time.Millisecond
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatalf("connect to %v: %v", brokers, err)
	}
	return client
}
