package scenario

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
)

// evidenceRig is a Toxiproxy with two proxies: "inventory-http" in front
// of an HTTP server, "order-kafka" in front of an embedded Kafka broker.
func evidenceRig(t *testing.T) *faults.Injector {
	t.Helper()
	url, stop, err := stack.ServeToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	in := faults.NewInjector(url)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) }))
	t.Cleanup(srv.Close)
	kafka := testkit.StartKafka(t, 1, []string{events.TopicOrderPlaced})
	ctx := t.Context()
	if _, err := in.CreateProxy(ctx, stack.ProxyInventoryHTTP, "127.0.0.1:0", srv.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if _, err := in.CreateProxy(ctx, stack.ProxyOrderKafka, "127.0.0.1:0", kafka.ListenAddrs()[0]); err != nil {
		t.Fatal(err)
	}
	return in
}

// Each fault type is seen listed and observed through both kinds of hop
// once applied; the same probe finds nothing when the fault was not
// applied (a neutralised fault: the step reported success, did nothing).
func TestEvidenceSeesEachFaultAndItsAbsence(t *testing.T) {
	in := evidenceRig(t)
	ctx := t.Context()
	cases := []Fault{
		Down(), Blackhole(), ResetPeer(),
		Latency(faults.Downstream, 600*time.Millisecond, 0),
		Bandwidth(faults.Upstream, 1),
	}
	for _, hop := range []string{stack.ProxyInventoryHTTP, stack.ProxyOrderKafka} {
		for _, f := range cases {
			f.Hops = []string{hop}
			t.Run(hop+"/"+f.Type, func(t *testing.T) {
				if e := observeProxy(ctx, in, f, hop); e.TookEffect {
					t.Fatalf("no fault applied, yet evidence says it took effect: %+v", e)
				}
				undo, err := applyFault(ctx, &stack.Stack{Faults: in}, f, []string{hop})
				if err != nil {
					t.Fatal(err)
				}
				e := observeProxy(ctx, in, f, hop)
				if err := undo(context.WithoutCancel(ctx)); err != nil {
					t.Fatal(err)
				}
				if !e.TookEffect || e.Listed == "" {
					t.Fatalf("%s applied to %s, evidence %+v", f, hop, e)
				}
			})
		}
	}
}

// A latency toxic listed with other attributes than the step's is not
// this step's fault.
func TestEvidenceWantsTheStepsAttributes(t *testing.T) {
	in := evidenceRig(t)
	ctx := t.Context()
	undo, err := in.Latency(ctx, stack.ProxyInventoryHTTP, 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer undo(context.WithoutCancel(ctx))
	f := Latency(faults.Downstream, 2*time.Second, 0, stack.ProxyInventoryHTTP)
	if e := observeProxy(ctx, in, f, stack.ProxyInventoryHTTP); e.TookEffect || e.Listed != "" {
		t.Fatalf("a 300 ms toxic taken for the 2000 ms step: %+v", e)
	}
}

func TestEvidenceOfAStoppedBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := stack.BrokerInfo{ID: 1, Upstream: ln.Addr().String()}
	if e := observeBroker(t.Context(), b); e.TookEffect {
		t.Fatalf("a listening broker seen as stopped: %+v", e)
	}
	ln.Close()
	if e := observeBroker(t.Context(), b); !e.TookEffect {
		t.Fatalf("a closed listener not seen as a stopped broker: %+v", e)
	}
}

func TestFaultsTookEffect(t *testing.T) {
	ok := Step{Index: 0, Fault: Down("p"), AppliedAt: time.Now(), Evidence: []Evidence{{Hop: "p", TookEffect: true}}}
	bad := Step{Index: 1, Fault: Down("q"), AppliedAt: time.Now(), Evidence: []Evidence{{Hop: "q", Listed: "", Probe: "TCP connect", Observed: "connected"}}}
	never := Step{Index: 2, Fault: Down("r"), Error: "boom"}
	if err := (&Result{Schedule: Schedule{Steps: []Step{ok}}}).FaultsTookEffect(); err != nil {
		t.Errorf("all took effect: %v", err)
	}
	for name, steps := range map[string][]Step{"none": nil, "one not observed": {ok, bad}, "one never applied": {ok, never}, "no evidence": {{Fault: Down("s"), AppliedAt: time.Now()}}} {
		if err := (&Result{Schedule: Schedule{Steps: steps}}).FaultsTookEffect(); err == nil {
			t.Errorf("%s: FaultsTookEffect = nil", name)
		}
	}
}

func TestInventoryLoad(t *testing.T) {
	sch := Schedule{FaultStart: 2, FaultEnd: 4}
	var samples []sample
	for ms := 0; ms < 9000; ms += 100 { // 10 req/s for 9 s
		samples = append(samples, sample{sentAt: time.Duration(ms) * time.Millisecond})
	}
	// Inventory: one request per placement, three per placement sent in
	// the fault (20 of them), landing during and just after it.
	var series []StatsSample
	for at := 0.0; at <= 9; at += 0.25 {
		n := int64(at * 10) // one each, as sent
		if at > 2 {
			n += int64(min(at-2, 3) / 3 * 40) // the 40 retries, spread over 3 s
		}
		series = append(series, StatsSample{At: at, InventoryRequests: n})
	}
	l := inventoryLoad(samples, series, sch)
	if l == nil || l.ClientRequests != 20 || l.PerClientRequest < 2.8 || l.PerClientRequest > 3.2 {
		t.Fatalf("inventoryLoad = %+v, want 20 client requests at ~3 inventory requests each", l)
	}
	if inventoryLoad(samples, series[:20], sch) != nil {
		t.Error("figure given without samples RetryTail past the fault")
	}
}
