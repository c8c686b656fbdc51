// Package scenario is the chaos scenario engine shared by the faultline
// CLI and the Ginkgo suites: it drives both placement modes with the same
// open-loop load, applies a scenario's fault schedule
// (baseline -> fault -> recovery), measures each phase, then accounts for
// every accepted order from the services' own state.
package scenario

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// Scenario is a named fault applied to a running stack.
type Scenario struct {
	Name        string
	Description string
	// Inject applies the fault and returns the Undo that removes it.
	Inject func(ctx context.Context, s *stack.Stack) (faults.Undo, error)
	// Stack, when set, adjusts the stack configuration the scenario needs
	// (order-sync's resilience mitigations, its timeouts) before the stack
	// starts. Whoever starts the stack applies it: see StackConfig.
	Stack func(*stack.Config)
	// Setup describes what Stack sets up, for the result; "" when the
	// scenario runs the default stack.
	Setup string
	// RequestTimeout, when set, is the load generator's per-request
	// deadline this scenario needs (say, longer than a pile-up lasts); it
	// applies when Options.RequestTimeout is zero.
	RequestTimeout time.Duration
	// Applies, when set, says whether the scenario can run on a stack
	// (say, it needs several brokers): Run returns ErrNotApplicable with
	// its error, and callers skip the scenario. (lanes.go)
	Applies func(*stack.Stack) error
	// Report, when set, runs after accounting and may add the scenario's
	// own findings to the result (Result.Breakdown). (lanes.go)
	Report func(ctx context.Context, st *stack.Stack, res *Result) error
}

// StackConfig returns cfg adjusted by the scenario's Stack function.
func (sc Scenario) StackConfig(cfg stack.Config) stack.Config {
	if sc.Stack != nil {
		sc.Stack(&cfg)
	}
	return cfg
}

// InventoryLatency is the added latency of the inventory-latency scenario:
// four times order-sync's default 500 ms client timeout.
const InventoryLatency = 2 * time.Second

var all = []Scenario{
	{
		Name:        "inventory-latency",
		Description: "inventory answers ~2 s late on the order->inventory HTTP hop (latency toxic, 2000 ms ± 100 ms)",
		Inject: func(ctx context.Context, s *stack.Stack) (faults.Undo, error) {
			return s.Faults.Latency(ctx, stack.ProxyInventoryHTTP, InventoryLatency, 100*time.Millisecond)
		},
	},
	{
		Name:        "inventory-down",
		Description: "inventory unreachable: its HTTP hop and its Kafka link both disabled (connection refused)",
		Inject: func(ctx context.Context, s *stack.Stack) (faults.Undo, error) {
			return faults.All(ctx,
				func(ctx context.Context) (faults.Undo, error) { return s.Faults.Down(ctx, stack.ProxyInventoryHTTP) },
				func(ctx context.Context) (faults.Undo, error) { return s.Faults.Down(ctx, stack.ProxyInventoryKafka) },
			)
		},
	},
	{
		Name:        "kafka-down",
		Description: "Kafka unreachable: the order->Kafka and inventory->Kafka proxies disabled",
		Inject: func(ctx context.Context, s *stack.Stack) (faults.Undo, error) {
			return faults.All(ctx,
				func(ctx context.Context) (faults.Undo, error) { return s.Faults.Down(ctx, stack.ProxyOrderKafka) },
				func(ctx context.Context) (faults.Undo, error) { return s.Faults.Down(ctx, stack.ProxyInventoryKafka) },
			)
		},
	},
	// Resilience patterns (chaos/scenario/resilience.go): the same
	// blackhole with order-sync's mitigations off, then on.
	{
		Name:        "inventory-blackhole",
		Description: "inventory swallows requests on the order->inventory HTTP hop (timeout toxic 0: no answer, connection held); order-sync has no mitigation but its 500 ms timeout",
		Inject:      blackholeInventory,
		Setup:       "no mitigation: inventory timeout 500ms, no breaker, no bulkhead, no retries",
	},
	{
		Name:        "inventory-blackhole-breaker",
		Description: "inventory-blackhole with a circuit breaker around order-sync's inventory calls: once open, placements fail fast (503 circuit_open) instead of waiting for the timeout",
		Inject:      blackholeInventory,
		Stack:       withBreaker,
		Setup:       BreakerSetup,
	},
	{
		Name:        "inventory-blackhole-pileup",
		Description: "inventory-blackhole with a 5 s inventory timeout and 8 workers in order-sync: hung calls pile up and its unrelated endpoints (GET /healthz) wait behind them",
		Inject:      blackholeInventory,
		Stack:       withPileup,
		Setup:       PileupSetup,
		// Longer than the inventory timeout plus the wait for a worker, so
		// the generator sees the pile-up instead of cutting it short.
		RequestTimeout: PileupRequestTimeout,
	},
	{
		Name:           "inventory-blackhole-bulkhead",
		Description:    "inventory-blackhole-pileup with a bulkhead of 4 concurrent inventory calls: calls over it fail fast (503 bulkhead_full) and GET /healthz stays healthy",
		Inject:         blackholeInventory,
		Stack:          withBulkhead,
		Setup:          BulkheadSetup,
		RequestTimeout: PileupRequestTimeout,
	},
}

// All returns the scenarios, sorted by name.
func All() []Scenario {
	out := append([]Scenario(nil), all...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a scenario by name; the error lists the known names.
func Lookup(name string) (Scenario, error) {
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, 0, len(all))
	for _, s := range All() {
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %v)", name, names)
}
