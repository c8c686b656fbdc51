package scenario

import (
	"time"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/order"
)

// Settings of the resilience scenarios (the inventory-blackhole family).
// The blackhole is the same in each; only order-sync's setup changes, so
// the results compare before and after a mitigation.
const (
	// BreakerFailures consecutive failed inventory calls open the breaker;
	// it stays open BreakerOpenTimeout before a probe.
	BreakerFailures    = 5
	BreakerOpenTimeout = time.Second

	// PileupInventoryTimeout is order-sync's inventory timeout in the
	// pile-up scenarios: long, as timeouts set "to be safe" often are, so
	// hung calls hold their workers for a while.
	PileupInventoryTimeout = 5 * time.Second
	// PileupWorkers is order-sync's worker pool (MaxConcurrentRequests) in
	// the pile-up scenarios: every request, /healthz included, needs one.
	PileupWorkers = 8
	// PileupRequestTimeout is the load generator's deadline there: longer
	// than a call can hang plus the wait for a worker.
	PileupRequestTimeout = 15 * time.Second
	// BulkheadLimit caps concurrent inventory calls in the bulkhead
	// scenario, well under PileupWorkers.
	BulkheadLimit = 4
)

// Setup descriptions of the resilience scenarios, as results show them.
const (
	BreakerSetup  = "circuit breaker: opens after 5 consecutive failures, open 1s, one half-open probe; inventory timeout 500ms"
	PileupSetup   = "no bulkhead: inventory timeout 5s, 8 workers (MaxConcurrentRequests) shared by every endpoint"
	BulkheadSetup = "bulkhead of 4 concurrent inventory calls: inventory timeout 5s, 8 workers (MaxConcurrentRequests) shared by every endpoint"
)

// blackholeInventory is a timeout toxic with timeout 0 on the
// order->inventory HTTP hop for the whole window: nothing gets through and
// connections stay open, so a call hangs until its client's timeout.
// Toxiproxy drops the bytes it holds: when the toxic is removed the held
// connections are closed (the caller gets EOF), and no held request ever
// reaches inventory late. Every wait stays bounded: order-sync's inventory
// timeout, the load generator's and the probe's deadlines.
var blackholeInventory = []Action{{Fault: Blackhole(stack.ProxyInventoryHTTP)}}

// Settings of the retry scenarios (inventory-slow-retries and
// inventory-slow-retry-budget): inventory answers SlowInventoryLatency
// late, past order-sync's 500 ms timeout, so every attempt fails after
// reaching inventory, and order-sync retries.
const (
	SlowInventoryLatency = time.Second
	RetryAttempts        = 3
	RetryBackoff         = 50 * time.Millisecond
	RetryMaxBackoff      = 200 * time.Millisecond
	// RetryBudgetRatio and RetryBudgetBurst: the budget of
	// inventory-slow-retry-budget (order-service's defaults).
	RetryBudgetRatio = 0.1
	RetryBudgetBurst = 10
)

// Setup descriptions of the retry scenarios.
const (
	RetriesSetup     = "retries: 3 attempts per reservation (backoff 50-200ms), budget never binding (2 tokens per first attempt, reserve 1000); inventory timeout 500ms"
	RetryBudgetSetup = "retries: 3 attempts per reservation (backoff 50-200ms), retry budget 0.1 per first attempt, reserve 10; inventory timeout 500ms"
)

var slowInventory = []Action{{Fault: Latency(faults.Downstream, SlowInventoryLatency, 0, stack.ProxyInventoryHTTP)}}

// withRetries turns order-sync's retries on, with the budget or with one
// that never binds (a deposit of RetryAttempts-1 tokens per first attempt
// pays for every retry; order-service has no "budget off" switch).
func withRetries(budget bool) func(*stack.Config) {
	return func(c *stack.Config) {
		r := order.RetryConfig{MaxAttempts: RetryAttempts, BaseBackoff: RetryBackoff, MaxBackoff: RetryMaxBackoff,
			BudgetRatio: RetryAttempts - 1, BudgetBurst: 1000}
		if budget {
			r.BudgetRatio, r.BudgetBurst = RetryBudgetRatio, RetryBudgetBurst
		}
		c.SyncResilience.Retry = r
	}
}

func withBreaker(c *stack.Config) {
	c.SyncResilience.Breaker = order.BreakerConfig{Enabled: true, FailureThreshold: BreakerFailures, OpenTimeout: BreakerOpenTimeout, HalfOpenProbes: 1}
}

func withPileup(c *stack.Config) {
	c.InventoryTimeout = PileupInventoryTimeout
	c.SyncMaxConcurrentRequests = PileupWorkers
}

func withBulkhead(c *stack.Config) {
	withPileup(c)
	c.SyncResilience.Bulkhead = BulkheadLimit
}
