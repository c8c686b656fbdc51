package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRecoverySeconds(t *testing.T) {
	sec := func(req, ok int) Second { return Second{Requests: req, Successes: ok} }
	tests := []struct {
		name     string
		tl       []Second
		faultEnd float64
		want     float64
	}{
		{"recovered in the second holding the fault's end", []Second{sec(10, 10), sec(10, 0), sec(10, 10), sec(10, 10)}, 2.3, 0},
		{"one bad second after the end", []Second{sec(10, 10), sec(10, 0), sec(10, 2), sec(10, 10)}, 2.3, 0.7},
		{"never recovered", []Second{sec(10, 10), sec(10, 0), sec(10, 10), sec(10, 0)}, 1.5, -1},
		{"empty seconds are skipped", []Second{sec(10, 10), sec(10, 0), sec(0, 0), sec(10, 10)}, 2.0, 0},
		{"within tolerance counts as recovered", []Second{sec(100, 100), sec(100, 0), sec(100, 96)}, 2.0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recoverySeconds(tt.tl, 1.0, tt.faultEnd)
			if fmt.Sprintf("%.2f", got) != fmt.Sprintf("%.2f", tt.want) {
				t.Fatalf("recoverySeconds = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSummarizeAssignsPhasesBySendTime(t *testing.T) {
	sch := Schedule{FaultStart: 2, FaultEnd: 4}
	ok := func(at, lat time.Duration) sample {
		return sample{sentAt: at, latency: lat, accepted: true, orderID: "x"}
	}
	fail := func(at time.Duration, class string) sample {
		return sample{sentAt: at, latency: 500 * time.Millisecond, class: class}
	}
	samples := []sample{
		ok(500*time.Millisecond, 2*time.Millisecond), ok(1500*time.Millisecond, 4*time.Millisecond),
		fail(2100*time.Millisecond, Class5xx), fail(3900*time.Millisecond, ClassTimeout), fail(3950*time.Millisecond, ClassShed),
		ok(4100*time.Millisecond, 3*time.Millisecond),
	}
	mr := summarize(samples, sch, 5*time.Second)
	b, f, r := mr.Phases[PhaseBaseline], mr.Phases[PhaseFault], mr.Phases[PhaseRecovery]
	if b.Requests != 2 || b.SuccessRate != 1 {
		t.Errorf("baseline = %+v, want 2 requests all ok", b)
	}
	if f.Requests != 3 || f.Successes != 0 || f.Errors[Class5xx] != 1 || f.Errors[ClassTimeout] != 1 || f.Errors[ClassShed] != 1 {
		t.Errorf("fault = %+v, want 3 failures (5xx, timeout, shed)", f)
	}
	if f.P50Ms < 499 || f.P50Ms > 501 {
		t.Errorf("fault p50 = %vms, want ~500 (shed requests have no latency)", f.P50Ms)
	}
	if r.Requests != 1 || r.Successes != 1 {
		t.Errorf("recovery = %+v, want 1 ok", r)
	}
	if b.P99Ms < 3.9 || b.P99Ms > 4.1 {
		t.Errorf("baseline p99 = %vms, want ~4", b.P99Ms)
	}
	if got := mr.Timeline[2].Requests; got != 1 {
		t.Errorf("timeline second 2 requests = %d, want 1", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	var _ net.Error = timeoutErr{}
	tests := map[string]error{
		ClassTimeout: fmt.Errorf("post: %w", context.DeadlineExceeded),
		ClassRefused: &net.OpError{Op: "dial", Err: &net.OpError{Err: syscall.ECONNREFUSED}},
		ClassReset:   fmt.Errorf("read: %w", syscall.ECONNRESET),
		ClassOther:   errors.New("something else"),
	}
	for want, err := range tests {
		if got := classify(err); got != want {
			t.Errorf("classify(%v) = %s, want %s", err, got, want)
		}
	}
	if got := classify(&net.OpError{Op: "read", Err: timeoutErr{}}); got != ClassTimeout {
		t.Errorf("net timeout classified %s", got)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := (Options{Duration: time.Second}).withDefaults(); err == nil {
		t.Error("1s duration accepted")
	}
	if _, err := (Options{Rate: 5000}).withDefaults(); err == nil {
		t.Error("rate 5000 accepted")
	}
	o, err := Options{}.withDefaults()
	if err != nil || o.Duration != 20*time.Second || o.Rate != 20 {
		t.Errorf("defaults = %+v, %v", o, err)
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"inventory-latency", "inventory-down", "kafka-down"} {
		if _, err := Lookup(name); err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("unknown scenario found")
	}
}
