package scenario

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The window is updated_at - created_at per final order, grouped by the
// phase and second the order was sent in; a PENDING order has none; sync
// is 0 by construction whatever its timestamps say.
func TestConsistencyWindow(t *testing.T) {
	sch := Schedule{FaultStart: 1, FaultEnd: 2}
	created := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	final := func(status string, after time.Duration) fate {
		return fate{status: status, createdAt: created, updatedAt: created.Add(after)}
	}
	acc := []sample{
		{sentAt: 100 * time.Millisecond}, {sentAt: 200 * time.Millisecond}, // baseline
		{sentAt: 1100 * time.Millisecond}, {sentAt: 1500 * time.Millisecond}, {sentAt: 1900 * time.Millisecond}, // fault
		{sentAt: 2500 * time.Millisecond}, // recovery, still PENDING
	}
	fates := []fate{
		final("CONFIRMED", 10*time.Millisecond), final("REJECTED", 30*time.Millisecond),
		final("CONFIRMED", 4*time.Second), final("FAILED", 2*time.Second), final("CONFIRMED", 1500*time.Millisecond),
		{status: "PENDING", createdAt: created, updatedAt: created},
	}
	w := consistencyWindow(ModeAsync, acc, fates, sch, 3)
	if w.Source != WindowSourceStore || w.Final != 5 || w.Unresolved != 1 {
		t.Fatalf("source %q final %d unresolved %d, want the store's, 5, 1", w.Source, w.Final, w.Unresolved)
	}
	near := func(got, want float64) bool { return got >= want*0.99 && got <= want*1.01 }
	if b := w.Phases[PhaseBaseline]; b.Orders != 2 || !near(b.P50Ms, 10) || !near(b.MaxMs, 30) {
		t.Errorf("baseline %+v, want 2 orders, p50 10 ms, max 30 ms", b)
	}
	if f := w.Phases[PhaseFault]; f.Orders != 3 || !near(f.P50Ms, 2000) || !near(f.P99Ms, 4000) || !near(f.MaxMs, 4000) {
		t.Errorf("fault %+v, want 3 orders, p50 2000 ms, p99 and max 4000 ms", f)
	}
	if r := w.Phases[PhaseRecovery]; r.Orders != 0 || r.P99Ms != 0 {
		t.Errorf("recovery %+v, want no measured order", r)
	}
	if len(w.Timeline) != 3 || w.Timeline[1].T != 1 || w.Timeline[1].Orders != 3 || !near(w.Timeline[1].MaxMs, 4000) || w.Timeline[2].Orders != 0 {
		t.Errorf("timeline %+v, want second 1 with 3 orders up to 4000 ms and second 2 empty", w.Timeline)
	}

	s := consistencyWindow(ModeSync, acc[:2], fates[:2], sch, 3)
	if s.Source != WindowSourceFinal || s.Final != 2 || s.Phases[PhaseBaseline].Orders != 2 || s.Phases[PhaseBaseline].MaxMs > 0.01 {
		t.Errorf("sync window %+v (baseline %+v), want 2 orders of 0 ms", s, s.Phases[PhaseBaseline])
	}

	var out bytes.Buffer
	(&Result{Modes: map[string]*ModeResult{ModeSync: {Window: s}, ModeAsync: {Window: w}}}).writeWindow(&out)
	for _, want := range []string{"baseline   sync       2       0       0       0", "fault  async       3", "recovery  async       0       -", "async: 1 accepted orders not final"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("window table lacks %q:\n%s", want, out.String())
		}
	}
}

// BeforeFault counts each baseline order only until the fault started: an
// order sent 100 ms before it and held 3 s by the fault counts 100 ms
// there, while the baseline phase's own figures keep its 3 s.
func TestConsistencyWindowBeforeFault(t *testing.T) {
	sch := Schedule{FaultStart: 1, FaultEnd: 2}
	created := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	final := func(after time.Duration) fate {
		return fate{status: "CONFIRMED", createdAt: created, updatedAt: created.Add(after)}
	}
	acc := []sample{{sentAt: 100 * time.Millisecond}, {sentAt: 200 * time.Millisecond}, {sentAt: 900 * time.Millisecond}, {sentAt: 1500 * time.Millisecond}}
	fates := []fate{final(20 * time.Millisecond), final(1500 * time.Millisecond), final(3 * time.Second), final(5 * time.Second)}
	w := consistencyWindow(ModeAsync, acc, fates, sch, 2)
	near := func(got, want float64) bool { return got >= want*0.99 && got <= want*1.01 }
	if b := w.Phases[PhaseBaseline]; b.Orders != 3 || !near(b.MaxMs, 3000) {
		t.Errorf("baseline phase %+v, want 3 orders up to 3000 ms (whole windows)", b)
	}
	// 20 ms as measured; 1500 ms cut to the 800 ms left before the fault;
	// 3000 ms cut to 100 ms. The fault phase's order is not in it.
	bf := w.BeforeFault
	if bf == nil || bf.Orders != 3 || !near(bf.MaxMs, 800) || !near(bf.P50Ms, 100) {
		t.Errorf("before the fault %+v, want 3 orders, p50 100 ms, max 800 ms", bf)
	}
}
