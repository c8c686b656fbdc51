package order

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

// fakePublisher fails the first `fail` sends, then acknowledges. With hang
// set it blocks every send until ctx ends. It checks, on each call, that
// the row being sent is still unpublished in the store.
type fakePublisher struct {
	t       testing.TB
	st      *Store
	timeout time.Duration // expected PublishTimeout
	hang    bool
	entered chan struct{} // one value per Send call, best effort

	mu       sync.Mutex
	fail     int
	attempts []string // event IDs, every call
	acked    []string // event IDs, acknowledged
}

func (f *fakePublisher) Send(ctx context.Context, m events.Message) error {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	id := m.Header(events.HeaderEventID)
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > f.timeout {
		f.t.Errorf("send of %s without a deadline within %v", id, f.timeout)
	}
	var published string
	if err := f.st.db.QueryRow(`SELECT COALESCE(published_at, '') FROM outbox WHERE event_id = ?`, id).Scan(&published); err != nil || published != "" {
		f.t.Errorf("row %s sent while published_at=%q (%v)", id, published, err)
	}
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, id)
	if f.fail > 0 {
		f.fail--
		return errors.New("broker down")
	}
	f.acked = append(f.acked, id)
	return nil
}

func (f *fakePublisher) snapshot() (attempts, acked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.attempts...), append([]string(nil), f.acked...)
}

// placeAsyncOrders posts n async orders and returns their outbox event IDs
// in insertion order.
func placeAsyncOrders(t *testing.T, s *Service, n int) []string {
	t.Helper()
	for i := range n {
		if res := postOrder(t, s.Handler(), fmt.Sprintf("SKU-%d", i), 1, ""); res.status != http.StatusAccepted {
			t.Fatalf("post: %d %s", res.status, res.body)
		}
	}
	rows, err := s.Store().unpublished(context.Background(), 1000)
	if err != nil || len(rows) != n {
		t.Fatalf("unpublished = %d rows, %v", len(rows), err)
	}
	ids := make([]string, n)
	for i, r := range rows {
		ids[i] = r.eventID
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
	const fails = 4
	pub := &fakePublisher{t: t, st: s.Store(), timeout: time.Second, fail: fails, entered: make(chan struct{}, 1)}
	r := NewRelay(s.Store(), pub, RelayConfig{Batch: 2, PublishTimeout: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}, testLogger(t))
	startRelay(t, r)

	eventually(t, 5*time.Second, func() (bool, string) {
		n, _ := s.Store().OutboxBacklog(context.Background())
		return r.Published() == 3 && n == 0, fmt.Sprintf("published %d/3, backlog %d", r.Published(), n)
	})
	attempts, acked := pub.snapshot()
	if fmt.Sprint(acked) != fmt.Sprint(ids) {
		t.Fatalf("acked %v, want each once in order %v", acked, ids)
	}
	// The first row is retried until it succeeds; later rows wait for it.
	want := append(make([]string, 0), ids[0], ids[0], ids[0], ids[0], ids[0], ids[1], ids[2])
	if fmt.Sprint(attempts) != fmt.Sprint(want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
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
	r := NewRelay(s.Store(), pub, RelayConfig{PublishTimeout: time.Minute}, testLogger(t))
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
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 100: 2 * time.Second} {
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
	r := NewRelay(s2.Store(), pub, RelayConfig{PublishTimeout: time.Second}, testLogger(t))
	startRelay(t, r)
	eventually(t, 5*time.Second, func() (bool, string) { return r.Published() == 3, fmt.Sprintf("published %d/3", r.Published()) })
	if _, acked := pub.snapshot(); acked[0] != ids[0] || acked[1] != ids[1] {
		t.Fatalf("acked %v, want %v first", acked, ids)
	}
}
