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
