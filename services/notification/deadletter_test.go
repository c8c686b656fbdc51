package notification_test

import (
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/notification"
)

// TestOversizedPoisonDeadLetteredAsEnvelope: on notification's
// order-placed consumer, a poison record too large to dead-letter whole
// is dead-lettered as an envelope after its bounded attempts, and the
// orders behind it on the same partition are notified.
func TestOversizedPoisonDeadLetteredAsEnvelope(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	broker := startKafka(t)
	svc := start(t, notification.Config{Kafka: fastKafka(t, broker), Group: testkit.Uniq(t, "notification"), MaxAttempts: 2})
	p := producer(t, fastKafka(t, broker))
	key := testkit.Uniq(t, "key")
	send(t, p, testkit.NearLimitPoison("order-placed", key))
	ids := orderIDs(t, "order", 5)
	for _, id := range ids {
		m := record(t, placedEvent(id))
		m.Key = key // same partition, behind the poison
		send(t, p, m)
	}
	st := awaitStats(t, svc.base, 30*time.Second, "5 orders handled and 1 envelope", func(s map[string]int64) bool {
		return s["handled"] == 5 && s["dead_lettered_envelope"] == 1
	})
	if st["dead_lettered"] != 1 || st["dead_lettered_whole"] != 0 || st["dead_letters_dropped"] != 0 || st["handler_errors_permanent"] != 2 || st["notifications"] != 5 {
		t.Fatalf("stats %v", st)
	}
	checkOncePerOrder(t, svc.base, ids)
}
