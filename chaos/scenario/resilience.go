package scenario

import (
	"context"
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

// blackholeInventory adds a timeout toxic with timeout 0 to the
// order->inventory HTTP hop: nothing gets through and connections stay
// open, so a call hangs until its client's timeout or until the fault ends
// (Toxiproxy then lets the held bytes through). Every wait stays bounded:
// order-sync's inventory timeout, the load generator's and the probe's
// deadlines.
func blackholeInventory(ctx context.Context, s *stack.Stack) (faults.Undo, error) {
	return s.Faults.Timeout(ctx, stack.ProxyInventoryHTTP, 0)
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
