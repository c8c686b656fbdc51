// Package scenario is the chaos scenario engine shared by the faultline
// CLI and the Ginkgo suites. Execute owns a run: it starts a fresh stack
// with the scenario's configuration, drives the three placement modes
// (sync, async, hybrid) with the same open-loop load, applies the
// scenario's schedule of fault steps during the fault window (baseline ->
// fault -> recovery) and checks each
// step took effect (evidence.go), measures each phase, accounts for every
// accepted order from the services' own state, then restores and closes.
package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// Scenario is a named schedule of faults applied to a running stack.
type Scenario struct {
	Name        string
	Description string
	// Schedule is what the scenario does, as data: each action applies a
	// fault (type, hops, parameters) at an offset from the fault window's
	// start, for a while, possibly flapping or ramping. Plan expands it
	// into steps; the engine applies them, checks each took effect
	// (Evidence) and removes them.
	Schedule []Action
	// Hops resolves hop names of the schedule that are not proxies, at
	// run time (say "victim-broker": the proxies of one broker picked from
	// metadata). (lanes.go)
	Hops map[string]func(ctx context.Context, st *stack.Stack) ([]string, error)
	// Stack, when set, adjusts the stack configuration the scenario needs
	// (order-sync's resilience mitigations, its timeouts) before the stack
	// starts. Execute applies it: see StackConfig.
	Stack func(*stack.Config)
	// Setup describes what Stack sets up, for the result; "" when the
	// scenario runs the default stack.
	Setup string
	// RequestTimeout, when set, is the load generator's per-request
	// deadline this scenario needs (say, longer than a pile-up lasts); it
	// applies when Options.RequestTimeout is zero.
	RequestTimeout time.Duration
	// Applies, when set, says whether the scenario can run on a stack
	// (say, it needs several brokers): Execute returns ErrNotApplicable
	// with its error, and callers skip the scenario. (lanes.go)
	Applies func(*stack.Stack) error
	// Report, when set, runs after accounting and may add the scenario's
	// own findings to the result (Result.Breakdown), reading what the run
	// recorded in res (Schedule.Steps: when each fault ran). (lanes.go)
	Report func(ctx context.Context, st *stack.Stack, res *Result) error
	// Fanout, when set, has the engine follow notification-service, the
	// second consumer of order-placed: its group's lag at the broker
	// during the run and, after settling, one notification per accepted
	// async order (Result.Fanout; fanout.go).
	Fanout bool
}

// StackConfig returns cfg adjusted by the scenario's Stack function.
func (sc Scenario) StackConfig(cfg stack.Config) stack.Config {
	if sc.Stack != nil {
		sc.Stack(&cfg)
	}
	return cfg
}

// MarshalJSON describes the scenario for `faultline list --json`: name,
// description, setup, the fault window and the schedule's actions with
// their parameters.
func (sc Scenario) MarshalJSON() ([]byte, error) {
	type window struct {
		Start float64 `json:"start_fraction"`
		End   float64 `json:"end_fraction"`
	}
	return json.Marshal(struct {
		Name             string   `json:"name"`
		Description      string   `json:"description"`
		Setup            string   `json:"setup,omitempty"`
		RequestTimeoutMs int64    `json:"request_timeout_ms,omitempty"`
		Window           window   `json:"window"`
		Actions          []Action `json:"actions"`
	}{sc.Name, sc.Description, sc.Setup, sc.RequestTimeout.Milliseconds(), window{Window.Start, Window.End}, sc.Schedule})
}

// Fault constructors, for schedules.

// Latency delays the data of stream on the hops by latency ± jitter.
func Latency(stream faults.Stream, latency, jitter time.Duration, hops ...string) Fault {
	return Fault{Type: FaultLatency, Hops: hops, Stream: stream, Toxicity: 1,
		Attributes: map[string]int64{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()}}
}

// Down disables the hops' proxies.
func Down(hops ...string) Fault { return Fault{Type: FaultDown, Hops: hops} }

// Blackhole drops what clients send on the hops and holds their
// connections (a timeout toxic with timeout 0).
func Blackhole(hops ...string) Fault {
	return Fault{Type: FaultTimeout, Hops: hops, Stream: faults.Upstream, Toxicity: 1, Attributes: map[string]int64{"timeout": 0}}
}

// ResetPeer resets the hops' connections as soon as clients send data.
func ResetPeer(hops ...string) Fault {
	return Fault{Type: FaultResetPeer, Hops: hops, Stream: faults.Upstream, Toxicity: 1, Attributes: map[string]int64{"timeout": 0}}
}

// Bandwidth caps stream on the hops to kbps KB/s.
func Bandwidth(stream faults.Stream, kbps int64, hops ...string) Fault {
	return Fault{Type: FaultBandwidth, Hops: hops, Stream: stream, Toxicity: 1, Attributes: map[string]int64{"rate": kbps}}
}

// StockOut sets inventory's available units of each SKU to units for the
// step, and restocks them to their earlier level after.
func StockOut(units int64, skus ...string) Fault {
	return Fault{Type: FaultStockOut, Hops: skus, Attributes: map[string]int64{"units": units}}
}

// BrokerStop stops the Kafka broker(s).
func BrokerStop() Fault { return Fault{Type: FaultBrokerStop, Hops: []string{HopBrokers}} }

// InventoryLatency is the added latency of the inventory-latency scenario:
// four times order-sync's default 500 ms client timeout.
const InventoryLatency = 2 * time.Second

// Parameters of the newer fault scenarios.
const (
	// FlapPeriod: inventory-flapping's reset_peer is on about this long,
	// then off about as long (±FlapJitter/2, drawn from the seed).
	FlapPeriod = time.Second
	FlapJitter = 0.25
	// StarvedKBps caps order-service's Kafka link (produce requests,
	// upstream) in kafka-bandwidth: a produce request of one order-placed
	// record (~400 bytes) takes ~0.4 s, fewer than the 10-20 orders a
	// second the load brings.
	StarvedKBps = 1
	// SlowConsumerFrom and SlowConsumerTo: kafka-slow-consumer ramps the
	// latency of inventory's Kafka link in SlowConsumerSteps steps.
	SlowConsumerFrom  = 400 * time.Millisecond
	SlowConsumerTo    = 1000 * time.Millisecond
	SlowConsumerSteps = 4
)

// StockRunsOutUnits: stock-runs-out leaves this many units of the load's
// SKU when the fault window opens: a second or two of the three modes'
// load, raced for by orders in flight.
const StockRunsOutUnits = 20

var all = []Scenario{
	{
		Name:        "inventory-latency",
		Description: "inventory answers ~2 s late on the order->inventory HTTP hop (latency toxic, 2000 ms ± 100 ms)",
		Schedule:    []Action{{Fault: Latency(faults.Downstream, InventoryLatency, 100*time.Millisecond, stack.ProxyInventoryHTTP)}},
	},
	{
		Name:        "inventory-down",
		Description: "inventory unreachable: its HTTP hop and its Kafka link both disabled (connection refused)",
		Schedule:    []Action{{Fault: Down(stack.ProxyInventoryHTTP, stack.ProxyInventoryKafka)}},
	},
	{
		Name:        "kafka-down",
		Description: "Kafka unreachable: the order->Kafka and inventory->Kafka proxies disabled",
		Schedule:    []Action{{Fault: Down(stack.ProxyOrderKafka, stack.ProxyInventoryKafka)}},
	},
	{
		Name: "inventory-flapping",
		Description: "inventory flaps: reset_peer on its HTTP hop and its Kafka link, on for ~1 s then off for ~1 s through the fault window (±12.5%, from the seed); " +
			"sync fails while it is on, async keeps accepting and completes every order",
		Schedule: []Action{{Fault: ResetPeer(stack.ProxyInventoryHTTP, stack.ProxyInventoryKafka), Flap: &Flap{On: FlapPeriod, Off: FlapPeriod, Jitter: FlapJitter}}},
	},
	{
		Name: "kafka-bandwidth",
		Description: "order-service's Kafka link starved: 1 KB/s upstream (bandwidth toxic on its produce requests); " +
			"the outbox relay publishes fewer orders than arrive, the outbox backlog grows and drains after; sync does not use Kafka",
		Schedule: []Action{{Fault: Bandwidth(faults.Upstream, StarvedKBps, stack.ProxyOrderKafka)}},
	},
	{
		Name: "kafka-slow-consumer",
		Description: "inventory's Kafka link slows down: latency toxic ramping 400 -> 1000 ms in 4 steps (downstream: fetched records and acknowledgements of its outcomes); " +
			"orders wait longer for their outcome, async keeps accepting, nothing is lost",
		Schedule: []Action{{Fault: Latency(faults.Downstream, SlowConsumerFrom, 0, stack.ProxyInventoryKafka),
			Ramp: &Ramp{Attribute: "latency", To: SlowConsumerTo.Milliseconds(), Steps: SlowConsumerSteps}}},
	},
	// Resilience patterns (chaos/scenario/resilience.go): the same
	// blackhole with order-sync's mitigations off, then on.
	{
		Name:        "inventory-blackhole",
		Description: "inventory swallows requests on the order->inventory HTTP hop (timeout toxic 0: no answer, connection held); order-sync has no mitigation but its 500 ms timeout",
		Schedule:    blackholeInventory,
		Setup:       "no mitigation: inventory timeout 500ms, no breaker, no bulkhead, no retries",
	},
	{
		Name:        "inventory-blackhole-breaker",
		Description: "inventory-blackhole with a circuit breaker around order-sync's inventory calls: once open, placements fail fast (503 circuit_open) instead of waiting for the timeout",
		Schedule:    blackholeInventory,
		Stack:       withBreaker,
		Setup:       BreakerSetup,
	},
	{
		Name:        "inventory-blackhole-pileup",
		Description: "inventory-blackhole with a 5 s inventory timeout and 8 workers in order-sync: hung calls pile up and its unrelated endpoints (GET /healthz) wait behind them",
		Schedule:    blackholeInventory,
		Stack:       withPileup,
		Setup:       PileupSetup,
		// Longer than the inventory timeout plus the wait for a worker, so
		// the generator sees the pile-up instead of cutting it short.
		RequestTimeout: PileupRequestTimeout,
	},
	{
		Name:           "inventory-blackhole-bulkhead",
		Description:    "inventory-blackhole-pileup with a bulkhead of 4 concurrent inventory calls: calls over it fail fast (503 bulkhead_full) and GET /healthz stays healthy",
		Schedule:       blackholeInventory,
		Stack:          withBulkhead,
		Setup:          BulkheadSetup,
		RequestTimeout: PileupRequestTimeout,
	},
	{
		Name: "inventory-slow-retries",
		Description: "inventory answers 1 s late (latency toxic on the HTTP hop, past order-sync's 500 ms timeout) and order-sync retries each reservation up to 3 attempts with no effective budget: " +
			"inventory receives about 3 requests per placement (measured at inventory)",
		Schedule: slowInventory,
		Stack:    withRetries(false),
		Setup:    RetriesSetup,
	},
	{
		Name: "inventory-slow-retry-budget",
		Description: "inventory-slow-retries with a retry budget (0.1 retries per first attempt, reserve 10): " +
			"retries stop once the reserve is spent, inventory receives about 1.1-1.5 requests per placement",
		Schedule: slowInventory,
		Stack:    withRetries(true),
		Setup:    RetryBudgetSetup,
	},
	{
		Name: "stock-runs-out",
		Description: fmt.Sprintf("the load's SKU (SKU-1) runs out: %d units left when the fault window opens, restocked when it closes; "+
			"sync answers 409 at once, async accepts every order and rejects the excess later (promises broken), "+
			"hybrid's stock read refuses most at once and breaks only the promises its read raced with", StockRunsOutUnits),
		Schedule: []Action{{Fault: StockOut(StockRunsOutUnits, "SKU-1")}},
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
