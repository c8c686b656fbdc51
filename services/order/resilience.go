package order

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Errors of the sync-mode mitigations. Both wrap ErrInventoryUnavailable
// too, so code that only asks "was inventory unavailable?" keeps working.
var (
	// ErrCircuitOpen: the circuit breaker is open (or half-open with its
	// probe already in flight); the call was not made.
	ErrCircuitOpen = errors.New("circuit open")
	// ErrBulkheadFull: Resilience.Bulkhead inventory calls are already in
	// flight; the call was not made.
	ErrBulkheadFull = errors.New("bulkhead full")
)

// Resilience switches the sync-mode mitigations around the inventory
// client. The zero value turns every one off: each call is then bounded by
// Config.InventoryTimeout only (the timeout is always on).
//
// Layering, outermost first: bulkhead (admission, before anything is
// stored) -> retry with budget -> circuit breaker -> one HTTP call with
// Config.InventoryTimeout. Retries happen at this one layer only: the
// InventoryClient never retries, and Go's HTTP transport replays only
// requests it deems idempotent, which a POST without an Idempotency-Key
// header is not.
type Resilience struct {
	Breaker BreakerConfig
	// Bulkhead caps concurrent reservation calls to inventory (retries
	// included: a request keeps its slot across its attempts). A request
	// over the cap gets 503 bulkhead_full at once and nothing is stored.
	// 0: no cap. Env ORDER_BULKHEAD, flag -bulkhead.
	Bulkhead int
	Retry    RetryConfig
}

// BreakerConfig configures the circuit breaker (github.com/sony/gobreaker/v2)
// around the inventory client.
//
// Closed: calls go through; FailureThreshold consecutive failures (transport
// errors, timeouts, 5xx, bad answers; not insufficient stock or unknown SKU,
// which are answers) open it. Open: requests fail at once with 503
// circuit_open and Retry-After = the seconds left until OpenTimeout ends;
// nothing is stored. Half-open (after OpenTimeout): HalfOpenProbes requests
// are admitted as probes, the others still fail fast with 503 circuit_open
// before anything is stored (their Idempotency-Key stays unused); that many
// successes close the breaker, any probe failure (a transport error
// included) opens it again for another OpenTimeout.
type BreakerConfig struct {
	Enabled bool // env ORDER_BREAKER, flag -breaker; default off
	// FailureThreshold: consecutive failures that open the breaker.
	// Default 5. Env ORDER_BREAKER_FAILURES.
	FailureThreshold int
	// OpenTimeout: how long the breaker stays open before a probe.
	// Default 2s. Env ORDER_BREAKER_OPEN_TIMEOUT.
	OpenTimeout time.Duration
	// HalfOpenProbes: calls let through while half-open. Default 1.
	// Env ORDER_BREAKER_HALF_OPEN_PROBES.
	HalfOpenProbes int
}

// RetryConfig configures retries of a reservation. Reservations are
// idempotent by order ID (inventory stores the first outcome and replays
// it), so a retry after a timeout cannot reserve twice. Only "inventory
// unavailable" failures are retried (transport errors, timeouts, 5xx), never
// an answer (insufficient stock, unknown SKU) nor a fail-fast rejection
// (circuit open).
//
// The retry budget keeps retries from amplifying an outage: every first
// attempt deposits BudgetRatio tokens, every retry withdraws one, and the
// balance is capped at BudgetBurst (it starts full). Over any period,
// retries <= BudgetRatio x first attempts + BudgetBurst, so inventory sees
// at most about (1 + BudgetRatio) times the calls it would see without
// retries once the reserve is spent.
type RetryConfig struct {
	// MaxAttempts per reservation, the first included; <= 1 disables
	// retries. Env ORDER_RETRY_ATTEMPTS, flag -retry-attempts; default 1.
	MaxAttempts int
	// BaseBackoff, MaxBackoff: the wait before retry n is
	// min(BaseBackoff x 2^(n-1), MaxBackoff), jittered uniformly in
	// [d/2, d]. Defaults 50ms, 500ms. Env ORDER_RETRY_BACKOFF,
	// ORDER_RETRY_MAX_BACKOFF.
	BaseBackoff, MaxBackoff time.Duration
	// BudgetRatio: retry tokens earned per first attempt. Default 0.1.
	// Env ORDER_RETRY_BUDGET.
	BudgetRatio float64
	// BudgetBurst: the token reserve (and cap). Default 10. Env
	// ORDER_RETRY_BUDGET_BURST.
	BudgetBurst int
}

func (r Resilience) withDefaults() Resilience {
	b := &r.Breaker
	if b.FailureThreshold <= 0 {
		b.FailureThreshold = 5
	}
	if b.OpenTimeout <= 0 {
		b.OpenTimeout = 2 * time.Second
	}
	if b.HalfOpenProbes <= 0 {
		b.HalfOpenProbes = 1
	}
	rt := &r.Retry
	if rt.MaxAttempts < 1 {
		rt.MaxAttempts = 1
	}
	if rt.BaseBackoff <= 0 {
		rt.BaseBackoff = 50 * time.Millisecond
	}
	if rt.MaxBackoff < rt.BaseBackoff {
		rt.MaxBackoff = max(500*time.Millisecond, rt.BaseBackoff)
	}
	if rt.BudgetRatio <= 0 {
		rt.BudgetRatio = 0.1
	}
	if rt.BudgetBurst <= 0 {
		rt.BudgetBurst = 10
	}
	return r
}

// ResilienceStats is a snapshot of the sync-mode inventory guard, served
// under "inventory" by GET /stats in sync mode.
type ResilienceStats struct {
	Breaker        string `json:"breaker"`         // "off", "closed", "open" or "half-open"
	BreakerOpened  int64  `json:"breaker_opened"`  // transitions to open
	Bulkhead       int    `json:"bulkhead"`        // the cap; 0: none
	InFlight       int64  `json:"in_flight"`       // reservation calls in progress (retries included)
	Reservations   int64  `json:"reservations"`    // reservations attempted (first tries)
	Attempts       int64  `json:"attempts"`        // HTTP calls made to inventory (retries included)
	Retries        int64  `json:"retries"`         // attempts after the first
	RetriesDenied  int64  `json:"retries_denied"`  // retries the budget refused
	RejectedOpen   int64  `json:"rejected_open"`   // requests failed fast by the breaker
	RejectedFull   int64  `json:"rejected_full"`   // requests failed fast by the bulkhead
	RetryBudget    string `json:"retry_budget"`    // "off" or "ratio R, burst B"
	RetryTokensNow string `json:"retry_tokens"`    // tokens left, "" when off
	TimeoutMs      int64  `json:"call_timeout_ms"` // Config.InventoryTimeout
}

// reserver makes one reservation call; *InventoryClient.Reserve is one.
type reserver func(ctx context.Context, r ReservationRequest) (Reservation, error)

// errPermitUnused returns an admission's breaker permit that no call used
// (the request turned out to be a replay); the breaker ignores it.
var errPermitUnused = errors.New("breaker permit not used")

// inventoryGuard wraps the inventory client's Reserve with the mitigations
// of Resilience. It is safe for concurrent use.
type inventoryGuard struct {
	call    reserver
	cfg     Resilience
	timeout time.Duration

	bulkhead chan struct{}                                 // nil: no cap
	cb       *gobreaker.TwoStepCircuitBreaker[Reservation] // nil: no breaker
	budget   *retryBudget                                  // nil: no retries
	openedAt atomic.Int64                                  // unix nanos of the last transition to open

	inFlight, reservations, attempts, retries, denied, opened, rejOpen, rejFull atomic.Int64
}

func newInventoryGuard(call reserver, r Resilience, timeout time.Duration) *inventoryGuard {
	r = r.withDefaults()
	g := &inventoryGuard{call: call, cfg: r, timeout: timeout}
	if r.Bulkhead > 0 {
		g.bulkhead = make(chan struct{}, r.Bulkhead)
	}
	if r.Breaker.Enabled {
		threshold := uint32(r.Breaker.FailureThreshold)
		g.cb = gobreaker.NewTwoStepCircuitBreaker[Reservation](gobreaker.Settings{
			Name:        "inventory",
			MaxRequests: uint32(r.Breaker.HalfOpenProbes),
			Timeout:     r.Breaker.OpenTimeout,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
			// An answer from inventory, even a "no", proves it is up.
			IsSuccessful: func(err error) bool {
				return err == nil || errors.Is(err, ErrInsufficientStock) || errors.Is(err, ErrUnknownSKU)
			},
			// The caller gave up, or the permit was not used: says nothing
			// about inventory (and frees a half-open probe slot).
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) || errors.Is(err, errPermitUnused) },
			OnStateChange: func(_ string, _, to gobreaker.State) {
				if to == gobreaker.StateOpen {
					g.openedAt.Store(time.Now().UnixNano())
					g.opened.Add(1)
				}
			},
		})
	}
	if r.Retry.MaxAttempts > 1 {
		g.budget = newRetryBudget(r.Retry.BudgetRatio, r.Retry.BudgetBurst)
	}
	return g
}

// admission is what admit hands out: a bulkhead slot and the breaker's
// permit for the first inventory call. It belongs to one request (not safe
// for concurrent use); release it exactly once, when the reservation is
// done or was never made.
type admission struct {
	slot   func()          // frees the bulkhead slot (no-op without a bulkhead)
	permit func(err error) // the breaker's permit for the first call; nil: none held
}

// release frees the bulkhead slot and hands back an unused breaker permit
// without counting it (a half-open probe slot becomes free again).
func (a *admission) release() {
	if a == nil {
		return
	}
	if a.permit != nil {
		a.permit(errPermitUnused)
		a.permit = nil
	}
	a.slot()
}

// takePermit returns the held breaker permit (once) or nil.
func (a *admission) takePermit() func(error) {
	if a == nil {
		return nil
	}
	p := a.permit
	a.permit = nil
	return p
}

// admit is the fail-fast gate in front of a reservation, run before
// anything is stored: it takes a bulkhead slot and the breaker's permit
// for the first call (while half-open, one of the HalfOpenProbes probe
// slots, so a request that is not the probe is turned away here, not
// after its order was stored). On success the caller must call
// a.release() when its reservation is done. Errors wrap ErrBulkheadFull or
// ErrCircuitOpen; nothing is held then.
func (g *inventoryGuard) admit() (*admission, error) {
	a := &admission{slot: func() {}}
	if g.bulkhead != nil {
		select {
		case g.bulkhead <- struct{}{}:
			a.slot = sync.OnceFunc(func() { <-g.bulkhead })
		default:
			g.rejFull.Add(1)
			return nil, fmt.Errorf("%w: %d inventory calls in flight: %w", ErrBulkheadFull, g.cfg.Bulkhead, ErrInventoryUnavailable)
		}
	}
	if g.cb != nil {
		permit, err := g.cb.Allow()
		if err != nil { // gobreaker.ErrOpenState or ErrTooManyRequests (half-open, probes taken)
			a.slot()
			g.rejOpen.Add(1)
			return nil, g.openErr()
		}
		a.permit = permit
	}
	return a, nil
}

func (g *inventoryGuard) openErr() error {
	return fmt.Errorf("%w: inventory failed %d times in a row, next probe in %s: %w",
		ErrCircuitOpen, g.cfg.Breaker.FailureThreshold, g.retryAfter().Round(time.Millisecond), ErrInventoryUnavailable)
}

// retryAfter is the time left until the open breaker lets a probe through
// (0 when not open).
func (g *inventoryGuard) retryAfter() time.Duration {
	if g.cb == nil {
		return 0
	}
	left := g.cfg.Breaker.OpenTimeout - time.Since(time.Unix(0, g.openedAt.Load()))
	return max(left, 0)
}

// retryAfterSeconds renders retryAfter for the Retry-After header: whole
// seconds, rounded up, at least 1.
func (g *inventoryGuard) retryAfterSeconds() string {
	return fmt.Sprint(max(1, int(math.Ceil(g.retryAfter().Seconds()))))
}

// reserve makes the reservation with retries and the breaker. Call it
// between admit and a.release: the first call uses a's breaker permit,
// retries ask the breaker again (a retry it refuses ends the reservation
// with ErrCircuitOpen: the order was stored and inventory was called). A
// nil a holds no permit: every call asks the breaker.
func (g *inventoryGuard) reserve(ctx context.Context, a *admission, req ReservationRequest) (Reservation, error) {
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	g.reservations.Add(1)
	if g.budget != nil {
		g.budget.deposit()
	}
	for attempt := 1; ; attempt++ {
		res, err := g.once(ctx, a.takePermit(), req)
		if err == nil || !retryable(err) || attempt >= g.cfg.Retry.MaxAttempts || ctx.Err() != nil {
			return res, err
		}
		if !g.budget.withdraw() {
			g.denied.Add(1)
			return res, fmt.Errorf("%w (retry budget spent after attempt %d)", err, attempt)
		}
		g.retries.Add(1)
		wait := backoff(g.cfg.Retry.BaseBackoff, g.cfg.Retry.MaxBackoff, attempt)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
	}
}

// once is one call through the breaker, with permit when the caller holds
// one (from admit), else with a permit asked for now.
func (g *inventoryGuard) once(ctx context.Context, permit func(error), req ReservationRequest) (res Reservation, err error) {
	if g.cb == nil {
		g.attempts.Add(1)
		return g.call(ctx, req)
	}
	if permit == nil {
		if permit, err = g.cb.Allow(); err != nil {
			g.rejOpen.Add(1)
			return Reservation{}, g.openErr()
		}
	}
	defer func() { permit(err) }()
	g.attempts.Add(1)
	return g.call(ctx, req)
}

// retryable: inventory did not answer usefully, and the call was made.
func retryable(err error) bool {
	return errors.Is(err, ErrInventoryUnavailable) && !errors.Is(err, ErrCircuitOpen) &&
		!errors.Is(err, ErrBulkheadFull) && !errors.Is(err, context.Canceled)
}

// backoff returns the wait before retry n (n >= 1): base x 2^(n-1) capped
// at maxWait, jittered uniformly in [d/2, d].
func backoff(base, maxWait time.Duration, n int) time.Duration {
	d := maxWait
	if n-1 < 32 {
		d = min(base<<(n-1), maxWait)
	}
	if d <= 0 {
		d = maxWait
	}
	return d/2 + rand.N(d/2+1)
}

func (g *inventoryGuard) stats() ResilienceStats {
	s := ResilienceStats{
		Breaker: "off", Bulkhead: g.cfg.Bulkhead, RetryBudget: "off",
		InFlight: g.inFlight.Load(), Reservations: g.reservations.Load(), Attempts: g.attempts.Load(),
		Retries: g.retries.Load(), RetriesDenied: g.denied.Load(), BreakerOpened: g.opened.Load(),
		RejectedOpen: g.rejOpen.Load(), RejectedFull: g.rejFull.Load(), TimeoutMs: g.timeout.Milliseconds(),
	}
	if g.cb != nil {
		s.Breaker = g.cb.State().String()
	}
	if g.budget != nil {
		s.RetryBudget = fmt.Sprintf("ratio %g, burst %d", g.cfg.Retry.BudgetRatio, g.cfg.Retry.BudgetBurst)
		s.RetryTokensNow = fmt.Sprintf("%.1f", g.budget.balance())
	}
	return s
}

// retryBudget is a token bucket filled by traffic, not by time: deposit
// adds ratio per first attempt, withdraw takes one per retry, the balance
// stays within [0, burst]. Safe for concurrent use.
type retryBudget struct {
	mu     sync.Mutex
	ratio  float64
	burst  float64
	tokens float64
}

func newRetryBudget(ratio float64, burst int) *retryBudget {
	return &retryBudget{ratio: ratio, burst: float64(burst), tokens: float64(burst)}
}

func (b *retryBudget) deposit() {
	b.mu.Lock()
	b.tokens = min(b.burst, b.tokens+b.ratio)
	b.mu.Unlock()
}

// withdraw takes one token for a retry; false when fewer than one is left.
func (b *retryBudget) withdraw() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *retryBudget) balance() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens
}
