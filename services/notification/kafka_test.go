package notification_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

const partitions = 3

// startKafka starts an embedded broker with every topic of the services in
// 3 partitions and returns its bootstrap address.
func startKafka(t testing.TB) string {
	return testkit.StartKafka(t, partitions, events.AllTopics).ListenAddrs()[0]
}

// TestRedeliveredRecordsNotifyOnce: every order-placed record arrives three
// times (a relay whose acknowledgement was lost publishes again): one
// notification and one send per order, the copies counted as redelivered.
func TestRedeliveredRecordsNotifyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	broker := startKafka(t)
	svc := start(t, notification.Config{Kafka: fastKafka(t, broker), Group: testkit.Uniq(t, "notification")})
	p := producer(t, fastKafka(t, broker))
	ids := orderIDs(t, "order", 20)
	const copies = 3
	for _, id := range ids {
		for range copies {
			send(t, p, record(t, placedEvent(id)))
		}
	}
	n := int64(len(ids))
	st := awaitStats(t, svc.base, 60*time.Second, fmt.Sprintf("want %d records handled", n*copies), func(s map[string]int64) bool {
		return s["handled"] == n*copies
	})
	if st["notifications"] != n || st["sends"] != n || st["duplicated_effects"] != 0 || st["redelivered"] != n*(copies-1) || st["dead_lettered"] != 0 {
		t.Fatalf("stats %v: want %d notifications and sends, %d redelivered, nothing duplicated", st, n, n*(copies-1))
	}
	checkOncePerOrder(t, svc.base, ids)
}

// TestRestartWithUncommittedOffsetsNotifiesOnce: the service processes
// every order and stops; the group's offsets are then rewound to 0, as if
// it had crashed before committing anything. A new service on the same
// database and group re-reads every record and notifies nobody again.
func TestRestartWithUncommittedOffsetsNotifiesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	broker := startKafka(t)
	group := testkit.Uniq(t, "notification")
	cfg := notification.Config{Kafka: fastKafka(t, broker), Group: group, DBPath: t.TempDir() + "/notification.db"}
	p := producer(t, fastKafka(t, broker))
	ids := orderIDs(t, "order", 30)
	for _, id := range ids {
		send(t, p, record(t, placedEvent(id)))
	}
	n := int64(len(ids))

	first := start(t, cfg)
	awaitStats(t, first.base, 60*time.Second, fmt.Sprintf("want %d notifications", n), func(s map[string]int64) bool { return s["notifications"] == n })
	first.stop() // commits what it processed
	if g := testkit.ReadGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced); g.Committed != n || g.Lag() != 0 {
		t.Fatalf("after a clean stop: committed %d of %d records, want all", g.Committed, g.End)
	}
	testkit.SetGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced, map[int32]int64{0: 0, 1: 0, 2: 0})
	if g := testkit.ReadGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced); g.Committed != 0 {
		t.Fatalf("rewind: group still at %d, want 0 (the fault did not take effect)", g.Committed)
	}

	second := start(t, cfg)
	st := awaitStats(t, second.base, 60*time.Second, fmt.Sprintf("want all %d records handled again", n), func(s map[string]int64) bool { return s["handled"] == n })
	if st["notifications"] != n || st["sends"] != n || st["duplicated_effects"] != 0 || st["redelivered"] != n {
		t.Fatalf("stats after re-reading everything %v: want %d notifications and sends, %d redelivered", st, n, n)
	}
	checkOncePerOrder(t, second.base, ids)
}

// TestPoisonRecordIsDeadLetteredAndTheNextProcessed: on one partition
// (same key), a record that is not JSON and a stock-reserved event on the
// order-placed topic go to the dead-letter topic; the valid records around
// them are notified.
func TestPoisonRecordIsDeadLetteredAndTheNextProcessed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	broker := startKafka(t)
	svc := start(t, notification.Config{Kafka: fastKafka(t, broker), Group: testkit.Uniq(t, "notification")})
	p := producer(t, fastKafka(t, broker))
	key := testkit.Uniq(t, "order")
	before, after := placedEvent(key+"-before"), placedEvent(key+"-after")
	wrongType := placedEvent(key + "-reserved")
	wrongType.Type = events.StockReserved
	poison := []events.Message{
		{Topic: events.TopicOrderPlaced, Key: key, Value: []byte("{not json")},
		{Topic: events.TopicOrderPlaced, Key: key, Value: record(t, wrongType).Value},
	}
	for _, m := range []events.Message{record(t, before), poison[0], poison[1], record(t, after)} {
		m.Key = key // one partition: the valid record behind the poison waits for it
		send(t, p, m)
	}
	st := awaitStats(t, svc.base, 60*time.Second, "want 2 notifications and 2 dead letters", func(s map[string]int64) bool {
		return s["notifications"] == 2 && s["dead_lettered"] == 2 && s["handled"] >= 2
	})
	if st["handled"] != 2 || st["duplicated_effects"] != 0 {
		t.Fatalf("stats %v", st)
	}
	for _, id := range []string{before.OrderID, after.OrderID} {
		var n notificationBody
		if code := getJSON(t, svc.base+"/notifications/"+id, &n); code != 200 || n.Sends != 1 {
			t.Errorf("order %s: %d %+v", id, code, n)
		}
	}

	// The dead letters, read back from the broker.
	var dead testkit.Records
	dlc, err := messaging.NewConsumer(messaging.ConsumerConfig{Kafka: fastKafka(t, broker), Group: testkit.Uniq(t, "dlq"), Topics: []string{events.TopicDeadLetter}},
		dead.Handle, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, dlc)
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		n := len(dead.All())
		return n == 2, fmt.Sprintf("%d/2 dead letters on %s", n, events.TopicDeadLetter)
	})
	for i, m := range dead.All() {
		if m.Key != key || string(m.Value) != string(poison[i].Value) || m.Header("dlq-source-topic") != events.TopicOrderPlaced || m.Header("dlq-reason") == "" {
			t.Errorf("dead letter %d: %+v, want the poison record %q with its source topic and reason", i, m, poison[i].Value)
		}
	}
}
