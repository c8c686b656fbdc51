package scenario

import (
	"testing"

	"github.com/faultline-harness/faultline/chaos/lag"
)

func TestLagPhasesAndProgress(t *testing.T) {
	sch := Schedule{FaultStart: 2, FaultEnd: 5}
	series := []GroupLagSample{
		{At: 0.5, End: 3, Committed: 0, Lag: 3},
		{At: 1.5, End: 8, Committed: 6, Lag: 2},
		{At: 2.5, End: 12, Committed: 10, Lag: 2}, // a commit in flight lands
		{At: 3.5, End: 20, Committed: 10, Lag: 10},
		{At: 4, Lag: -1, End: -1, Committed: -1, Err: "timeout"},
		{At: 4.5, End: 26, Committed: 10, Lag: 16},
		{At: 5.5, End: 30, Committed: 20, Lag: 10},
		{At: 6.5, End: 33, Committed: 31, Lag: 2},
		{At: 7.5, End: 35, Committed: 35, Lag: 0},
	}
	base, fault, drain := lagPhases(series, sch)
	if base != 3 || fault != 16 || drain != 1.5 {
		t.Errorf("lagPhases = %d, %d, %g; want 3, 16, 1.5", base, fault, drain)
	}
	f := &Fanout{Lag: series}
	committed, produced, ok := f.Progress(sch.FaultStart+1, sch.FaultEnd)
	if !ok || committed != 0 || produced != 6 {
		t.Errorf("Progress during the cut = %d committed, %d produced, %t; want 0, 6, true", committed, produced, ok)
	}
	if _, _, ok := f.Progress(3.9, 4.1); ok {
		t.Error("Progress over one failed sample reported ok")
	}
	if got := f.MaxLag(0, 2); got != 3 {
		t.Errorf("MaxLag(0, 2) = %d, want 3", got)
	}
	if _, _, drain := lagPhases(series[:6], sch); drain != -1 {
		t.Errorf("drain without a sample after the fault = %g, want -1", drain)
	}
}

func TestLagSampleSumsTheGroup(t *testing.T) {
	snap := lag.Snapshot{Groups: []lag.Group{
		{Group: "other", Lag: 99},
		{Group: "notification", Lag: 5, Partitions: []lag.Partition{
			{Topic: "order-placed", Partition: 0, Committed: 10, End: 12, Lag: 2},
			{Topic: "order-placed", Partition: 1, Committed: 7, End: 10, Lag: 3},
		}},
	}}
	if got := lagSample(snap, "notification"); got.End != 22 || got.Committed != 17 || got.Lag != 5 || got.Err != "" {
		t.Errorf("lagSample = %+v, want end 22, committed 17, lag 5", got)
	}
	snap.Groups[1].Partitions[1].Committed = lag.Unknown
	if got := lagSample(snap, "notification"); got.Lag != -1 || got.Err == "" {
		t.Errorf("lagSample with an unknown offset = %+v, want -1 with a reason", got)
	}
	if got := lagSample(snap, "missing"); got.Lag != -1 || got.Err == "" {
		t.Errorf("lagSample of a group not read = %+v, want -1 with a reason", got)
	}
}
