package order

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// fakePublisher is a Publisher over `partitions` partitions (default 1).
// Each SendBatch call either fails whole (while fail > 0, decremented per
// call: "broker down"), or gives each record outcome(m, partition) (nil
// outcome: acknowledged). With hang set it blocks until ctx ends. It
// checks, for each record, that its row is still waiting in the store and
// that the call has a deadline within timeout.
type fakePublisher struct {
	t          testing.TB
	st         *Store
	timeout    time.Duration // expected PublishTimeout
	partitions int32
	hang       bool
	entered    chan struct{} // one value per SendBatch call, best effort

	mu       sync.Mutex
	fail     int
	outcome  func(m events.Message, partition int32) error
	attempts []string // event IDs, every record handed over
	acked    []string // event IDs, acknowledged
	calls    []int    // records per SendBatch call
}

func (f *fakePublisher) Partitions(_ context.Context, topic string) (int32, error) {
	if topic == unknownTopic {
		return 0, errors.New("kafka server: Request was for a topic or partition that does not exist on this broker")
	}
	return max(f.partitions, 1), nil
}

// unknownTopic is a topic fakePublisher has no metadata for.
const unknownTopic = "no-such-topic"

func (f *fakePublisher) SendBatch(ctx context.Context, ms []events.Message) []error {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > f.timeout {
		f.t.Errorf("SendBatch without a deadline within %v", f.timeout)
	}
	for _, m := range ms {
		id := m.Header(events.HeaderEventID)
		var published, parked string
		if err := f.st.db.QueryRow(`SELECT COALESCE(published_at, ''), COALESCE(parked_at, '') FROM outbox WHERE event_id = ?`, id).Scan(&published, &parked); err != nil || published != "" || parked != "" {
			f.t.Errorf("row %s sent while published_at=%q parked_at=%q (%v)", id, published, parked, err)
		}
	}
	errs := make([]error, len(ms))
	if f.hang {
		<-ctx.Done()
		for i := range errs {
			errs[i] = ctx.Err()
		}
		return errs
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, len(ms))
	failAll := f.fail > 0
	if failAll {
		f.fail--
	}
	for i, m := range ms {
		id := m.Header(events.HeaderEventID)
		f.attempts = append(f.attempts, id)
		switch {
		case failAll:
			errs[i] = fmt.Errorf("broker down: %w", sarama.ErrOutOfBrokers)
		case f.outcome != nil:
			errs[i] = f.outcome(m, messaging.Partition(m.Key, max(f.partitions, 1)))
		}
		if errs[i] == nil {
			f.acked = append(f.acked, id)
		}
	}
	return errs
}

func (f *fakePublisher) setOutcome(o func(m events.Message, partition int32) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome = o
}

func (f *fakePublisher) snapshot() (attempts, acked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.attempts...), append([]string(nil), f.acked...)
}

// placeAsyncOrders posts n async orders into an empty outbox with no
// relay running and returns their outbox event IDs in insertion order.
func placeAsyncOrders(t *testing.T, s *Service, n int) []string {
	t.Helper()
	ids := postAsyncOrders(t, s, n)
	if rows, err := s.Store().unpublished(context.Background(), 1000); err != nil || len(rows) != n || len(ids) != n {
		t.Fatalf("unpublished = %d rows of %d in the outbox, %v; want %d", len(rows), len(ids), err, n)
	}
	return ids
}

func startRelay(t *testing.T, r *Relay) (cancel func() time.Duration) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	cancel = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			stop()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("relay did not return within 5s of cancel")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { cancel() })
	return cancel
}

func TestRelayRetriesUntilPublishedInOrder(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	ids := placeAsyncOrders(t, s, 3)
	const fails = 4 // SendBatch calls
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, fail: fails, entered: make(chan struct{}, 1)}
	r := NewRelay(s.Store(), pub, RelayConfig{Batch: 2, PublishTimeout: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}, testkit.Logger(t))
	startRelay(t, r)

	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		n, _ := s.Store().OutboxBacklog(context.Background())
		return r.Published() == 3 && n == 0, fmt.Sprintf("published %d/3, backlog %d", r.Published(), n)
	})
	attempts, acked := pub.snapshot()
	if fmt.Sprint(acked) != fmt.Sprint(ids) {
		t.Fatalf("acked %v, want each once in order %v", acked, ids)
	}
	// A full batch fails, then the lane probes with the first row alone
	// until it succeeds; later rows wait for it, then go in a full batch.
	want := []string{ids[0], ids[1], ids[0], ids[0], ids[0], ids[0], ids[1], ids[2]}
	if fmt.Sprint(attempts) != fmt.Sprint(want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
	}
	if r.Parked() != 0 || r.Failures() != fails {
		t.Fatalf("parked %d, failures %d; want 0 and %d (transient errors never park)", r.Parked(), r.Failures(), fails)
	}
	// Nothing is sent again once published.
	r.Wake()
	time.Sleep(50 * time.Millisecond) // a "never happens" window, not a wait for a condition
	if attempts2, _ := pub.snapshot(); len(attempts2) != len(attempts) {
		t.Fatalf("published rows resent: %v", attempts2[len(attempts):])
	}
}

func TestRelayReturnsOnCancelWhilePublisherHangs(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	placeAsyncOrders(t, s, 1)
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Minute, hang: true, entered: make(chan struct{}, 1)}
	r := NewRelay(s.Store(), pub, RelayConfig{PublishTimeout: time.Minute}, testkit.Logger(t))
	cancel := startRelay(t, r)
	select {
	case <-pub.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher never called")
	}
	if took := cancel(); took > time.Second {
		t.Fatalf("Run returned %v after cancel", took)
	}
	if n, _ := s.Store().OutboxBacklog(context.Background()); n != 1 || r.Published() != 0 {
		t.Fatalf("backlog %d, published %d: an unacknowledged row was marked", n, r.Published())
	}
}

func TestRelayBackoffBounds(t *testing.T) {
	r := NewRelay(nil, nil, RelayConfig{}, nil)
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 100: time.Second} {
		for range 50 {
			if d := r.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

// TestRestartKeepsPendingOrdersAndOutbox closes the service with PENDING
// orders and unpublished rows, reopens the database and relays them.
func TestRestartKeepsPendingOrdersAndOutbox(t *testing.T) {
	cfg := Config{Mode: ModeAsync, DBPath: t.TempDir() + "/orders.db"}
	s1 := newService(t, cfg)
	ids := placeAsyncOrders(t, s1, 2)
	o := postOrder(t, s1.Handler(), "SKU-X", 1, "").order(t)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := newService(t, cfg)
	if got, err := s2.Store().Get(context.Background(), o.ID); err != nil || got.Status != StatusPending || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("after restart: %+v, %v; want %+v", got, err, o)
	}
	if st, err := s2.Store().Stats(context.Background()); err != nil || st.ByStatus[StatusPending] != 3 || st.OutboxBacklog != 3 {
		t.Fatalf("stats after restart %+v, %v", st, err)
	}
	pub := &fakePublisher{t: t, st: s2.Store(), timeout: time.Second, entered: make(chan struct{}, 1)}
	r := NewRelay(s2.Store(), pub, RelayConfig{PublishTimeout: time.Second}, testkit.Logger(t))
	startRelay(t, r)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) { return r.Published() == 3, fmt.Sprintf("published %d/3", r.Published()) })
	if _, acked := pub.snapshot(); acked[0] != ids[0] || acked[1] != ids[1] {
		t.Fatalf("acked %v, want %v first", acked, ids)
	}
}

// partitionOf returns the partition each event ID's row hashes to among n.
func partitionOf(t *testing.T, st *Store, n int32) map[string]int32 {
	t.Helper()
	rows, err := st.db.Query(`SELECT event_id, key FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int32{}
	for rows.Next() {
		var id, key string
		if err := rows.Scan(&id, &key); err != nil {
			t.Fatal(err)
		}
		out[id] = messaging.Partition(key, n)
	}
	return out
}

// TestRelayStalledPartitionHoldsOnlyItsKeys: one partition of four fails
// every send with a transient broker answer (not leader); the rows of the
// other three are all published, in order per partition, while that
// partition's rows wait, none parked however often the lane fails (an
// outage is not bounded by MaxUnclassifiedAttempts); once it heals they
// follow.
func TestRelayStalledPartitionHoldsOnlyItsKeys(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	ids := placeAsyncOrders(t, s, 200)
	const parts, stalled = 4, int32(2)
	part := partitionOf(t, s.Store(), parts)
	var healthy []string
	for _, id := range ids {
		if part[id] != stalled {
			healthy = append(healthy, id)
		}
	}
	if len(healthy) == len(ids) || len(healthy) == 0 {
		t.Fatalf("%d of %d rows on healthy partitions: the test needs both kinds", len(healthy), len(ids))
	}
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, partitions: parts, entered: make(chan struct{}, 1)}
	pub.setOutcome(func(_ events.Message, p int32) error {
		if p == stalled {
			return fmt.Errorf("produce: %w", sarama.ErrNotLeaderForPartition)
		}
		return nil
	})
	r := NewRelay(s.Store(), pub, RelayConfig{Batch: 16, PublishTimeout: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		MaxUnclassifiedAttempts: 2}, testkit.Logger(t))
	startRelay(t, r)

	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		return r.Published() == int64(len(healthy)), fmt.Sprintf("published %d/%d healthy rows", r.Published(), len(healthy))
	})
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		return r.Failures() >= 5, fmt.Sprintf("the stalled lane failed %d/5 times", r.Failures())
	})
	if n, _ := s.Store().OutboxBacklog(context.Background()); n != len(ids)-len(healthy) || r.Parked() != 0 || r.Lanes() != parts {
		t.Fatalf("backlog %d, parked %d, lanes %d; want the %d stalled rows waiting, none parked, %d lanes", n, r.Parked(), r.Lanes(), len(ids)-len(healthy), parts)
	}
	pub.setOutcome(nil)
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		return r.Published() == int64(len(ids)), fmt.Sprintf("published %d/%d after the partition healed", r.Published(), len(ids))
	})
	// Per partition, acknowledgements follow outbox order.
	_, acked := pub.snapshot()
	if len(acked) != len(ids) {
		t.Fatalf("%d acknowledgements for %d rows: %v", len(acked), len(ids), acked)
	}
	pos := map[string]int{}
	for i, id := range ids {
		pos[id] = i
	}
	last := map[int32]int{}
	for _, id := range acked {
		if p, ok := last[part[id]]; ok && pos[id] < p {
			t.Fatalf("partition %d: row %d acknowledged after row %d", part[id], pos[id], p)
		}
		last[part[id]] = pos[id]
	}
}

// TestRelayBatchesAndStopsAtFirstFailure: a lane hands Batch rows to one
// SendBatch call; when a record in the middle fails, the rows before it
// are marked, the failed one and every later one (acknowledged or not)
// are sent again.
func TestRelayBatchesAndStopsAtFirstFailure(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	ids := placeAsyncOrders(t, s, 10)
	var once sync.Once
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, entered: make(chan struct{}, 1)}
	pub.setOutcome(func(m events.Message, _ int32) error {
		var err error
		if m.Header(events.HeaderEventID) == ids[3] {
			once.Do(func() { err = errors.New("request timed out") })
		}
		return err
	})
	r := NewRelay(s.Store(), pub, RelayConfig{Batch: 8, PublishTimeout: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}, testkit.Logger(t))
	startRelay(t, r)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		return r.Published() == 10, fmt.Sprintf("published %d/10", r.Published())
	})
	attempts, _ := pub.snapshot()
	pub.mu.Lock()
	calls := append([]int(nil), pub.calls...)
	pub.mu.Unlock()
	// 8 rows in flight, row 3 fails: rows 0-2 marked; probe row 3 alone,
	// then rows 4-9 (4-7 were acknowledged but not marked: sent again).
	if fmt.Sprint(calls) != fmt.Sprint([]int{8, 1, 6}) {
		t.Fatalf("SendBatch sizes %v, want [8 1 6]", calls)
	}
	want := append(append(append([]string{}, ids[:8]...), ids[3]), ids[4:]...)
	if fmt.Sprint(attempts) != fmt.Sprint(want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
	}
}

// TestRelayParksPermanentFailure: a record the publisher refuses for good
// is parked with its reason, its order is FAILED (publish_failed) on
// GET /orders/{id}, /stats and GET /outbox/parked show it, it is never
// sent again, and every other row is published.
func TestRelayParksPermanentFailure(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	ids := placeAsyncOrders(t, s, 50)
	rows, err := s.Store().unpublished(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	poison := rows[17]
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, partitions: 3, entered: make(chan struct{}, 1)}
	pub.setOutcome(func(m events.Message, _ int32) error {
		if m.Key == poison.msg.Key {
			return fmt.Errorf("produce to %s: %w", m.Topic, messaging.ErrTooLarge)
		}
		return nil
	})
	r := NewRelay(s.Store(), pub, RelayConfig{Batch: 4, PublishTimeout: time.Second}, testkit.Logger(t))
	startRelay(t, r)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		return r.Published() == 49 && r.Parked() == 1, fmt.Sprintf("published %d/49, parked %d/1", r.Published(), r.Parked())
	})
	if r.Failures() != 0 {
		t.Fatalf("%d lane failures: a permanent error must park, not back off", r.Failures())
	}

	var stats struct {
		Orders  map[Status]int `json:"orders"`
		Backlog int            `json:"outbox_backlog"`
		Parked  int            `json:"outbox_parked"`
	}
	res := do(t, s.Handler(), http.MethodGet, "/stats", nil, nil)
	if err := json.Unmarshal(res.body, &stats); err != nil {
		t.Fatalf("stats %s: %v", res.body, err)
	}
	if stats.Backlog != 0 || stats.Parked != 1 || stats.Orders[StatusFailed] != 1 || stats.Orders[StatusPending] != 49 || !strings.Contains(string(res.body), `"outbox_lanes":0`) {
		t.Fatalf("stats %s: want backlog 0, parked 1, 1 FAILED, 49 PENDING, outbox_lanes 0 (the service's own relay is not running)", res.body)
	}
	if r.Lanes() != 3 {
		t.Fatalf("%d lanes, want 3 (50 keys over 3 partitions)", r.Lanes())
	}
	if res := do(t, s.Handler(), http.MethodGet, "/outbox/parked?limit=0", nil, nil); res.status != http.StatusBadRequest || res.errCode(t) != "invalid_request" {
		t.Fatalf("limit=0: %d %s, want 400 invalid_request", res.status, res.body)
	}

	// Never re-driven: later wakes do not send it again.
	r.Wake()
	time.Sleep(50 * time.Millisecond) // a "never happens" window, not a wait for a condition
	if sends, parked := parkedAlone(t, s, pub, ids, poison); sends != 1 || !strings.Contains(parked.Reason, messaging.ErrTooLarge.Error()) {
		t.Fatalf("the parked row was sent %d times with reason %q, want once with %q", sends, parked.Reason, messaging.ErrTooLarge)
	}
}

// parkedAlone checks that poison is the one parked row (GET
// /outbox/parked, with its order, size and time), that its order is
// FAILED publish_failed, and that pub acknowledged every other row of
// ids; it returns how many times poison was handed to pub, and its
// parked row.
func parkedAlone(t *testing.T, s *Service, pub *fakePublisher, ids []string, poison outboxRow) (sends int, parked ParkedRow) {
	t.Helper()
	attempts, acked := pub.snapshot()
	for _, id := range attempts {
		if id == poison.eventID {
			sends++
		}
	}
	seen := map[string]bool{}
	for _, id := range acked {
		seen[id] = true
	}
	for _, id := range ids {
		if id != poison.eventID && !seen[id] {
			t.Fatalf("row %s never acknowledged: the parked row held its lane", id)
		}
	}
	o := do(t, s.Handler(), http.MethodGet, "/orders/"+poison.orderID, nil, nil).order(t)
	if o.Status != StatusFailed || o.Reason != ReasonPublishFailed {
		t.Fatalf("order of the parked row: %s %q, want FAILED %q", o.Status, o.Reason, ReasonPublishFailed)
	}
	var rows []ParkedRow
	res := do(t, s.Handler(), http.MethodGet, "/outbox/parked", nil, nil)
	if err := json.Unmarshal(res.body, &rows); err != nil || res.status != http.StatusOK {
		t.Fatalf("GET /outbox/parked: %d %s: %v", res.status, res.body, err)
	}
	if len(rows) != 1 || rows[0].EventID != poison.eventID || rows[0].OrderID != poison.orderID ||
		rows[0].ParkedAt.IsZero() || rows[0].Bytes != len(poison.msg.Value) {
		t.Fatalf("parked rows %s, want only the one of order %s", res.body, poison.orderID)
	}
	return sends, rows[0]
}

// TestRelayParksRowAfterUnclassifiedAttempts: a row whose sends keep
// failing with an error neither permanent nor a known outage (a bug in a
// producer interceptor, say) holds its lane for MaxUnclassifiedAttempts
// sends, then is parked with reason unclassified_error_after_N_attempts
// and its order FAILED; the rows behind it on its partition and every
// other partition are published. Transient failures of that row on the
// way neither count toward the bound nor park it.
func TestRelayParksRowAfterUnclassifiedAttempts(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	ids := placeAsyncOrders(t, s, 20)
	rows, err := s.Store().unpublished(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	const maxAttempts, outage = 3, 4
	poison := rows[5]
	var poisonSends int
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, partitions: 2, entered: make(chan struct{}, 1)}
	pub.setOutcome(func(m events.Message, _ int32) error { // called under pub.mu
		if m.Key != poison.msg.Key {
			return nil
		}
		if poisonSends++; poisonSends <= outage {
			return fmt.Errorf("produce: %w", sarama.ErrOutOfBrokers)
		}
		return errors.New("interceptor: header schema v7 unknown")
	})
	r := NewRelay(s.Store(), pub, RelayConfig{Batch: 4, PublishTimeout: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		MaxUnclassifiedAttempts: maxAttempts}, testkit.Logger(t))
	startRelay(t, r)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		return r.Published() == 19 && r.Parked() == 1, fmt.Sprintf("published %d/19, parked %d/1", r.Published(), r.Parked())
	})
	sends, parked := parkedAlone(t, s, pub, ids, poison)
	if sends != outage+maxAttempts || r.ParkedUnclassified() != 1 || r.Failures() != outage+maxAttempts-1 {
		t.Fatalf("poison row sent %d times, %d parked unclassified, %d lane failures; want %d sends (%d transient, %d unclassified), 1, %d",
			sends, r.ParkedUnclassified(), r.Failures(), outage+maxAttempts, outage, maxAttempts, outage+maxAttempts-1)
	}
	if !strings.HasPrefix(parked.Reason, "unclassified_error_after_3_attempts: ") || !strings.Contains(parked.Reason, "header schema v7 unknown") {
		t.Fatalf("parked with reason %q, want unclassified_error_after_3_attempts and the error", parked.Reason)
	}
	if res := do(t, s.Handler(), http.MethodGet, "/stats", nil, nil); !strings.Contains(string(res.body), `"outbox_parked":1,`) {
		t.Fatalf("stats %s: want outbox_parked 1", res.body)
	}
}

// TestRelayConfigCheck: negative settings and a max backoff below the
// min are refused by New with the field named.
func TestRelayConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{RelayBatch: -5}, "relay batch -5"},
		{Config{RelayInterval: -time.Second}, "relay interval"},
		{Config{PublishTimeout: -time.Second}, "publish timeout"},
		{Config{RelayMinBackoff: -time.Millisecond}, "min backoff"},
		{Config{RelayMaxBackoff: -time.Millisecond}, "max backoff"},
		{Config{RelayMinBackoff: time.Second, RelayMaxBackoff: time.Millisecond}, "below the min backoff"},
		{Config{RelayMaxUnclassifiedAttempts: -1}, "relay max unclassified attempts -1"},
	} {
		tc.cfg.Mode, tc.cfg.Kafka.Brokers, tc.cfg.DBPath = ModeAsync, []string{"127.0.0.1:1"}, filepath.Join(t.TempDir(), "o.db")
		if _, err := New(tc.cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %q", tc.cfg, err, tc.want)
		}
	}
}

// TestOpenStoreMigratesAnOldOutbox: a database created before lanes and
// parking (no lane/parked_at/park_reason columns, the old
// outbox_unpublished index) opens, keeps its waiting row and relays it.
func TestOpenStoreMigratesAnOldOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s1 := newService(t, Config{Mode: ModeAsync, DBPath: path})
	ids := placeAsyncOrders(t, s1, 1)
	for _, stmt := range []string{
		`DROP INDEX outbox_unassigned`, `DROP INDEX outbox_lane`, `DROP INDEX outbox_parked`, `DROP INDEX outbox_waiting`,
		`CREATE INDEX outbox_unpublished ON outbox(seq) WHERE published_at IS NULL`,
		`ALTER TABLE outbox DROP COLUMN lane`, `ALTER TABLE outbox DROP COLUMN parked_at`, `ALTER TABLE outbox DROP COLUMN park_reason`,
	} {
		if _, err := s1.Store().db.Exec(stmt); err != nil {
			t.Fatalf("make an old schema: %s: %v", stmt, err)
		}
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newService(t, Config{Mode: ModeAsync, DBPath: path})
	if st, err := s2.Store().Stats(context.Background()); err != nil || st.OutboxBacklog != 1 || st.OutboxParked != 0 {
		t.Fatalf("stats after the migration: %+v, %v; want 1 waiting, 0 parked", st, err)
	}
	var old int
	if err := s2.Store().db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'outbox_unpublished'`).Scan(&old); err != nil || old != 0 {
		t.Fatalf("outbox_unpublished still there (%d, %v): the migration replaces it with outbox_waiting", old, err)
	}
	pub := &fakePublisher{t: t, st: s2.Store(), timeout: time.Second, entered: make(chan struct{}, 1)}
	r := NewRelay(s2.Store(), pub, RelayConfig{PublishTimeout: time.Second}, testkit.Logger(t))
	startRelay(t, r)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) { return r.Published() == 1, fmt.Sprintf("published %d/1", r.Published()) })
	if _, acked := pub.snapshot(); len(acked) != 1 || acked[0] != ids[0] {
		t.Fatalf("acked %v, want %v", acked, ids)
	}
}

// TestRelayTopicWithoutMetadataHoldsOnlyItsRows: a row whose topic's
// partition count cannot be read keeps waiting (the relay backs off) while
// rows of other topics are published.
func TestRelayTopicWithoutMetadataHoldsOnlyItsRows(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	ids := placeAsyncOrders(t, s, 3)
	if _, err := s.Store().db.Exec(`UPDATE outbox SET topic = ? WHERE event_id = ?`, unknownTopic, ids[0]); err != nil {
		t.Fatal(err)
	}
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, entered: make(chan struct{}, 1)}
	r := NewRelay(s.Store(), pub, RelayConfig{PublishTimeout: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, testkit.Logger(t))
	startRelay(t, r)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		return r.Published() == 2 && r.Failures() >= 2, fmt.Sprintf("published %d/2, failures %d/2", r.Published(), r.Failures())
	})
	if n, _ := s.Store().OutboxBacklog(context.Background()); n != 1 || r.Parked() != 0 {
		t.Fatalf("backlog %d, parked %d; want the unknown topic's row waiting, not parked", n, r.Parked())
	}
}
