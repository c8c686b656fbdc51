package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// Fault types a schedule can apply. The toxic types are Toxiproxy's own
// (chaos/faults says how Toxiproxy 2.12 behaves with each).
const (
	FaultDown       = "down"               // the proxies are disabled: connections refused
	FaultLatency    = faults.TypeLatency   // latency toxic: attributes latency, jitter (ms)
	FaultTimeout    = faults.TypeTimeout   // timeout toxic, a blackhole: attribute timeout (ms, 0 = hold until the client gives up)
	FaultResetPeer  = faults.TypeResetPeer // reset_peer toxic: attribute timeout (ms before the reset)
	FaultBandwidth  = faults.TypeBandwidth // bandwidth toxic: attribute rate (KB/s)
	FaultBrokerStop = "broker_stop"        // every Kafka broker stopped (embedded: kfake closed; real: SIGKILL) and started again when the step ends
	// FaultStockOut: the stock runs out. Its hops are SKUs, not proxies:
	// inventory's available units of each are set to attribute "units"
	// (inventory.Store.SetStock) and put back to their level before the
	// step when it ends (a restock).
	FaultStockOut = "stock_out"
)

// HopBrokers is the hop of a broker_stop fault: the brokers themselves,
// not a proxy.
const HopBrokers = "brokers"

// Window is the fault window as fractions of the load's duration: the
// fault phase. Every action's time is an offset from the window's start.
var Window = struct {
	Start float64 `json:"start_fraction"`
	End   float64 `json:"end_fraction"`
}{Start: 0.25, End: 0.65}

// Fault is one fault on one or more hops, with its parameters.
type Fault struct {
	Type string `json:"type"`
	// Hops are proxy names (stack.ProxyInventoryHTTP, ...; the per-service
	// Kafka proxies mean every broker's), HopBrokers, or a name the
	// scenario resolves at run time (Scenario.Hops). A fault on several
	// hops is applied to all of them at once.
	Hops []string `json:"hops"`
	// Stream is the direction a toxic acts on: "upstream" (client to
	// server) or "downstream".
	Stream faults.Stream `json:"stream,omitempty"`
	// Toxicity is the share of connections a toxic applies to, 0..1
	// (0 means 1).
	Toxicity float64 `json:"toxicity,omitempty"`
	// Attributes are the toxic's own, as Toxiproxy names them: latency and
	// jitter (ms), timeout (ms), rate (KB/s).
	Attributes map[string]int64 `json:"attributes,omitempty"`
}

// String describes the fault: "latency 2000±100 ms on inventory-http (downstream)".
func (f Fault) String() string {
	hops := strings.Join(f.Hops, ", ")
	a := f.Attributes
	var what string
	switch f.Type {
	case FaultDown:
		return "down: " + hops + " disabled"
	case FaultBrokerStop:
		return "broker stopped"
	case FaultStockOut:
		return fmt.Sprintf("stock out: %s down to %d units", hops, a["units"])
	case FaultLatency:
		what = fmt.Sprintf("latency %d±%d ms", a["latency"], a["jitter"])
	case FaultTimeout:
		if a["timeout"] == 0 {
			what = "timeout (blackhole, connections held)"
		} else {
			what = fmt.Sprintf("timeout (blackhole, closed after %d ms)", a["timeout"])
		}
	case FaultResetPeer:
		what = fmt.Sprintf("reset_peer after %d ms", a["timeout"])
	case FaultBandwidth:
		what = fmt.Sprintf("bandwidth %d KB/s", a["rate"])
	default:
		what = f.Type
	}
	s := fmt.Sprintf("%s on %s (%s)", what, hops, f.Stream)
	if f.Toxicity > 0 && f.Toxicity < 1 {
		s += fmt.Sprintf(", toxicity %g", f.Toxicity)
	}
	return s
}

// toxic is the fault as a Toxiproxy toxic.
func (f Fault) toxic() faults.Toxic {
	attrs := make(map[string]any, len(f.Attributes))
	for k, v := range f.Attributes {
		attrs[k] = v
	}
	return faults.Toxic{Type: f.Type, Stream: f.Stream, Toxicity: f.Toxicity, Attributes: attrs}
}

func (f Fault) withAttribute(name string, v int64) Fault {
	attrs := make(map[string]int64, len(f.Attributes))
	for k, x := range f.Attributes {
		attrs[k] = x
	}
	attrs[name] = v
	f.Attributes = attrs
	return f
}

// Action is one entry of a scenario's schedule: apply Fault from At (an
// offset from the fault window's start) for For (0: until the window
// closes). With Flap the fault is switched on and off; with Ramp one of
// its attributes steps from its value to Ramp.To. An action yields one or
// more Steps once planned against a window and a seed (Scenario.Plan).
type Action struct {
	Fault Fault
	At    time.Duration
	For   time.Duration
	Flap  *Flap
	Ramp  *Ramp
}

// Flap switches a fault on for On, off for Off, on again, ... Each period
// is moved by a uniform random share in ±Jitter/2 of its length, drawn
// from the run's seed, so a seed replays the same on/off pattern.
type Flap struct {
	On, Off time.Duration
	Jitter  float64 // 0..1
}

// Ramp steps one attribute of the fault (say latency) from the fault's
// value to To, in Steps equal steps spread over the action's time.
type Ramp struct {
	Attribute string
	To        int64
	Steps     int
}

// actionJSON is Action on the wire, times in milliseconds:
// {"fault":{...},"at_ms":0,"for_ms":5000,"flap":{"on_ms":1000,...},"ramp":{...}}.
type actionJSON struct {
	Fault Fault `json:"fault"`
	AtMs  int64 `json:"at_ms"`
	// ForMs 0: until the fault window closes.
	ForMs int64 `json:"for_ms"`
	Flap  *struct {
		OnMs   int64   `json:"on_ms"`
		OffMs  int64   `json:"off_ms"`
		Jitter float64 `json:"jitter"`
	} `json:"flap,omitempty"`
	Ramp *struct {
		Attribute string `json:"attribute"`
		From      int64  `json:"from"`
		To        int64  `json:"to"`
		Steps     int    `json:"steps"`
	} `json:"ramp,omitempty"`
}

// MarshalJSON writes the action with times in milliseconds (actionJSON).
func (a Action) MarshalJSON() ([]byte, error) {
	out := actionJSON{Fault: a.Fault, AtMs: a.At.Milliseconds(), ForMs: a.For.Milliseconds()}
	if f := a.Flap; f != nil {
		out.Flap = &struct {
			OnMs   int64   `json:"on_ms"`
			OffMs  int64   `json:"off_ms"`
			Jitter float64 `json:"jitter"`
		}{f.On.Milliseconds(), f.Off.Milliseconds(), f.Jitter}
	}
	if r := a.Ramp; r != nil {
		out.Ramp = &struct {
			Attribute string `json:"attribute"`
			From      int64  `json:"from"`
			To        int64  `json:"to"`
			Steps     int    `json:"steps"`
		}{r.Attribute, a.Fault.Attributes[r.Attribute], r.To, r.Steps}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes (a journal read back).
func (a *Action) UnmarshalJSON(b []byte) error {
	var in actionJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*a = Action{Fault: in.Fault, At: time.Duration(in.AtMs) * time.Millisecond, For: time.Duration(in.ForMs) * time.Millisecond}
	if f := in.Flap; f != nil {
		a.Flap = &Flap{On: time.Duration(f.OnMs) * time.Millisecond, Off: time.Duration(f.OffMs) * time.Millisecond, Jitter: f.Jitter}
	}
	if r := in.Ramp; r != nil {
		a.Ramp = &Ramp{Attribute: r.Attribute, To: r.To, Steps: r.Steps}
	}
	return nil
}

// Step is one planned application of a fault, and how it ran. Offsets are
// seconds since the load started.
type Step struct {
	Index int   `json:"index"`
	Fault Fault `json:"fault"`
	// PlannedStart and PlannedEnd are the plan (offsets since the load
	// started, seconds).
	PlannedStart float64 `json:"planned_start_seconds"`
	PlannedEnd   float64 `json:"planned_end_seconds"`
	// As run: the proxies the hops resolved to, when the fault was applied
	// and when it was removed (for broker_stop: killed, and answering
	// again), zero when it never was.
	Proxies   []string  `json:"proxies,omitempty"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// Evidence is what the harness saw right after applying: the control
	// plane's view and a probe through each hop (see Evidence).
	Evidence []Evidence `json:"evidence,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// Plan expands the scenario's schedule against a fault window of the given
// length: one Step per application, sorted by start. The same window and
// seed always give the same steps (flapping draws from PCG(seed, 3)).
// brokerDown, when > 0, replaces the length of broker_stop actions.
// Steps start at the window's start plus their action's offset; offsets
// are returned since the window's start.
func (sc Scenario) Plan(window time.Duration, seed uint64, brokerDown time.Duration) ([]Step, error) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var steps []Step
	add := func(f Fault, from, to time.Duration) {
		steps = append(steps, Step{Fault: f, PlannedStart: from.Seconds(), PlannedEnd: to.Seconds()})
	}
	for i, a := range sc.Schedule {
		if len(a.Fault.Hops) == 0 {
			return nil, fmt.Errorf("scenario %s, action %d: no hop", sc.Name, i)
		}
		end := window
		if a.For > 0 {
			end = a.At + a.For
		}
		if a.Fault.Type == FaultBrokerStop && brokerDown > 0 {
			end = a.At + brokerDown
		}
		if end <= a.At {
			return nil, fmt.Errorf("scenario %s, action %d (%s): starts at %s, after the %s window", sc.Name, i, a.Fault, a.At, window)
		}
		switch {
		case a.Flap != nil:
			if a.Flap.On <= 0 || a.Flap.Off <= 0 || a.Flap.Jitter < 0 || a.Flap.Jitter > 1 {
				return nil, fmt.Errorf("scenario %s, action %d: flap needs on > 0, off > 0, jitter 0..1", sc.Name, i)
			}
			jitter := func(d time.Duration) time.Duration {
				return d + time.Duration((rng.Float64()-0.5)*a.Flap.Jitter*float64(d))
			}
			for t, on := a.At, true; t < end; on = !on {
				d := a.Flap.Off
				if on {
					d = a.Flap.On
				}
				next := min(t+jitter(d), end)
				if on {
					add(a.Fault, t, next)
				}
				t = next
			}
		case a.Ramp != nil:
			r := a.Ramp
			from, ok := a.Fault.Attributes[r.Attribute]
			if !ok || r.Steps < 2 {
				return nil, fmt.Errorf("scenario %s, action %d: ramp of %q needs the attribute and at least 2 steps", sc.Name, i, r.Attribute)
			}
			each := (end - a.At) / time.Duration(r.Steps)
			for k := range r.Steps {
				v := from + (r.To-from)*int64(k)/int64(r.Steps-1)
				stepEnd := a.At + each*time.Duration(k+1)
				if k == r.Steps-1 {
					stepEnd = end
				}
				add(a.Fault.withAttribute(r.Attribute, v), a.At+each*time.Duration(k), stepEnd)
			}
		default:
			add(a.Fault, a.At, end)
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].PlannedStart < steps[j].PlannedStart })
	for i := range steps {
		steps[i].Index = i
	}
	return steps, nil
}

// resolveHops turns a fault's hops into proxy names on st: a per-service
// Kafka proxy name means that proxy of every broker; a name in sc.Hops is
// resolved by it; HopBrokers stays as it is.
func (sc Scenario) resolveHops(ctx context.Context, st *stack.Stack, f Fault) ([]string, error) {
	if f.Type == FaultStockOut {
		return append([]string(nil), f.Hops...), nil // SKUs
	}
	var out []string
	for _, h := range f.Hops {
		if resolve, ok := sc.Hops[h]; ok {
			ps, err := resolve(ctx, st)
			if err != nil {
				return nil, fmt.Errorf("resolve hop %s: %w", h, err)
			}
			out = append(out, ps...)
			continue
		}
		switch h {
		case stack.ProxyOrderKafka, stack.ProxyInventoryKafka, stack.ProxyNotificationKafka, stack.ProxyKafka:
			for _, b := range st.Brokers {
				switch h {
				case stack.ProxyOrderKafka:
					out = append(out, b.OrderProxy)
				case stack.ProxyInventoryKafka:
					out = append(out, b.InventoryProxy)
				case stack.ProxyNotificationKafka:
					out = append(out, b.NotificationProxy)
				default:
					out = append(out, b.AdvertisedProxy)
				}
			}
		default:
			out = append(out, h)
		}
	}
	return out, nil
}
