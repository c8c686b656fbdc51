package notification_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/notification"
)

// TestKafkaCutThroughToxiproxy cuts the service's only path to the broker
// (a Toxiproxy proxy it bootstraps through and routes the advertised
// address to) while orders keep being published: nothing is recorded
// during the cut and its lag, read at the broker, grows by exactly the
// orders published; after the proxy is back every order is notified once
// and the lag drains to 0.
func TestKafkaCutThroughToxiproxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka and Toxiproxy")
	}
	broker := startKafka(t)
	proxy, err := testkit.Toxiproxy(t).CreateProxy("notification-kafka", "127.0.0.1:0", broker)
	if err != nil {
		t.Fatal(err)
	}
	kc := fastKafka(t, proxy.Listen)
	kc.Route = map[string]string{broker: proxy.Listen} // the broker advertises its own address
	group := testkit.Uniq(t, "notification")
	svc := start(t, notification.Config{Kafka: kc, Group: group})
	p := producer(t, fastKafka(t, broker)) // the producer's path is not cut
	lagAtBroker := func() int64 {
		return testkit.ReadGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced).Lag()
	}

	before := orderIDs(t, "before", 10)
	for _, id := range before {
		send(t, p, record(t, placedEvent(id)))
	}
	awaitStats(t, svc.base, 60*time.Second, "want 10 notifications before the cut", func(s map[string]int64) bool { return s["notifications"] == 10 })
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		lag := lagAtBroker()
		return lag == 0, fmt.Sprintf("lag at the broker %d before the cut, want 0 (everything committed)", lag)
	})

	if err := proxy.Disable(); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	during := orderIDs(t, "during", 20)
	for _, id := range during {
		send(t, p, record(t, placedEvent(id)))
	}
	// The fault took effect: for 3 s, nothing is recorded while the broker
	// holds 20 records the group has not consumed. A bypassed proxy would
	// let them through.
	for time.Since(cutAt) < 3*time.Second {
		if n := stats(t, svc.base)["notifications"]; n != 10 {
			t.Fatalf("%d notifications during the cut, want still 10: the proxy was bypassed", n)
		}
		time.Sleep(100 * time.Millisecond) // sampling interval of a "never happens" check
	}
	if lag := lagAtBroker(); lag != int64(len(during)) {
		t.Fatalf("lag at the broker %d during the cut, want %d (every order published since)", lag, len(during))
	}

	if err := proxy.Enable(); err != nil {
		t.Fatal(err)
	}
	restored := time.Now()
	st := awaitStats(t, svc.base, 60*time.Second, "want 30 notifications after the cut", func(s map[string]int64) bool { return s["notifications"] == 30 })
	t.Logf("all %d orders published during the cut notified %v after the proxy came back", len(during), time.Since(restored).Round(10*time.Millisecond))
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		lag := lagAtBroker()
		return lag == 0, fmt.Sprintf("lag at the broker %d after the cut, want it drained to 0", lag)
	})
	if st["sends"] != 30 || st["duplicated_effects"] != 0 || st["dead_lettered"] != 0 {
		t.Fatalf("stats %v: want 30 sends, nothing duplicated or dead-lettered", st)
	}
	checkOncePerOrder(t, svc.base, append(before, during...))
}

// TestGroupIndependentOfInventory runs inventory-service and
// notification-service on one broker, each in its own consumer group:
// both see every order-placed record. With notification-service stopped,
// inventory keeps reserving at its own pace while notification's lag
// grows at the broker; restarted, notification catches up, once per order.
func TestGroupIndependentOfInventory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	broker := startKafka(t)
	inv, err := inventory.New(inventory.Config{DBPath: filepath.Join(t.TempDir(), "inventory.db"), Catalog: map[string]int{"SKU-1": 1000},
		Kafka: fastKafka(t, broker), Group: testkit.Uniq(t, "inventory")}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	invRun := runInventory(t, inv)
	group := testkit.Uniq(t, "notification")
	cfg := notification.Config{Kafka: fastKafka(t, broker), Group: group, DBPath: filepath.Join(t.TempDir(), "notification.db")}
	notif := start(t, cfg)
	p := producer(t, fastKafka(t, broker))
	reserved := func() int {
		st, err := inv.Store().Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Reserved
	}

	first := orderIDs(t, "first", 15)
	for _, id := range first {
		send(t, p, record(t, placedEvent(id)))
	}
	awaitStats(t, notif.base, 60*time.Second, "want 15 notifications", func(s map[string]int64) bool { return s["notifications"] == 15 })
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		n := reserved()
		return n == 15, fmt.Sprintf("inventory reserved %d/15", n)
	})

	notif.stop()
	second := orderIDs(t, "second", 15)
	for _, id := range second {
		send(t, p, record(t, placedEvent(id)))
	}
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		n := reserved()
		return n == 30, fmt.Sprintf("inventory reserved %d/30 with notification-service down", n)
	})
	if g := testkit.ReadGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced); g.Lag() != 15 {
		t.Fatalf("notification group lag %d at the broker while it is down, want 15", g.Lag())
	}

	again := start(t, cfg)
	// handled is counted after the record's notification is stored: poll
	// it with the notifications instead of reading it once.
	st := awaitStats(t, again.base, 60*time.Second, "want 30 notifications and 15 records handled after the restart", func(s map[string]int64) bool {
		return s["notifications"] == 30 && s["handled"] >= 15
	})
	if st["sends"] != 30 || st["duplicated_effects"] != 0 || st["handled"] != 15 {
		t.Fatalf("stats %v: want 30 sends, none doubled, 15 records handled by the restarted service", st)
	}
	checkOncePerOrder(t, again.base, append(first, second...))
	if n := reserved(); n != 30 {
		t.Fatalf("inventory reserved %d, want 30", n)
	}
	invRun()
}
