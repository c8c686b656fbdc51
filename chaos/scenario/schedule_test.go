package scenario

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
)

// Every scenario plans, at the suites' and the CLI's durations, into
// steps inside a sane range with a hop and a known fault type.
func TestEveryScenarioPlans(t *testing.T) {
	known := map[string]bool{FaultDown: true, FaultLatency: true, FaultTimeout: true, FaultResetPeer: true, FaultBandwidth: true, FaultBrokerStop: true, FaultStockOut: true}
	for _, sc := range All() {
		for _, window := range []time.Duration{3200 * time.Millisecond, 8 * time.Second} {
			steps, err := sc.Plan(window, 42, 0)
			if err != nil {
				t.Fatalf("%s at %s: %v", sc.Name, window, err)
			}
			if len(steps) == 0 {
				t.Fatalf("%s: no step", sc.Name)
			}
			for _, s := range steps {
				if !known[s.Fault.Type] || len(s.Fault.Hops) == 0 || s.PlannedEnd <= s.PlannedStart || s.PlannedStart < 0 {
					t.Errorf("%s: bad step %+v", sc.Name, s)
				}
				if s.Fault.Type != FaultBrokerStop && s.PlannedEnd > window.Seconds()+1e-9 {
					t.Errorf("%s: step %d ends at %.2fs, after the %s window", sc.Name, s.Index, s.PlannedEnd, window)
				}
			}
		}
	}
}

// A seed replays the same schedule exactly; another seed moves a flapping
// fault's periods.
func TestSeedReplaysTheSameSchedule(t *testing.T) {
	sc, err := Lookup("inventory-flapping")
	if err != nil {
		t.Fatal(err)
	}
	a, err := sc.Plan(8*time.Second, 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sc.Plan(8*time.Second, 7, 0)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different plans:\n%+v\n%+v", a, b)
	}
	c, _ := sc.Plan(8*time.Second, 8, 0)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 7 and 8 give the same flapping plan: the seed does not drive it")
	}
	// On for ~1 s, off for ~1 s: about 4 on-steps in 8 s, each within
	// ±12.5% of a second (the last may be clipped by the window).
	if len(a) < 3 || len(a) > 5 {
		t.Fatalf("%d on-steps in 8 s of 1 s on / 1 s off: %+v", len(a), a)
	}
	for i, s := range a {
		d := s.PlannedEnd - s.PlannedStart
		if d > 1.125+1e-9 || (d < 0.875-1e-9 && i < len(a)-1) {
			t.Errorf("step %d on for %.3fs, want 1 s ± 12.5%%", i, d)
		}
		if i > 0 {
			if gap := s.PlannedStart - a[i-1].PlannedEnd; gap < 0.875-1e-9 || gap > 1.125+1e-9 {
				t.Errorf("off for %.3fs before step %d, want 1 s ± 12.5%%", gap, i)
			}
		}
	}
}

func TestRampSteps(t *testing.T) {
	sc, err := Lookup("kafka-slow-consumer")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := sc.Plan(4*time.Second, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i, s := range steps {
		got = append(got, s.Fault.Attributes["latency"])
		if want := float64(i); s.PlannedStart != want || s.PlannedEnd != want+1 {
			t.Errorf("step %d at %.1f-%.1fs, want %.0f-%.0fs", i, s.PlannedStart, s.PlannedEnd, want, want+1)
		}
	}
	if want := []int64{400, 600, 800, 1000}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ramp latencies %v, want %v", got, want)
	}
	if sc.Schedule[0].Fault.Attributes["latency"] != 400 {
		t.Fatal("planning changed the scenario's own fault")
	}
}

func TestBrokerDownOverridesTheStep(t *testing.T) {
	sc, err := Lookup(ScenarioBrokerRestart)
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := sc.Plan(8*time.Second, 1, 0)
	if len(steps) != 1 || steps[0].PlannedEnd-steps[0].PlannedStart != DefaultBrokerDown.Seconds() {
		t.Fatalf("default plan %+v, want one step of %s", steps, DefaultBrokerDown)
	}
	steps, _ = sc.Plan(8*time.Second, 1, 2*time.Second)
	if steps[0].PlannedEnd != 2 {
		t.Fatalf("with BrokerDown 2s the step ends at %.1fs", steps[0].PlannedEnd)
	}
}

func TestPlanRejectsBadSchedules(t *testing.T) {
	for name, a := range map[string]Action{
		"no hop":          {Fault: Fault{Type: FaultDown}},
		"after window":    {Fault: Down("x"), At: 10 * time.Second},
		"flap without on": {Fault: Down("x"), Flap: &Flap{Off: time.Second}},
		"ramp of nothing": {Fault: Down("x"), Ramp: &Ramp{Attribute: "latency", To: 5, Steps: 3}},
	} {
		if _, err := (Scenario{Name: name, Schedule: []Action{a}}).Plan(5*time.Second, 1, 0); err == nil {
			t.Errorf("%s: planned", name)
		}
	}
}

// The scenarios' JSON (faultline list --json) carries every parameter.
func TestScenarioJSONShowsParameters(t *testing.T) {
	sc, _ := Lookup("inventory-latency")
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"inventory-latency"`, `"type":"latency"`, `"hops":["inventory-http"]`, `"stream":"downstream"`,
		`"toxicity":1`, `"latency":2000`, `"jitter":100`, `"at_ms":0`, `"for_ms":0`, `"start_fraction":0.25`, `"end_fraction":0.65`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	flap, _ := Lookup("inventory-flapping")
	b, _ = json.Marshal(flap)
	if !strings.Contains(string(b), `"flap":{"on_ms":1000,"off_ms":1000,"jitter":0.25}`) {
		t.Errorf("flapping JSON: %s", b)
	}
	ramp, _ := Lookup("kafka-slow-consumer")
	b, _ = json.Marshal(ramp)
	if !strings.Contains(string(b), `"ramp":{"attribute":"latency","from":400,"to":1000,"steps":4}`) {
		t.Errorf("ramp JSON: %s", b)
	}
}

func TestResolveHopsExpandsPerBrokerProxies(t *testing.T) {
	st := &stack.Stack{Brokers: []stack.BrokerInfo{
		{ID: 0, AdvertisedProxy: "kafka-0", OrderProxy: "order-kafka-0", InventoryProxy: "inventory-kafka-0", NotificationProxy: "notification-kafka-0"},
		{ID: 1, AdvertisedProxy: "kafka-1", OrderProxy: "order-kafka-1", InventoryProxy: "inventory-kafka-1", NotificationProxy: "notification-kafka-1"},
	}}
	got, err := (Scenario{}).resolveHops(t.Context(), st, Down(stack.ProxyInventoryHTTP, stack.ProxyOrderKafka))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"inventory-http", "order-kafka-0", "order-kafka-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("resolved %v, want %v", got, want)
	}
	got, err = (Scenario{}).resolveHops(t.Context(), st, Down(stack.ProxyNotificationKafka))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"notification-kafka-0", "notification-kafka-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("resolved %v, want %v", got, want)
	}
}

// A journal read back keeps the actions as declared.
func TestActionJSONRoundTrip(t *testing.T) {
	for _, sc := range All() {
		b, err := json.Marshal(sc.Schedule)
		if err != nil {
			t.Fatal(err)
		}
		var got []Action
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, sc.Schedule) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", sc.Name, got, sc.Schedule)
		}
	}
}
