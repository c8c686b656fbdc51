package messaging_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestPartitionIsTheProducersChoice: records sent by the Producer land on
// the partition messaging.Partition predicts for their key, and Metadata
// reports the topic's partition count.
func TestPartitionIsTheProducersChoice(t *testing.T) {
	const parts = 5
	topic := testkit.Uniq(t, "topic")
	c := testkit.StartKafka(t, parts, []string{topic})
	kc := fastConfig(t, c.ListenAddrs())
	md, err := messaging.NewMetadata(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = md.Close() })
	if n, err := md.Partitions(topic); err != nil || n != parts {
		t.Fatalf("Partitions(%s) = %d, %v; want %d", topic, n, err, parts)
	}
	if _, err := md.Partitions(""); err == nil {
		t.Fatal("Partitions of an empty topic name: no error")
	}

	p := newProducer(t, kc)
	const n = 100
	want := map[string]int32{}
	used := map[int32]bool{}
	for i := range n {
		key := fmt.Sprintf("order-%d", i)
		want[key] = messaging.Partition(key, parts)
		if want[key] < 0 || want[key] >= parts {
			t.Fatalf("Partition(%q, %d) = %d, out of range", key, parts, want[key])
		}
		used[want[key]] = true
		send(t, p, events.Message{Topic: topic, Key: key, Value: []byte("{}")})
	}
	if len(used) < 2 {
		t.Fatalf("%d keys hash to %d partition(s): the test needs several", n, len(used))
	}
	sc, err := messaging.SaramaConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sarama.NewClient(kc.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cons.Close() })
	got := 0
	for part := range int32(parts) {
		hw, err := cl.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := cons.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
		for off := int64(0); off < hw; off++ {
			select {
			case m := <-pc.Messages():
				if w := want[string(m.Key)]; w != part {
					t.Errorf("key %s on partition %d, Partition says %d", m.Key, part, w)
				}
				got++
			case <-timeout:
				t.Fatalf("partition %d: read %d of %d records", part, off, hw)
			}
		}
		pc.Close()
	}
	if got != n {
		t.Fatalf("read %d records, sent %d", got, n)
	}
	if messaging.Partition("k", 0) != 0 {
		t.Fatal("Partition(k, 0) != 0")
	}
}
