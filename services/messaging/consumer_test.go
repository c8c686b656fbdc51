package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// committed returns the group's committed offset of topic/0 (-1: none
// yet, or the group is not known yet).
func committed(t testing.TB, kc messaging.Config, group, topic string) int64 {
	t.Helper()
	sc, err := messaging.SaramaConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(kc.Brokers, sc)
	if err != nil {
		t.Fatalf("cluster admin: %v", err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return -1
	}
	if err != nil {
		t.Fatalf("list offsets of %s: %v", group, err)
	}
	b := resp.GetBlock(topic, 0)
	if b == nil {
		return -1
	}
	return b.Offset
}

func TestConsumerValidatesConfig(t *testing.T) {
	kc := messaging.Config{Brokers: []string{"127.0.0.1:1"}}
	for name, cfg := range map[string]messaging.ConsumerConfig{
		"no group":   {Kafka: kc, Topics: []string{"t"}},
		"no topics":  {Kafka: kc, Group: "g"},
		"no brokers": {Group: "g", Topics: []string{"t"}},
	} {
		if _, err := messaging.NewConsumer(cfg, func(context.Context, events.Message) error { return nil }, testkit.Logger(t)); err == nil {
			t.Errorf("%s: NewConsumer succeeded", name)
		}
	}
}

// TestConsumerCommitsOnlyWhatWasProcessed: while the handler holds record
// 1, the committed offset stays at 1 (record 0 done); it moves to the end
// only after record 1 and 2 are processed. A consumer restarted in the
// group then starts after them: nothing processed is redelivered.
func TestConsumerCommitsOnlyWhatWasProcessed(t *testing.T) {
	topic, group := testkit.Uniq(t, "topic"), testkit.Uniq(t, "group")
	c := testkit.StartKafka(t, 1, []string{topic})
	kc := fastConfig(t, c.ListenAddrs())
	p := newProducer(t, kc)
	for i := range 3 {
		send(t, p, record(t, topic, "order", i))
	}
	release := make(chan struct{})
	var h handled
	handler := func(ctx context.Context, m events.Message) error {
		if seqOf(t, m.Value) == 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		h.add(m)
		return nil
	}
	cons, err := messaging.NewConsumer(messaging.ConsumerConfig{Kafka: kc, Group: group, Topics: []string{topic}}, handler, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, cons)
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		off := committed(t, kc, group, topic)
		return off == 1, fmt.Sprintf("committed offset %d, want 1 (record 0 processed, record 1 held)", off)
	})
	// Several auto-commit intervals (500 ms) pass: the held record is never committed.
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
		if off := committed(t, kc, group, topic); off != 1 {
			t.Fatalf("committed offset %d while record 1 was still being processed", off)
		}
		time.Sleep(100 * time.Millisecond) // sampling interval of a "never happens" check
	}
	close(release)
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		off := committed(t, kc, group, topic)
		return off == 3, fmt.Sprintf("committed offset %d, want 3 after processing everything", off)
	})
	stop()

	// Restart in the same group: only new records arrive.
	send(t, p, record(t, topic, "order", 3))
	var again handled
	startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: group, Topics: []string{topic}}, again.handler())
	testkit.Eventually(t, 20*time.Second, func() (bool, string) { return again.count() >= 1, "the new record was not consumed" })
	if ids := again.eventIDs(); !slices.Equal(ids, []string{"order#3"}) {
		t.Fatalf("after restart consumed %v, want only order#3", ids)
	}
}

// TestConsumerRetriesTransientFailuresWithoutSkipping: a failing record is
// retried until it succeeds; records behind it wait (per-partition order).
func TestConsumerRetriesTransientFailuresWithoutSkipping(t *testing.T) {
	topic, kc, p := startTopic(t, 1)
	for i := range 4 {
		send(t, p, record(t, topic, "order", i))
	}
	var fails atomic.Int32
	var h handled
	cons := startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}, RetryBackoff: 10 * time.Millisecond},
		func(_ context.Context, m events.Message) error {
			if seqOf(t, m.Value) == 1 && fails.Add(1) <= 3 {
				return errors.New("database busy")
			}
			h.add(m)
			return nil
		})
	testkit.Eventually(t, 20*time.Second, func() (bool, string) { return h.count() == 4, fmt.Sprintf("handled %d/4", h.count()) })
	if ids := h.eventIDs(); !slices.Equal(ids, []string{"order#0", "order#1", "order#2", "order#3"}) {
		t.Fatalf("handled %v", ids)
	}
	if cons.Handled() != 4 || cons.DeadLettered() != 0 || fails.Load() != 4 {
		t.Fatalf("handled %d, dead-lettered %d, attempts of record 1: %d", cons.Handled(), cons.DeadLettered(), fails.Load())
	}
}

// TestConsumerDeadLettersPoisonAndKeepsGoing: a poison record goes to the
// dead-letter topic with its reason and source, and the records behind it
// on the same partition are processed.
func TestConsumerDeadLettersPoisonAndKeepsGoing(t *testing.T) {
	topic, kc, p := startTopic(t, 1, events.TopicDeadLetter)
	send(t, p, record(t, topic, "order", 0))
	send(t, p, events.Message{Topic: topic, Key: "order", Value: []byte("{not json"), Headers: []events.Header{{Key: "trace", Value: "abc"}}})
	send(t, p, record(t, topic, "order", 2))

	var h handled
	cons := startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}, DeadLetter: p}, decodingHandler(&h))
	dead := deadLetters(t, kc)
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		return h.count() == 2 && dead.count() == 1, fmt.Sprintf("handled %d/2, dead letters %d/1", h.count(), dead.count())
	})
	if ids := h.eventIDs(); !slices.Equal(ids, []string{"order#0", "order#2"}) {
		t.Fatalf("handled %v", ids)
	}
	dl := dead.All()[0]
	if string(dl.Value) != "{not json" || dl.Key != "order" || dl.Header("trace") != "abc" || dl.Header("dlq-source-topic") != topic ||
		!strings.Contains(dl.Header("dlq-reason"), events.ErrInvalid.Error()) {
		t.Fatalf("dead letter %+v", dl)
	}
	if cons.DeadLettered() != 1 || cons.Handled() != 2 {
		t.Fatalf("dead-lettered %d, handled %d", cons.DeadLettered(), cons.Handled())
	}
}

// TestConsumerResumesAfterBrokerRestart closes the broker under a running
// consumer and starts it again on the same port and data directory: Run
// keeps going (it does not return, and nothing is skipped) and consumption
// resumes where it was.
func TestConsumerResumesAfterBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a broker")
	}
	topic, group := testkit.Uniq(t, "topic"), testkit.Uniq(t, "group")
	port, dir := testkit.FreePort(t), filepath.Join(t.TempDir(), "kafka")
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir)}
	c := testkit.StartKafka(t, 2, []string{topic}, opts...)
	kc := fastConfig(t, c.ListenAddrs())

	var h handled
	cons, err := messaging.NewConsumer(messaging.ConsumerConfig{Kafka: kc, Group: group, Topics: []string{topic}, RetryBackoff: 100 * time.Millisecond},
		h.handler(), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- cons.Run(ctx) }()

	p := newProducer(t, kc)
	for i := range 5 {
		send(t, p, record(t, topic, fmt.Sprintf("before-%d", i), 0))
	}
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		return h.count() == 5, fmt.Sprintf("consumed %d/5 before the restart", h.count())
	})
	_ = p.Close()

	c.Close()                   // the broker goes away under the running consumer
	time.Sleep(2 * time.Second) // let the consumer notice: this is the outage, not a wait for a condition
	select {
	case err := <-runDone:
		t.Fatalf("Run returned %v during the outage, want it to keep going", err)
	default:
	}
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir))
	if err != nil {
		t.Fatalf("restart kfake: %v", err)
	}
	t.Cleanup(c2.Close)

	p2 := newProducer(t, kc)
	for i := range 5 {
		send(t, p2, record(t, topic, fmt.Sprintf("after-%d", i), 0))
	}
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		n := 0
		for _, id := range h.eventIDs() {
			if strings.HasPrefix(id, "after-") {
				n++
			}
		}
		return n == 5, fmt.Sprintf("consumed %d/5 records produced after the restart (%d in all)", n, h.count())
	})
	seen := map[string]int{}
	for _, id := range h.eventIDs() {
		seen[id]++
	}
	for i := range 5 {
		for _, id := range []string{fmt.Sprintf("before-%d#0", i), fmt.Sprintf("after-%d#0", i)} {
			if seen[id] == 0 {
				t.Errorf("%s never consumed", id)
			}
		}
	}
	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
