package scenario

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
)

func TestResilienceScenariosConfigureTheStack(t *testing.T) {
	for name, check := range map[string]func(stack.Config) bool{
		"inventory-blackhole": func(c stack.Config) bool {
			return !c.SyncResilience.Breaker.Enabled && c.SyncResilience.Bulkhead == 0 && c.SyncMaxConcurrentRequests == 0
		},
		"inventory-blackhole-breaker": func(c stack.Config) bool {
			b := c.SyncResilience.Breaker
			return b.Enabled && b.FailureThreshold == BreakerFailures && b.OpenTimeout == BreakerOpenTimeout && c.SyncResilience.Bulkhead == 0
		},
		"inventory-blackhole-pileup": func(c stack.Config) bool {
			return c.InventoryTimeout == PileupInventoryTimeout && c.SyncMaxConcurrentRequests == PileupWorkers && c.SyncResilience.Bulkhead == 0
		},
		"inventory-blackhole-bulkhead": func(c stack.Config) bool {
			return c.InventoryTimeout == PileupInventoryTimeout && c.SyncMaxConcurrentRequests == PileupWorkers && c.SyncResilience.Bulkhead == BulkheadLimit
		},
	} {
		sc, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		base := stack.Config{ToxiproxyURL: "http://keep"}
		cfg := sc.StackConfig(base)
		if !check(cfg) || cfg.ToxiproxyURL != "http://keep" || sc.Setup == "" {
			t.Errorf("%s: stack config %+v, setup %q", name, cfg, sc.Setup)
		}
	}
	// The plain scenarios leave the configuration alone.
	sc, _ := Lookup("inventory-down")
	if cfg := sc.StackConfig(stack.Config{}); cfg.SyncMaxConcurrentRequests != 0 || cfg.SyncResilience.Breaker.Enabled || sc.Setup != "" {
		t.Errorf("inventory-down changes the stack: %+v", cfg)
	}
	if sc, _ := Lookup("inventory-blackhole-pileup"); sc.RequestTimeout <= PileupInventoryTimeout {
		t.Errorf("pile-up load timeout %v must outlast the inventory timeout %v", sc.RequestTimeout, PileupInventoryTimeout)
	}
}

func TestAddAnswersSplitsLatencyByAnswer(t *testing.T) {
	sch := Schedule{FaultStart: 1, FaultEnd: 2}
	smp := func(at, lat time.Duration, status int, code, class string) sample {
		return sample{sentAt: at, latency: lat, status: status, code: code, class: class}
	}
	samples := []sample{
		smp(500*time.Millisecond, 2*time.Millisecond, 201, "", ""),
		smp(1100*time.Millisecond, 500*time.Millisecond, 503, "inventory_unavailable", Class5xx),
		smp(1200*time.Millisecond, 1*time.Millisecond, 503, "circuit_open", Class5xx),
		smp(1300*time.Millisecond, 3*time.Millisecond, 503, "circuit_open", Class5xx),
		smp(1400*time.Millisecond, 5*time.Second, 0, "", ClassTimeout),
		smp(1500*time.Millisecond, 0, 0, "", ClassShed),
	}
	mr := summarize(samples, sch, 3*time.Second)
	addAnswers(mr, samples, sch)
	f := mr.Phases[PhaseFault].Answers
	if len(f) != 3 || f["503 circuit_open"].Count != 2 || f["503 circuit_open"].P99Ms > 3.1 || f["503 inventory_unavailable"].P50Ms < 499 || f["timeout"].Count != 1 {
		t.Fatalf("fault answers %+v", f)
	}
	if b := mr.Phases[PhaseBaseline].Answers; len(b) != 1 || b["201"].Count != 1 {
		t.Fatalf("baseline answers %+v", b)
	}
	if mr.Phases[PhaseRecovery].Answers != nil {
		t.Fatalf("recovery answers %+v, want none", mr.Phases[PhaseRecovery].Answers)
	}
}

// TestProbeMeasuresHealthAndLoad runs the probe against a fake order-sync
// whose /healthz hangs during the "fault" and whose /stats reports load.
func TestProbeMeasuresHealthAndLoad(t *testing.T) {
	var hang atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			if hang.Load() {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			w.Write([]byte(`{"status":"ok"}`))
		case "/stats":
			inFlight := 1
			if hang.Load() {
				inFlight = 9
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(strings.NewReplacer("N", string(rune('0'+inFlight))).Replace(
				`{"in_flight_requests":N,"waiting_requests":N,"goroutines":5N,"inventory":{"in_flight":N,"breaker":"closed"}}`)))
		}
	}))
	defer srv.Close()
	start := time.Now()
	p := startProbe(context.Background(), &stack.Stack{OrderSyncURL: srv.URL}, start, Options{ProbeInterval: 20 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond})
	time.Sleep(300 * time.Millisecond) // baseline: the probe runs for a set time, this is that time
	hang.Store(true)
	time.Sleep(400 * time.Millisecond) // fault
	hang.Store(false)
	time.Sleep(300 * time.Millisecond) // recovery
	p.stop()
	p.stop() // idempotent
	res := p.summary(Schedule{FaultStart: 0.3, FaultEnd: 0.7})
	b, f, r := res.Phases[PhaseBaseline], res.Phases[PhaseFault], res.Phases[PhaseRecovery]
	if b.Probes < 5 || b.Failures != 0 || b.P99Ms > 150 || b.MaxInFlightRequests != 1 {
		t.Errorf("baseline %+v", b)
	}
	if f.Probes < 5 || f.Failures < f.Probes-2 || f.P99Ms < 190 || f.MaxInFlightRequests != 9 || f.MaxGoroutines != 59 || f.MaxInventoryInFlight != 9 || len(f.Breaker) != 1 {
		t.Errorf("fault %+v", f)
	}
	if r.Probes < 5 || r.Failures > 2 {
		t.Errorf("recovery %+v", r)
	}
}
