package scenario

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// Execute owns a whole run: a fresh stack, the schedule with evidence that
// each step took effect, restore and close.
func TestExecuteRunsRestoresAndCloses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	sc, err := Lookup("inventory-down")
	if err != nil {
		t.Fatal(err)
	}
	var ready StackInfo
	opts := Options{Duration: 3 * time.Second, Rate: 5, Settle: 20 * time.Second, Seed: 1, StackReady: func(i StackInfo) { ready = i }}
	res, err := Execute(t.Context(), sc, opts, stack.Config{Log: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.FaultsTookEffect(); err != nil {
		t.Errorf("the fault did not take effect: %v", err)
	}
	if ready.Lane != stack.LaneEmbedded || len(ready.Proxies) == 0 || res.Stack.ToxiproxyURL != ready.ToxiproxyURL {
		t.Errorf("stack info: ready %+v, result %+v", ready, res.Stack)
	}
	if td := res.Teardown; td == nil || td.RestoreError != "" || td.CloseError != "" || len(td.Restored) != len(ready.Proxies) {
		t.Errorf("teardown %+v, want every proxy restored and a clean close", td)
	}
	s := res.Schedule.Steps[0]
	if s.AppliedAt.IsZero() || s.RemovedAt.IsZero() || len(s.Proxies) != 2 {
		t.Errorf("step as run: %+v", s)
	}
	if len(res.Actions) != 1 || res.Actions[0].Fault.Type != FaultDown {
		t.Errorf("actions %+v", res.Actions)
	}
	// The stack's services traced the run: spans collected, and a
	// waterfall per mode for an order placed during the fault.
	if len(res.Spans) == 0 {
		t.Fatal("no spans collected from the stack's services")
	}
	modes := map[string]bool{}
	for _, w := range res.Traces {
		modes[w.Mode] = len(w.Spans) > 0 && w.OrderID != ""
		if w.Mode == ModeSync && len(w.Spans) < 2 {
			t.Errorf("sync trace of %s has %d spans, want the order's and its inventory call", w.OrderID, len(w.Spans))
		}
	}
	if !modes[ModeSync] || !modes[ModeAsync] {
		t.Errorf("waterfalls %+v: want one per mode", modes)
	}
}

// Cancelling the caller's context (Ctrl-C, a spec's timeout) stops the run
// at once; the stack is still restored and closed.
func TestExecuteStopsWhenTheContextEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	sc, err := Lookup("inventory-latency")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := Options{Duration: 30 * time.Second, Rate: 5, StackReady: func(StackInfo) {
		time.AfterFunc(12*time.Second, cancel) // in the fault window (7.5 s to 19.5 s)
	}}
	start := time.Now()
	res, err := Execute(ctx, sc, opts, stack.Config{Log: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 25*time.Second {
		t.Fatalf("Execute returned %s after start, long after the cancel at ~12 s", d)
	}
	if res == nil || res.Teardown == nil || res.Teardown.RestoreError != "" {
		t.Fatalf("result after cancel: %+v", res)
	}
	if s := res.Schedule.Steps[0]; s.AppliedAt.IsZero() || s.RemovedAt.IsZero() {
		t.Fatalf("the fault step was not applied then removed: %+v", s)
	}
	// What was measured until the cancel is kept: baseline and fault
	// requests of both modes, no accounting.
	if !res.Interrupted {
		t.Error("result not marked interrupted")
	}
	for _, m := range Modes {
		mr := res.Modes[m]
		if mr == nil {
			t.Fatalf("%s: no partial measurements kept", m)
		}
		if mr.Phases[PhaseBaseline].Requests == 0 || mr.Phases[PhaseFault].Requests == 0 || mr.Accepted != 0 {
			t.Errorf("%s partial: baseline %d, fault %d requests, accepted %d; want both phases measured, no accounting",
				m, mr.Phases[PhaseBaseline].Requests, mr.Phases[PhaseFault].Requests, mr.Accepted)
		}
	}
}
