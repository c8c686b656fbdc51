package scenario

import (
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/lag"
)

func TestArrivalOffsets(t *testing.T) {
	spec := loadSpec{Rate: 10, Count: 50, Jitter: 0.5, Seed: 7, Stream: 1}
	a, b := arrivalOffsets(spec), arrivalOffsets(spec)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different schedule at %d: %v vs %v", i, a[i], b[i])
		}
		slot := time.Duration(i) * 100 * time.Millisecond
		if d := a[i] - slot; d < -25*time.Millisecond || d > 25*time.Millisecond || a[i] < 0 {
			t.Errorf("request %d at %v: more than ±Jitter/2 (25ms) from its slot %v", i, a[i], slot)
		}
	}
	other := spec
	other.Seed = 8
	if c := arrivalOffsets(other); c[10] == a[10] && c[20] == a[20] {
		t.Error("a different seed gave the same schedule")
	}
	stream2 := spec
	stream2.Stream = 2
	if c := arrivalOffsets(stream2); c[10] == a[10] && c[20] == a[20] {
		t.Error("the two modes' streams gave the same schedule")
	}
	metronome := arrivalOffsets(loadSpec{Rate: 10, Count: 3, Seed: 7})
	if metronome[0] != 0 || metronome[1] != 100*time.Millisecond || metronome[2] != 200*time.Millisecond {
		t.Errorf("no jitter: %v, want every 100ms", metronome)
	}
}

func smp(at float64, pending, outbox int, lag int64) StatsSample {
	return StatsSample{At: at, Orders: map[string]int{"PENDING": pending}, OutboxBacklog: outbox, BrokerLag: lag}
}

func TestBacklogRecovery(t *testing.T) {
	sch := Schedule{FaultStart: 2, FaultEnd: 5}
	tests := []struct {
		name      string
		series    []StatsSample
		want      float64
		wantLimit int
	}{
		{"no samples: criterion does not apply", nil, 0, 0},
		{"drained at the first sample after the end", []StatsSample{smp(1, 1, 0, 0), smp(3, 20, 0, 0), smp(5.25, 1, 0, 0)}, 0.25, 1},
		{"outbox and lag must drain too", []StatsSample{smp(1, 0, 0, 0), smp(5.25, 0, 3, 0), smp(5.5, 0, 0, 4), smp(6.75, 0, 0, 0)}, 1.75, 0},
		{"never drained", []StatsSample{smp(1, 0, 0, 0), smp(5.25, 3, 0, 0), smp(9, 1, 0, 0)}, -1, 0},
		{"a failed read is not a drained backlog", []StatsSample{smp(1, 0, 0, 0), {At: 5.5, OrderErr: "refused"}, smp(6, 0, 0, 0)}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, limit, _ := backlogRecovery(tt.series, sch, 0)
			if got != tt.want || limit != tt.wantLimit {
				t.Errorf("backlogRecovery = %v (limit %d), want %v (limit %d)", got, limit, tt.want, tt.wantLimit)
			}
		})
	}
}

// The lag limit is the baseline's highest lag plus the slack (one second
// of arrivals): commit jitter under load is no backlog.
func TestBacklogRecoveryLagSlack(t *testing.T) {
	sch := Schedule{FaultStart: 2, FaultEnd: 5}
	series := []StatsSample{smp(1, 0, 0, 3), smp(5.5, 0, 0, 40), smp(6, 0, 0, 12), smp(7, 0, 0, 2)}
	if got, _, limit := backlogRecovery(series, sch, 10); got != 1 || limit != 13 {
		t.Errorf("with slack 10: %v s (lag limit %d), want 1 s at the sample with lag 12 (limit 13)", got, limit)
	}
	if got, _, limit := backlogRecovery(series, sch, 0); got != 2 || limit != 3 {
		t.Errorf("without slack: %v s (lag limit %d), want 2 s (limit 3)", got, limit)
	}
}

func TestFinishRecoveryTakesTheSlowestCriterion(t *testing.T) {
	timeline := []Second{{T: 0, Requests: 10, Successes: 10}, {T: 1, Requests: 10}, {T: 2, Requests: 10, Successes: 10}, {T: 3, Requests: 10, Successes: 10}}
	mk := func(stats ...StatsSample) *ModeResult {
		return &ModeResult{Timeline: timeline, Stats: stats, Phases: map[string]*PhaseResult{PhaseBaseline: {SuccessRate: 1}}}
	}
	sch := Schedule{FaultStart: 1, FaultEnd: 1.8}

	mr := mk(smp(0.5, 0, 0, 0), smp(2.3, 5, 0, 0), smp(3.3, 0, 0, 0))
	finishRecovery(mr, sch, 0.9)
	if mr.Recovery.SuccessRateSeconds != 0.2 || mr.Recovery.BacklogSeconds != 1.5 || mr.Recovery.DrainSeconds != 0.9 || mr.RecoverySeconds != 1.5 {
		t.Errorf("recovery = %v %+v, want 1.5 (the backlog's)", mr.RecoverySeconds, *mr.Recovery)
	}

	mr = mk(smp(0.5, 0, 0, 0), smp(2.3, 0, 0, 0))
	finishRecovery(mr, sch, 2.44)
	if mr.RecoverySeconds != 2.4 {
		t.Errorf("recovery = %v, want the drain's 2.4", mr.RecoverySeconds)
	}

	mr = mk(smp(0.5, 0, 0, 0), smp(2.3, 0, 0, 0))
	mr.Lost = 1
	finishRecovery(mr, sch, 0)
	if mr.RecoverySeconds != -1 {
		t.Errorf("recovery with a lost order = %v, want -1", mr.RecoverySeconds)
	}

	mr = mk(smp(0.5, 0, 0, 0), smp(2.3, 2, 0, 0))
	finishRecovery(mr, sch, 0)
	if mr.RecoverySeconds != -1 || mr.Recovery.BacklogSeconds != -1 {
		t.Errorf("recovery with a backlog never drained = %v, want -1", mr.RecoverySeconds)
	}
}

func TestAttachGivesEachSecondItsLastSample(t *testing.T) {
	s := &statsSampler{series: map[string][]StatsSample{
		ModeAsync: {smp(0.2, 1, 0, 0), smp(0.9, 2, 0, 0), smp(1.4, 3, 0, 0), {At: 2.1, OrderErr: "refused"}, smp(4.5, 9, 0, 0)},
		ModeSync:  {smp(0.9, 1, 0, 0)},
	}}
	lagOf := func(at float64, inv, ord int64) LagSample {
		return LagSample{At: at, Groups: []lag.Group{{Group: "inv", Lag: inv}, {Group: "ord", Lag: ord}}}
	}
	cl := &ConsumerLag{ModeGroups: map[string][]string{ModeAsync: {"inv", "ord"}},
		Samples: []LagSample{lagOf(0.5, 1, 2), lagOf(1.5, 7, -1), lagOf(2.5, 0, 0)}}
	async := &ModeResult{Timeline: make([]Second, 3)}
	s.attach(ModeAsync, async, cl)
	if len(async.Stats) != 5 {
		t.Fatalf("stats series has %d samples, want all 5 (beyond the timeline too)", len(async.Stats))
	}
	if got := async.Timeline[0].Stats; got == nil || got.At != 0.9 || *async.Timeline[0].Backlog != 2 {
		t.Errorf("second 0: stats %+v, want the sample at 0.9 (backlog 2)", got)
	}
	if *async.Timeline[2].Backlog != -1 {
		t.Errorf("second 2: backlog %d, want -1 for a failed read", *async.Timeline[2].Backlog)
	}
	// Each sample has the broker lag of the last reading at or before it:
	// none yet (unknown), 1+2 twice, unknown (a group unknown), then 0.
	for i, want := range []int64{-1, 3, 3, -1, 0} {
		if got := async.Stats[i].BrokerLag; got != want {
			t.Errorf("sample at %.1f s: broker lag %d, want %d", async.Stats[i].At, got, want)
		}
	}
	sync := &ModeResult{Timeline: make([]Second, 3)}
	s.attach(ModeSync, sync, cl)
	if sync.Stats[0].BrokerLag != 0 {
		t.Errorf("sync has no consumer group: broker lag %d, want 0", sync.Stats[0].BrokerLag)
	}
	if sync.Timeline[0].Stats == nil || sync.Timeline[0].Backlog != nil {
		t.Errorf("sync second 0: stats %v, backlog %v; want stats and no backlog", sync.Timeline[0].Stats, sync.Timeline[0].Backlog)
	}
}

func TestSummarizePerSecondErrorsAndP50(t *testing.T) {
	samples := []sample{
		{sentAt: 100 * time.Millisecond, latency: 2 * time.Millisecond, accepted: true, orderID: "a"},
		{sentAt: 200 * time.Millisecond, latency: 4 * time.Millisecond, accepted: true, orderID: "b"},
		{sentAt: 300 * time.Millisecond, latency: 6 * time.Millisecond, accepted: true, orderID: "c"},
		{sentAt: 1100 * time.Millisecond, latency: 500 * time.Millisecond, class: ClassTimeout},
		{sentAt: 1200 * time.Millisecond, latency: time.Millisecond, class: Class5xx},
		{sentAt: 1300 * time.Millisecond, latency: time.Millisecond, class: Class5xx},
	}
	mr := summarize(samples, Schedule{FaultStart: 1, FaultEnd: 2}, 3*time.Second)
	if p := mr.Timeline[0].P50Ms; p < 3.9 || p > 4.1 {
		t.Errorf("second 0 p50 = %v, want ~4 ms", p)
	}
	if mr.Timeline[0].Errors != nil {
		t.Errorf("second 0 errors = %v, want none", mr.Timeline[0].Errors)
	}
	if e := mr.Timeline[1].Errors; e[ClassTimeout] != 1 || e[Class5xx] != 2 {
		t.Errorf("second 1 errors = %v, want timeout=1 5xx=2", e)
	}
}

func TestStatsSampleBacklogAndLag(t *testing.T) {
	s := StatsSample{Orders: map[string]int{"PENDING": 2, "CONFIRMED": 9}, OutboxBacklog: 3, BrokerLag: 5}
	if s.Backlog() != 5 || s.Lag() != 5 {
		t.Errorf("backlog %d lag %d, want 5 and 5", s.Backlog(), s.Lag())
	}
	if u := (StatsSample{BrokerLag: -1}); u.Lag() != -1 {
		t.Errorf("unknown broker lag: Lag() = %d, want -1", u.Lag())
	}
	s.InventoryErr = "timeout"
	if s.Backlog() != 5 || s.Lag() != -1 {
		t.Errorf("with inventory unreadable: backlog %d lag %d, want 5 and -1", s.Backlog(), s.Lag())
	}
}
