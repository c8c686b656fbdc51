package order

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
)

// TestRelayDrainsBacklogAfterBrokerOutage: Kafka (kfake behind Toxiproxy)
// is cut for 30 s while 10,000 orders are accepted; the relay's lanes back
// off (transient errors: nothing parked), and once the link is back the
// whole backlog is published: every order's order-placed record on the
// topic, none missing. Bounded: 10,000 orders, 30 s cut, 2 min to drain.
func TestRelayDrainsBacklogAfterBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s broker outage with a 10,000-row backlog")
	}
	const orders, outage = 10_000, 30 * time.Second
	kc, proxy := kafkaBehindProxy(t)
	base, svc := runService(t, Config{Mode: ModeAsync, Kafka: kc, Group: "order-test-" + uuid.NewString(),
		DBPath: filepath.Join(t.TempDir(), "orders.db"), PublishTimeout: time.Second})
	first, _ := postHTTP(t, base) // the relay learns the partition count
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		st := getStats(t, base)
		return st.OutboxBacklog == 0 && st.OutboxPublished == 1, fmt.Sprintf("backlog %d, published %d", st.OutboxBacklog, st.OutboxPublished)
	})

	if err := proxy.Disable(); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	want := map[string]bool{first.ID: true}
	for i := range orders {
		res := postOrder(t, svc.Handler(), fmt.Sprintf("SKU-%d", i%50), 1, "")
		if res.status != http.StatusAccepted {
			t.Fatalf("order %d during the outage: %d %s", i, res.status, res.body)
		}
		want[res.order(t).ID] = true
	}
	failsBefore := svc.Relay().Failures()
	// The fault took effect: lanes fail and back off, nothing is marked.
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		n := svc.Relay().Failures() - failsBefore
		return n >= 3, fmt.Sprintf("%d/3 failed lane sends during the outage", n)
	})
	if st := getStats(t, base); st.OutboxBacklog != orders || st.OutboxParked != 0 {
		t.Fatalf("during the outage: backlog %d, parked %d; want %d waiting, none parked", st.OutboxBacklog, st.OutboxParked, orders)
	}
	time.Sleep(time.Until(cut.Add(outage))) // the outage's length is the scenario, not a wait for a condition
	if st := getStats(t, base); st.OutboxBacklog != orders || st.OutboxParked != 0 {
		t.Fatalf("after %v cut: backlog %d, parked %d; want %d waiting, none parked", outage, st.OutboxBacklog, st.OutboxParked, orders)
	}
	if err := proxy.Enable(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	testkit.Eventually(t, 2*time.Minute, func() (bool, string) {
		st := getStats(t, base)
		return st.OutboxBacklog == 0, fmt.Sprintf("backlog %d, published %d", st.OutboxBacklog, st.OutboxPublished)
	})
	st := getStats(t, base)
	t.Logf("%d rows drained %v after the link came back (%d lanes, %d failed lane sends)", orders, time.Since(healed).Round(time.Millisecond), st.OutboxLanes, st.PublishFailures)
	if st.OutboxParked != 0 {
		t.Fatalf("%d rows parked after a transient outage, want 0", st.OutboxParked)
	}
	msgs := consumeAll(t, kc, events.TopicOrderPlaced)
	deadline := time.After(time.Minute)
	for len(want) > 0 {
		select {
		case m := <-msgs:
			delete(want, string(m.Key))
		case <-deadline:
			t.Fatalf("%d orders' order-placed records missing on Kafka", len(want))
		}
	}
}
