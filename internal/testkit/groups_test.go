package testkit_test

import (
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
)

// TestReadGroupOffsets: a group that never committed lags by every record;
// after it commits part of one partition, the lag is what is left; reset
// to 0, every record is due again.
func TestReadGroupOffsets(t *testing.T) {
	c := testkit.StartKafka(t, 2, []string{"t"})
	brokers := c.ListenAddrs()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout = time.Second, 5*time.Second
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 5 {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Partition: int32(i % 2), Value: sarama.StringEncoder("v")}); err != nil {
			t.Fatal(err)
		}
	}
	// ConsumeTopic reads all 5, from both partitions.
	records, perPartition := testkit.ConsumeTopic(t, brokers, "t"), map[int32]int{}
	for range 5 {
		select {
		case m := <-records:
			perPartition[m.Partition]++
		case <-time.After(10 * time.Second):
			t.Fatalf("ConsumeTopic: %v records per partition after 10 s, want 3 and 2", perPartition)
		}
	}
	if perPartition[0] != 3 || perPartition[1] != 2 {
		t.Fatalf("ConsumeTopic: %v records per partition, want 3 and 2", perPartition)
	}
	if g := testkit.ReadGroupOffsets(t, brokers, "g", "t"); g != (testkit.GroupOffsets{Committed: 0, End: 5}) || g.Lag() != 5 {
		t.Fatalf("before any commit: %+v lag %d, want end 5, lag 5", g, g.Lag())
	}
	testkit.SetGroupOffsets(t, brokers, "g", "t", map[int32]int64{0: 2})
	if g := testkit.ReadGroupOffsets(t, brokers, "g", "t"); g != (testkit.GroupOffsets{Committed: 2, End: 5}) || g.Lag() != 3 {
		t.Fatalf("after committing 2 of partition 0: %+v lag %d, want committed 2, lag 3", g, g.Lag())
	}
	testkit.SetGroupOffsets(t, brokers, "g", "t", map[int32]int64{0: 0})
	if g := testkit.ReadGroupOffsets(t, brokers, "g", "t"); g.Lag() != 5 {
		t.Fatalf("after resetting partition 0 to 0: %+v lag %d, want lag 5", g, g.Lag())
	}
}
