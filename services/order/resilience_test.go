package order

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/web"
)

// Behaviours of switchInventory.
const (
	invOK      int32 = iota // 201 reserved
	invDrop                 // the connection is dropped: a transport error (EOF)
	invHang                 // no answer until the client gives up
	invNoStock              // 409 insufficient_stock
	invGate                 // no answer until gate is closed (then 201), or the client gives up
)

// switchInventory is an inventory whose POST /reservations behaviour can be
// switched while the test runs. It counts the calls it received.
type switchInventory struct {
	*httptest.Server
	mode  atomic.Int32
	calls atomic.Int64
	gate  chan struct{} // invGate: close it to let the held calls answer 201
}

func newSwitchInventory(t testing.TB) *switchInventory {
	f := &switchInventory{gate: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		var req ReservationRequest
		if !web.Decode(w, r, &req) {
			return
		}
		switch f.mode.Load() {
		case invDrop:
			panic(http.ErrAbortHandler)
		case invHang:
			<-r.Context().Done()
		case invNoStock:
			web.WriteError(w, http.StatusConflict, "insufficient_stock", "none left")
		case invGate:
			select {
			case <-f.gate:
				web.WriteJSON(w, http.StatusCreated, Reservation{req.OrderID, req.SKU, req.Quantity, "reserved"})
			case <-r.Context().Done():
			}
		default:
			web.WriteJSON(w, http.StatusCreated, Reservation{req.OrderID, req.SKU, req.Quantity, "reserved"})
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// postTimed posts one order and returns the result and how long it took.
func postTimed(t testing.TB, h http.Handler) (httpResult, time.Duration) {
	t.Helper()
	start := time.Now()
	res := postOrder(t, h, "SKU-1", 1, "")
	return res, time.Since(start)
}

func breakerState(t testing.TB, s *Service) string {
	t.Helper()
	st, ok := s.InventoryStats()
	if !ok {
		t.Fatal("no inventory stats in sync mode")
	}
	return st.Breaker
}

// waitBreaker polls until the breaker reports want.
func waitBreaker(t testing.TB, s *Service, want string, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, func() (bool, string) {
		got := breakerState(t, s)
		return got == want, fmt.Sprintf("breaker %s, want %s", got, want)
	})
}

// checkFastFail asserts a 503 with the given code, a Retry-After of whole
// seconds >= 1, an answer well before the inventory call would have ended
// (a third of wouldWait, the inventory timeout, and at most 250 ms), and no
// order stored. The bound is relative to what failing slow would cost, not
// an absolute few ms: on a loaded 2-core machine one in-process request
// alone can take over 50 ms (seen: 51.5 ms), while waiting for inventory
// takes the whole timeout.
func checkFastFail(t testing.TB, s *Service, res httpResult, took, wouldWait time.Duration, code string, ordersBefore int) {
	t.Helper()
	if res.status != http.StatusServiceUnavailable || res.errCode(t) != code {
		t.Fatalf("got %d %s, want 503 %s", res.status, res.body, code)
	}
	if ra, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds >= 1", res.header.Get("Retry-After"))
	}
	if limit := min(wouldWait/3, 250*time.Millisecond); took > limit {
		t.Fatalf("%s answered after %v, want fail-fast (< %v, the inventory call would wait %v)", code, took, limit, wouldWait)
	}
	if n, _ := counts(t, s.Store()); n != ordersBefore {
		t.Fatalf("%s stored an order: %d orders, had %d", code, n, ordersBefore)
	}
}

// TestBreakerOpensFailsFastAndClosesAfterAFailedProbe walks the breaker
// through closed -> open -> half-open -> (probe fails with a transport
// error) -> open -> half-open -> (probe succeeds) -> closed.
func TestBreakerOpensFailsFastAndClosesAfterAFailedProbe(t *testing.T) {
	inv := newSwitchInventory(t)
	inv.mode.Store(invDrop)
	const openFor = 200 * time.Millisecond
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: time.Second,
		Resilience: Resilience{Breaker: BreakerConfig{Enabled: true, FailureThreshold: 3, OpenTimeout: openFor}}})

	if got := breakerState(t, s); got != "closed" {
		t.Fatalf("breaker starts %s", got)
	}
	for i := range 3 {
		res := postOrder(t, s.Handler(), "SKU-1", 1, "")
		if res.status != http.StatusServiceUnavailable || res.errCode(t) != "inventory_unavailable" {
			t.Fatalf("failure %d: %d %s", i+1, res.status, res.body)
		}
	}
	if got := breakerState(t, s); got != "open" {
		t.Fatalf("after 3 failures breaker is %s, want open", got)
	}

	t.Log("open: fail fast, no call, nothing stored")
	calls := inv.calls.Load()
	for range 5 {
		res, took := postTimed(t, s.Handler())
		checkFastFail(t, s, res, took, time.Second, "circuit_open", 3)
	}
	if inv.calls.Load() != calls {
		t.Fatalf("inventory called %d times while the breaker was open", inv.calls.Load()-calls)
	}

	t.Log("half-open probe fails with a transport error: open again")
	waitBreaker(t, s, "half-open", 5*openFor)
	if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusServiceUnavailable || res.errCode(t) != "inventory_unavailable" {
		t.Fatalf("failed probe: %d %s", res.status, res.body)
	}
	if got := breakerState(t, s); got != "open" {
		t.Fatalf("after a failed probe breaker is %s, want open", got)
	}
	res, took := postTimed(t, s.Handler())
	checkFastFail(t, s, res, took, time.Second, "circuit_open", 4)

	t.Log("inventory recovers: the next probe closes the breaker")
	inv.mode.Store(invOK)
	waitBreaker(t, s, "half-open", 5*openFor)
	if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusCreated {
		t.Fatalf("probe after recovery: %d %s", res.status, res.body)
	}
	if got := breakerState(t, s); got != "closed" {
		t.Fatalf("after a good probe breaker is %s, want closed", got)
	}
	for i := range 5 {
		if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusCreated {
			t.Fatalf("order %d after recovery: %d %s", i, res.status, res.body)
		}
	}
	st, _ := s.InventoryStats()
	if st.BreakerOpened != 2 || st.RejectedOpen != 6 {
		t.Fatalf("stats %+v: want opened twice and 6 fast failures", st)
	}
}

// TestBreakerProbeTimeoutKeepsOthersFast: while the half-open probe hangs
// until its timeout, other requests still fail fast; the timed-out probe
// opens the breaker again and a later probe closes it.
func TestBreakerProbeTimeoutKeepsOthersFast(t *testing.T) {
	inv := newSwitchInventory(t)
	inv.mode.Store(invHang)
	const timeout, openFor = 300 * time.Millisecond, 100 * time.Millisecond
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: timeout,
		Resilience: Resilience{Breaker: BreakerConfig{Enabled: true, FailureThreshold: 1, OpenTimeout: openFor}}})
	if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.errCode(t) != "inventory_unavailable" {
		t.Fatalf("first call: %d %s", res.status, res.body)
	}
	waitBreaker(t, s, "half-open", 10*openFor)
	probe := make(chan httpResult, 1)
	go func() { probe <- postOrder(t, s.Handler(), "SKU-1", 1, "") }()
	testkit.Eventually(t, time.Second, func() (bool, string) {
		st, _ := s.InventoryStats()
		return st.InFlight == 1, fmt.Sprintf("%d reservations in flight, want the probe", st.InFlight)
	})
	res, took := postTimed(t, s.Handler())
	// Fast: well under the 300 ms the probe itself waits (see checkFastFail).
	if res.status != http.StatusServiceUnavailable || res.errCode(t) != "circuit_open" || took > timeout/3 {
		t.Fatalf("during the probe: %d %s after %v, want a fast circuit_open (< %v)", res.status, res.body, took, timeout/3)
	}
	if p := <-probe; p.errCode(t) != "inventory_unavailable" {
		t.Fatalf("probe: %d %s", p.status, p.body)
	}
	inv.mode.Store(invOK)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		res := postOrder(t, s.Handler(), "SKU-1", 1, "")
		return res.status == http.StatusCreated && breakerState(t, s) == "closed", fmt.Sprintf("%d %s, breaker %s", res.status, res.body, breakerState(t, s))
	})
}

// TestHalfOpenRefusalsStoreNothing: while the half-open breaker's probe is
// in flight, concurrent requests are turned away with 503 circuit_open,
// store nothing, and leave their Idempotency-Key unused: once the probe
// closed the breaker, the same keys place their orders (201, not a replay
// of the 503).
func TestHalfOpenRefusalsStoreNothing(t *testing.T) {
	inv := newSwitchInventory(t)
	inv.mode.Store(invDrop)
	const openFor = 100 * time.Millisecond
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: 10 * time.Second,
		Resilience: Resilience{Breaker: BreakerConfig{Enabled: true, FailureThreshold: 1, OpenTimeout: openFor}}})
	if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.errCode(t) != "inventory_unavailable" {
		t.Fatalf("first call: %d %s", res.status, res.body)
	}
	inv.mode.Store(invGate) // the probe is held until the refusals are in
	openGate := sync.OnceFunc(func() { close(inv.gate) })
	t.Cleanup(openGate)
	waitBreaker(t, s, "half-open", 20*openFor)

	const n = 20
	type answer struct {
		key string
		res httpResult
	}
	answers := make(chan answer, n)
	for i := range n {
		key := fmt.Sprintf("half-open-%d", i)
		go func() { answers <- answer{key, postOrder(t, s.Handler(), "SKU-1", 1, key)} }()
	}
	var refused []string
	for range n - 1 {
		a := <-answers
		if a.res.status != http.StatusServiceUnavailable || a.res.errCode(t) != "circuit_open" {
			t.Fatalf("key %s while the probe is in flight: %d %s, want 503 circuit_open", a.key, a.res.status, a.res.body)
		}
		refused = append(refused, a.key)
	}
	if orders, _ := counts(t, s.Store()); orders != 2 {
		t.Fatalf("%d orders stored while %d of %d requests were refused; want 2 (the first failure and the probe)", orders, len(refused), n)
	}
	openGate()
	if probe := <-answers; probe.res.status != http.StatusCreated {
		t.Fatalf("probe %s: %d %s", probe.key, probe.res.status, probe.res.body)
	}
	waitBreaker(t, s, "closed", time.Second)
	for _, key := range refused {
		res := postOrder(t, s.Handler(), "SKU-1", 1, key)
		if res.status != http.StatusCreated || res.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("key %s after the breaker closed: %d %s (replayed %q), want a new 201", key, res.status, res.body, res.header.Get("Idempotent-Replayed"))
		}
	}
	if orders, _ := counts(t, s.Store()); orders != 2+len(refused) {
		t.Fatalf("%d orders, want %d", orders, 2+len(refused))
	}
}

// TestBreakerCountsAnswersAsSuccess: "insufficient stock" is an answer;
// it never opens the breaker.
func TestBreakerCountsAnswersAsSuccess(t *testing.T) {
	inv := newSwitchInventory(t)
	inv.mode.Store(invNoStock)
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL,
		Resilience: Resilience{Breaker: BreakerConfig{Enabled: true, FailureThreshold: 2}}})
	for i := range 5 {
		if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusConflict {
			t.Fatalf("order %d: %d %s", i, res.status, res.body)
		}
	}
	if got := breakerState(t, s); got != "closed" {
		t.Fatalf("breaker %s after business rejections", got)
	}
}

func TestBulkheadFailsFastOverTheCap(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
			web.WriteJSON(w, http.StatusCreated, Reservation{Status: "reserved"})
		case <-r.Context().Done():
		}
	})
	// The fake serializes its handler: a second call would queue inside it,
	// still holding its bulkhead slot, which is what this test needs.
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: 10 * time.Second,
		Resilience: Resilience{Bulkhead: 2}})
	var wg sync.WaitGroup
	results := make(chan httpResult, 2)
	for range 2 {
		wg.Go(func() { results <- postOrder(t, s.Handler(), "SKU-1", 1, "") })
	}
	<-entered
	testkit.Eventually(t, 2*time.Second, func() (bool, string) {
		st, _ := s.InventoryStats()
		return st.InFlight == 2, fmt.Sprintf("%d/2 reservations in flight", st.InFlight)
	})
	for range 3 {
		res, took := postTimed(t, s.Handler())
		checkFastFail(t, s, res, took, 10*time.Second, "bulkhead_full", 2)
	}
	close(release)
	wg.Wait()
	close(results)
	for res := range results {
		if res.status != http.StatusCreated {
			t.Fatalf("admitted order: %d %s", res.status, res.body)
		}
	}
	if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusCreated {
		t.Fatalf("after the slots freed: %d %s", res.status, res.body)
	}
	if st, _ := s.InventoryStats(); st.RejectedFull != 3 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRetryRecoversAnIdempotentReservation: inventory reserves, then the
// answer is lost; the retry gets the stored outcome and stock moves once.
func TestRetryRecoversAnIdempotentReservation(t *testing.T) {
	var mu sync.Mutex
	reserved := map[string]int{} // order -> times stock moved
	seen := map[string]int{}     // order -> calls
	inv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ReservationRequest
		if !web.Decode(w, r, &req) {
			return
		}
		mu.Lock()
		seen[req.OrderID]++
		if _, done := reserved[req.OrderID]; !done {
			reserved[req.OrderID]++
		}
		first := seen[req.OrderID] == 1
		mu.Unlock()
		if first {
			panic(http.ErrAbortHandler) // reserved, but the answer is lost
		}
		web.WriteJSON(w, http.StatusCreated, Reservation{req.OrderID, req.SKU, req.Quantity, "reserved"})
	}))
	t.Cleanup(inv.Close)
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL,
		Resilience: Resilience{Retry: RetryConfig{MaxAttempts: 3, BaseBackoff: time.Millisecond}}})
	for i := range 5 {
		if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusCreated {
			t.Fatalf("order %d: %d %s", i, res.status, res.body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range reserved {
		if n != 1 || seen[id] != 2 {
			t.Fatalf("order %s: stock moved %d times over %d calls, want once over 2", id, n, seen[id])
		}
	}
	if st, _ := s.InventoryStats(); st.Retries != 5 || st.Attempts != 10 {
		t.Fatalf("stats %+v, want 5 retries over 10 attempts", st)
	}
}

// TestRetryBudgetBoundsAmplification: against an inventory that always
// fails, retries stay within ratio x reservations + burst.
func TestRetryBudgetBoundsAmplification(t *testing.T) {
	var calls atomic.Int64
	down := func(context.Context, ReservationRequest) (Reservation, error) {
		calls.Add(1)
		return Reservation{}, fmt.Errorf("%w: connection refused", ErrInventoryUnavailable)
	}
	const n, ratio, burst = 200, 0.1, 5
	g := newInventoryGuard(down, Resilience{Retry: RetryConfig{MaxAttempts: 4, BaseBackoff: time.Microsecond, MaxBackoff: time.Microsecond, BudgetRatio: ratio, BudgetBurst: burst}}, time.Second)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := g.reserve(context.Background(), nil, ReservationRequest{OrderID: fmt.Sprint(i), SKU: "S", Quantity: 1}); !errors.Is(err, ErrInventoryUnavailable) {
				t.Errorf("reserve %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	st := g.stats()
	limit := int64(ratio*n + burst)
	if st.Retries > limit || calls.Load() != n+st.Retries || st.Reservations != n {
		t.Fatalf("%d reservations made %d calls with %d retries; want retries <= %d", n, calls.Load(), st.Retries, limit)
	}
	if st.RetriesDenied == 0 {
		t.Fatal("the budget never refused a retry")
	}
	t.Logf("%d reservations -> %d calls (amplification %.2f, %d retries refused)", n, calls.Load(), float64(calls.Load())/n, st.RetriesDenied)
}

func TestRetryOnlyWhatIsRetryable(t *testing.T) {
	for name, err := range map[string]error{
		"insufficient stock": fmt.Errorf("%w: no", ErrInsufficientStock),
		"unknown sku":        fmt.Errorf("%w: no", ErrUnknownSKU),
		"circuit open":       fmt.Errorf("%w: %w", ErrCircuitOpen, ErrInventoryUnavailable),
		"cancelled":          fmt.Errorf("%w: %w", ErrInventoryUnavailable, context.Canceled),
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			g := newInventoryGuard(func(context.Context, ReservationRequest) (Reservation, error) {
				calls.Add(1)
				return Reservation{}, err
			}, Resilience{Retry: RetryConfig{MaxAttempts: 5, BaseBackoff: time.Microsecond}}, time.Second)
			if _, got := g.reserve(context.Background(), nil, ReservationRequest{OrderID: "o"}); !errors.Is(got, err) {
				t.Fatalf("err = %v", got)
			}
			if calls.Load() != 1 {
				t.Fatalf("%d calls, want 1 (not retried)", calls.Load())
			}
		})
	}
}

func TestRetryBackoffBounds(t *testing.T) {
	for n := 1; n <= 40; n++ {
		d := min(50*time.Millisecond<<min(n-1, 20), 500*time.Millisecond)
		for range 50 {
			got := backoff(50*time.Millisecond, 500*time.Millisecond, n)
			if got < d/2 || got > d {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, got, d/2, d)
			}
		}
	}
}

// TestWorkerPoolQueuesButStatsBypass: with one worker busy, /healthz waits
// for it while /stats answers and shows the line.
func TestWorkerPoolQueuesButStatsBypass(t *testing.T) {
	release := make(chan struct{})
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			web.WriteJSON(w, http.StatusCreated, Reservation{Status: "reserved"})
		case <-r.Context().Done():
		}
	})
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: 10 * time.Second, MaxConcurrentRequests: 1})
	posted := make(chan httpResult, 1)
	go func() { posted <- postOrder(t, s.Handler(), "SKU-1", 1, "") }()
	testkit.Eventually(t, 2*time.Second, func() (bool, string) {
		st, _ := s.InventoryStats()
		return st.InFlight == 1, "the order has not reached inventory"
	})
	health := make(chan httpResult, 1)
	go func() { health <- do(t, s.Handler(), http.MethodGet, "/healthz", nil, nil) }()
	testkit.Eventually(t, 2*time.Second, func() (bool, string) {
		l := s.Load()
		return l.Waiting == 1 && l.InFlight == 2, fmt.Sprintf("load %+v, want /healthz waiting", l)
	})
	if st := do(t, s.Handler(), http.MethodGet, "/stats", nil, nil); st.status != 200 {
		t.Fatalf("/stats while the worker is busy: %d %s", st.status, st.body)
	}
	select {
	case h := <-health:
		t.Fatalf("/healthz answered %d while the only worker was busy", h.status)
	default:
	}
	close(release)
	if p := <-posted; p.status != http.StatusCreated {
		t.Fatalf("order: %d %s", p.status, p.body)
	}
	if h := <-health; h.status != http.StatusOK {
		t.Fatalf("/healthz: %d %s", h.status, h.body)
	}

	// A client that gives up while waiting gets 503 overloaded.
	hold := make(chan struct{})
	blocked := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hold })
	s2 := &Service{workers: newWorkerPool(1)}
	h := s2.track(blocked)
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	testkit.Eventually(t, time.Second, func() (bool, string) { return s2.Load().InFlight == 1, "first request not in" })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil))
	close(hold)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("abandoned waiter got %d %s", rec.Code, rec.Body)
	}
}

func TestUnroutedRequestsGetJSONErrors(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodGet, "/nope", 404, "not_found", ""},
		{http.MethodGet, "/orders", 405, "method_not_allowed", "POST"},
		{http.MethodDelete, "/orders/x", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodPost, "/healthz", 405, "method_not_allowed", "GET, HEAD"},
	} {
		res := do(t, s.Handler(), tc.method, tc.path, nil, nil)
		if res.status != tc.status || res.errCode(t) != tc.code || res.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d %s Allow %q, want %d %s Allow %q", tc.method, tc.path, res.status, res.body, res.header.Get("Allow"), tc.status, tc.code, tc.allow)
		}
	}
}

func TestStatsShowLoadAndInventoryGuard(t *testing.T) {
	inv := newSwitchInventory(t)
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, MaxConcurrentRequests: 8,
		Resilience: Resilience{Bulkhead: 3, Breaker: BreakerConfig{Enabled: true}, Retry: RetryConfig{MaxAttempts: 2}}})
	postOrder(t, s.Handler(), "SKU-1", 1, "")
	res := do(t, s.Handler(), http.MethodGet, "/stats", nil, nil)
	var body struct {
		Goroutines int              `json:"goroutines"`
		InFlight   *int64           `json:"in_flight_requests"`
		Workers    int              `json:"workers"`
		Inventory  *ResilienceStats `json:"inventory"`
	}
	if err := json.Unmarshal(res.body, &body); err != nil || body.Goroutines <= 0 || body.InFlight == nil || body.Workers != 8 || body.Inventory == nil {
		t.Fatalf("stats %s (%v)", res.body, err)
	}
	if inv := body.Inventory; inv.Breaker != "closed" || inv.Bulkhead != 3 || inv.Reservations != 1 || inv.Attempts != 1 || inv.RetryBudget == "off" {
		t.Fatalf("inventory stats %+v", inv)
	}
	async := newService(t, Config{Mode: ModeAsync})
	if res := do(t, async.Handler(), http.MethodGet, "/stats", nil, nil); bytes.Contains(res.body, []byte(`"inventory"`)) {
		t.Fatalf("async stats carry inventory guard stats: %s", res.body)
	}
}
