package lag_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/chaos/lag"
	"github.com/faultline-harness/faultline/internal/testkit"
)

func clientConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	cfg.Metadata.Retry.Max, cfg.Metadata.Retry.Backoff = 1, 50*time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	return cfg
}

func dialer(brokers []string) func(context.Context) (sarama.Client, error) {
	return func(context.Context) (sarama.Client, error) { return sarama.NewClient(brokers, clientConfig()) }
}

// produce writes n records to topic/partition.
func produce(t *testing.T, brokers []string, topic string, partition int32, n int) {
	t.Helper()
	p, err := sarama.NewSyncProducer(brokers, clientConfig())
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	for i := 0; i < n; i++ {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: partition, Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
			t.Fatalf("produce %d to %s/%d: %v", i, topic, partition, err)
		}
	}
}

func partitionOf(t *testing.T, g lag.Group, topic string, p int32) lag.Partition {
	t.Helper()
	for _, row := range g.Partitions {
		if row.Topic == topic && row.Partition == p {
			return row
		}
	}
	t.Fatalf("group %s has no row for %s/%d: %+v", g.Group, topic, p, g.Partitions)
	return lag.Partition{}
}

// A group whose committed offsets are behind the log end shows, per
// partition, log end minus committed; a partition without a commit counts
// from its log start.
func TestLagPerPartition(t *testing.T) {
	topicA, topicB := testkit.Uniq(t, "orders"), testkit.Uniq(t, "outcomes")
	c := testkit.StartKafka(t, 3, []string{topicA, topicB})
	brokers := c.ListenAddrs()
	produce(t, brokers, topicA, 0, 10)
	produce(t, brokers, topicA, 1, 4)
	produce(t, brokers, topicB, 2, 7)
	group := testkit.Uniq(t, "group")
	testkit.SetGroupOffsets(t, brokers, group, topicA, map[int32]int64{0: 3, 1: 4})
	testkit.SetGroupOffsets(t, brokers, group, topicB, map[int32]int64{0: 0, 1: 0})

	r := lag.NewReader(dialer(brokers), map[string][]string{group: {topicA, topicB}})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap := r.Read(ctx)
	if len(snap.Groups) != 1 {
		t.Fatalf("groups %+v, want one", snap.Groups)
	}
	g := snap.Groups[0]
	if g.Error != "" {
		t.Fatalf("read: %s", g.Error)
	}
	want := []struct {
		topic                string
		p                    int32
		committed, end, lagN int64
	}{
		{topicA, 0, 3, 10, 7},
		{topicA, 1, 4, 4, 0},
		{topicA, 2, -1, 0, 0},
		{topicB, 0, 0, 0, 0},
		{topicB, 1, 0, 0, 0},
		{topicB, 2, -1, 7, 7}, // no commit: from the log start
	}
	for _, w := range want {
		got := partitionOf(t, g, w.topic, w.p)
		if got.Committed != w.committed || got.End != w.end || got.Lag != w.lagN {
			t.Errorf("%s/%d: committed %d end %d lag %d, want %d %d %d", w.topic, w.p, got.Committed, got.End, got.Lag, w.committed, w.end, w.lagN)
		}
	}
	if len(g.Partitions) != len(want) {
		t.Errorf("%d partition rows, want %d", len(g.Partitions), len(want))
	}
	if g.Lag != 14 || snap.Of(group) != 14 || snap.Sum(group) != 14 {
		t.Errorf("group lag %d (Of %d, Sum %d), want 14", g.Lag, snap.Of(group), snap.Sum(group))
	}
	if snap.Of("no-such-group") != lag.Unknown || snap.Sum(group, "no-such-group") != lag.Unknown {
		t.Errorf("a group not read must be unknown")
	}
}

// A consumer that keeps up has lag 0 at the broker; once it stops, the
// records written after it stopped are its lag, and they stay there.
func TestStoppedConsumerLagGrows(t *testing.T) {
	topic := testkit.Uniq(t, "events")
	c := testkit.StartKafka(t, 1, []string{topic})
	brokers := c.ListenAddrs()
	group := testkit.Uniq(t, "group")
	r := lag.NewReader(dialer(brokers), map[string][]string{group: {topic}})
	defer r.Close()
	read := func() lag.Group {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return r.Read(ctx).Groups[0]
	}

	cg, err := sarama.NewConsumerGroup(brokers, group, clientConfig())
	if err != nil {
		t.Fatalf("consumer group: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = cg.Consume(ctx, []string{topic}, markAll{})
		}
	}()
	stop := func() { cancel(); <-done; _ = cg.Close() }
	defer func() {
		if ctx.Err() == nil {
			stop()
		}
	}()

	produce(t, brokers, topic, 0, 20)
	testkit.Eventually(t, 15*time.Second, func() (bool, string) {
		g := read()
		return g.Lag == 0 && g.Partitions[0].Committed == 20, fmt.Sprintf("running consumer: lag %d, committed %d of 20", g.Lag, g.Partitions[0].Committed)
	})

	stop()
	produce(t, brokers, topic, 0, 15)
	if g := read(); g.Lag != 15 || g.Partitions[0].Committed != 20 || g.Partitions[0].End != 35 {
		t.Fatalf("stopped consumer: lag %d committed %d end %d, want 15, 20, 35", g.Lag, g.Partitions[0].Committed, g.Partitions[0].End)
	}
	produce(t, brokers, topic, 0, 5)
	if g := read(); g.Lag != 20 {
		t.Fatalf("stopped consumer after 5 more records: lag %d, want 20", g.Lag)
	}
}

type markAll struct{}

func (markAll) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (markAll) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (markAll) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
	}
	return nil
}

// A broker that does not answer gives unknown (-1) lag with the reason,
// within the caller's bound; once a broker answers on the same address
// again (a restart on the same data), the Reader reads it on a new
// connection.
func TestBrokerDownIsUnknownThenReadAgain(t *testing.T) {
	topic := testkit.Uniq(t, "events")
	port := testkit.FreePort(t)
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(1, topic)}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	brokers := c.ListenAddrs()
	group := testkit.Uniq(t, "group")
	produce(t, brokers, topic, 0, 6)
	testkit.SetGroupOffsets(t, brokers, group, topic, map[int32]int64{0: 2})
	r := lag.NewReader(dialer(brokers), map[string][]string{group: {topic}})
	defer r.Close()
	read := func(bound time.Duration) lag.Snapshot {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		return r.Read(ctx)
	}
	if s := read(5 * time.Second); s.Of(group) != 4 {
		t.Fatalf("before the stop: lag %d, want 4 (%+v)", s.Of(group), s.Groups)
	}

	c.Close()
	began := time.Now()
	s := read(2 * time.Second)
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Read took %s past its 2 s bound", took)
	}
	if s.Of(group) != lag.Unknown || s.Groups[0].Error == "" {
		t.Fatalf("broker down: lag %d error %q, want -1 and a reason", s.Of(group), s.Groups[0].Error)
	}

	c2, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake restart: %v", err)
	}
	defer c2.Close()
	testkit.Eventually(t, 15*time.Second, func() (bool, string) {
		s := read(3 * time.Second)
		return s.Of(group) == 4, fmt.Sprintf("after the restart: lag %d (%s)", s.Of(group), s.Groups[0].Error)
	})
}
