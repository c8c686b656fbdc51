package order

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// outboxLanes returns every outbox row's event ID -> lane (-1: none).
func outboxLanes(t *testing.T, st *Store) map[string]int32 {
	t.Helper()
	rows, err := st.db.Query(`SELECT event_id, COALESCE(lane, -1) FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int32{}
	for rows.Next() {
		var id string
		var lane int32
		if err := rows.Scan(&id, &lane); err != nil {
			t.Fatal(err)
		}
		out[id] = lane
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// postAsyncOrders posts n async orders and returns every outbox row's
// event ID, in seq order.
func postAsyncOrders(t *testing.T, s *Service, n int) []string {
	t.Helper()
	for i := range n {
		if res := postOrder(t, s.Handler(), fmt.Sprintf("SKU-%d", i), 1, ""); res.status != http.StatusAccepted {
			t.Fatalf("post: %d %s", res.status, res.body)
		}
	}
	rows, err := s.Store().db.Query(`SELECT event_id FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestLanesGivenAtInsert: rows get no lane until the relay knows the
// topic's partition count and an assignment pass has given every waiting
// row of the topic its lane (so a later row of a key never has a lane
// before an earlier one); from then on the committer gives each new row
// its lane (the partition of its key) and reports the lanes once committed.
func TestLanesGivenAtInsert(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	st := s.Store()
	var mu sync.Mutex
	var reported []laneID
	var unlanedReports int
	notify := func(ids []laneID, unlaned bool) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, ids...)
		if unlaned {
			unlanedReports++
		}
	}
	st.lanes.notify.Store(&notify)

	first := postAsyncOrders(t, s, 3) // count unknown: no lane
	st.setPartitions(events.TopicOrderPlaced, 3)
	postAsyncOrders(t, s, 2) // count known, but rows without a lane wait: still none
	for id, lane := range outboxLanes(t, st) {
		if lane != -1 {
			t.Fatalf("row %s got lane %d before the assignment pass", id, lane)
		}
	}
	mu.Lock()
	if len(reported) != 0 || unlanedReports != 5 {
		t.Fatalf("reported lanes %v and %d inserts without a lane, want none and 5", reported, unlanedReports)
	}
	mu.Unlock()

	lanes, unknown, more, err := st.assignLanes(context.Background(), assignBatch)
	if err != nil || len(unknown) != 0 || more || len(lanes) == 0 {
		t.Fatalf("assignLanes = %v, %v, %v, %v; want lanes, no unknown topic, no more", lanes, unknown, more, err)
	}
	assigned := outboxLanes(t, st)
	all := postAsyncOrders(t, s, 4) // 5 old + 4 new, in seq order
	if !slices.Equal(all[:3], first) {
		t.Fatalf("rows %v, want the first three %v first", all, first)
	}
	keys := map[string]string{}
	rows, err := st.unpublished(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		keys[r.eventID] = r.msg.Key
	}
	got := outboxLanes(t, st)
	var want []laneID
	for _, id := range all {
		p := messaging.Partition(keys[id], 3)
		if got[id] != p {
			t.Errorf("row %s (key %s) has lane %d, want %d", id, keys[id], got[id], p)
		}
		if _, old := assigned[id]; !old && !slices.Contains(want, laneID{events.TopicOrderPlaced, p}) {
			want = append(want, laneID{events.TopicOrderPlaced, p})
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range want {
		if !slices.Contains(reported, id) {
			t.Errorf("lane %v of a new row not reported (reported %v)", id, reported)
		}
	}
	if unlanedReports != 5 {
		t.Errorf("%d inserts reported without a lane, want still 5", unlanedReports)
	}
}

// TestRelayPublishesRowsLanedAtInsert: with the relay running, rows placed
// after its first pass carry their lane from the insert and are published
// promptly (the committer wakes the relay: no interval to wait for), each
// once, in order within each partition.
func TestRelayPublishesRowsLanedAtInsert(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, partitions: 3, entered: make(chan struct{}, 1)}
	// An interval far above the test's wait: only the wake-ups publish.
	r := NewRelay(s.Store(), pub, RelayConfig{PublishTimeout: time.Second, Interval: time.Hour}, testkit.Logger(t))
	startRelay(t, r)
	postAsyncOrders(t, s, 2) // no lane yet: the relay's pass
	testkit.Eventually(t, 5*time.Second, func() (bool, string) { return r.Published() == 2, fmt.Sprintf("published %d/2", r.Published()) })
	ids := postAsyncOrders(t, s, 30) // all 32, in seq order
	lanes := outboxLanes(t, s.Store())
	for _, id := range ids[2:] {
		if lanes[id] == -1 {
			t.Fatalf("row %s placed after the relay's pass has no lane", id)
		}
	}
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		return r.Published() == 32, fmt.Sprintf("published %d/32", r.Published())
	})
	_, acked := pub.snapshot()
	if len(acked) != 32 {
		t.Fatalf("acked %d records, want each of 32 once: %v", len(acked), acked)
	}
	pos := map[string]int{}
	for i, id := range acked {
		pos[id] = i
	}
	last := map[int32]int{}
	for _, id := range ids[2:] { // seq order
		p := lanes[id]
		if at, ok := pos[id]; !ok || at < last[p] {
			t.Fatalf("row %s of lane %d acked at %d (present %v), after a later row of its lane", id, p, at, ok)
		} else {
			last[p] = at
		}
	}
}
