package scenario

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Where the consistency window's figures come from.
const (
	WindowSourceStore = "order-service's own timestamps (GET /orders/{id}: created_at, when the order was stored and acknowledged with 202, to updated_at, when it reached its final state; its SQLite store)"
	WindowSourceFinal = "0 by construction: the acknowledgement (201) is the final state"
)

// finalOnAck lists the modes whose acknowledgement is the order's final
// state: a sync 201 (or 409, 503) answers after inventory did, so the
// caller never sees a PENDING order.
var finalOnAck = map[string]bool{ModeSync: true}

// ConsistencyWindow is how long accepted orders stayed unresolved: for
// each order the API acknowledged, the time from the acknowledgement to
// its final state (CONFIRMED, REJECTED or FAILED), in milliseconds from an
// HdrHistogram (3 significant digits). Orders are grouped by when they
// were sent: per phase and per second of the load.
type ConsistencyWindow struct {
	Source string `json:"source"`
	// Final is the accepted orders whose window was measured (final by
	// the end of the settle time); Unresolved those still PENDING or
	// unknown then (no window: see ModeResult.Lost).
	Final      int `json:"final"`
	Unresolved int `json:"unresolved"`
	// Phases by phase name; Timeline one entry per second of the load
	// (T), Orders 0 when no accepted order was sent in it.
	Phases   map[string]*WindowStats `json:"phases"`
	Timeline []WindowStats           `json:"timeline"`
	// BeforeFault is the steady state's window: the baseline phase's
	// orders, each counted only until the fault started (an order still
	// unresolved then counts the time it had waited, FaultStart - sent).
	// Phases[baseline] keeps the whole windows; an order sent in the
	// baseline's last milliseconds that the fault then held for seconds
	// is evidence about the fault, not about the steady state before it
	// (the steady-state hypothesis "before" reads BeforeFault). nil in
	// results written before it existed.
	BeforeFault *WindowStats `json:"before_fault,omitempty"`
}

// WindowStats summarises the windows of a set of orders; all zero when
// Orders is 0.
type WindowStats struct {
	T      int     `json:"t,omitempty"` // second since the load started (Timeline only)
	Orders int     `json:"orders"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// isFinal reports whether an order status is final.
func isFinal(status string) bool {
	return status == "CONFIRMED" || status == "REJECTED" || status == "FAILED"
}

// consistencyWindow computes mode's window from the accepted samples and
// their fates (same order), over secs seconds of load.
func consistencyWindow(mode string, acc []sample, fates []fate, sch Schedule, secs int) *ConsistencyWindow {
	w := &ConsistencyWindow{Source: WindowSourceStore, Phases: map[string]*WindowStats{}, Timeline: make([]WindowStats, secs)}
	if finalOnAck[mode] {
		w.Source = WindowSourceFinal
	}
	hists := map[string]*hdrhistogram.Histogram{}
	for _, ph := range Phases {
		hists[ph] = newHist()
	}
	steady := newHist()
	secHists := make([]*hdrhistogram.Histogram, secs)
	for i := range secHists {
		secHists[i] = newHist()
		w.Timeline[i].T = i
	}
	for i, s := range acc {
		f := fates[i]
		var d time.Duration
		switch {
		case finalOnAck[mode]:
			d = 0
		case isFinal(f.status):
			d = max(0, f.updatedAt.Sub(f.createdAt))
		default:
			w.Unresolved++
			continue
		}
		w.Final++
		v := max(1, d.Microseconds()) // the histogram's floor is 1 µs: 0 reads back as 0.00 ms
		ph := phaseAt(s.sentAt, sch)
		_ = hists[ph].RecordValue(v)
		if ph == PhaseBaseline {
			c := v
			if left := time.Duration(sch.FaultStart*float64(time.Second)) - s.sentAt; d > left {
				c = max(1, left.Microseconds())
			}
			_ = steady.RecordValue(c)
		}
		if t := int(s.sentAt.Seconds()); t >= 0 && t < secs {
			_ = secHists[t].RecordValue(v)
		}
	}
	for _, ph := range Phases {
		w.Phases[ph] = windowStats(hists[ph])
	}
	w.BeforeFault = windowStats(steady)
	for i, h := range secHists {
		ws := windowStats(h)
		ws.T = i
		w.Timeline[i] = *ws
	}
	return w
}

func windowStats(h *hdrhistogram.Histogram) *WindowStats {
	if h.TotalCount() == 0 {
		return &WindowStats{}
	}
	return &WindowStats{Orders: int(h.TotalCount()), P50Ms: ms(h.ValueAtQuantile(50)), P99Ms: ms(h.ValueAtQuantile(99)), MaxMs: ms(h.Max())}
}

// writeWindow prints the consistency window per phase and mode.
func (r *Result) writeWindow(w io.Writer) {
	any := false
	for _, m := range Modes {
		if mr := r.Modes[m]; mr != nil && mr.Window != nil {
			any = true
		}
	}
	if !any {
		return
	}
	fmt.Fprintln(w, "\nconsistency window: acknowledgement -> final state (CONFIRMED/REJECTED/FAILED), from order-service's created_at/updated_at; sync is 0 by construction")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tmode\torders\tp50 ms\tp99 ms\tmax ms\t")
	for _, ph := range Phases {
		for _, m := range Modes {
			mr := r.Modes[m]
			if mr == nil || mr.Window == nil {
				continue
			}
			s := mr.Window.Phases[ph]
			if s == nil {
				s = &WindowStats{}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t\n", ph, m, s.Orders, WindowMs(s.P50Ms, s.Orders), WindowMs(s.P99Ms, s.Orders), WindowMs(s.MaxMs, s.Orders))
		}
	}
	tw.Flush()
	for _, m := range Modes {
		if mr := r.Modes[m]; mr != nil && mr.Window != nil && mr.Window.Unresolved > 0 {
			fmt.Fprintf(w, "%s: %d accepted orders not final by the end of the settle time (no window)\n", m, mr.Window.Unresolved)
		}
	}
}

// WindowMs formats a window figure: "0" for a window of zero (sync's, by
// construction), "-" when no order was measured.
func WindowMs(v float64, orders int) string {
	switch {
	case orders == 0:
		return "-"
	case v < 0.01:
		return "0"
	}
	return fmt.Sprintf("%.1f", math.Round(v*10)/10)
}
