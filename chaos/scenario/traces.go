package scenario

import (
	"slices"
	"time"

	"github.com/faultline-harness/faultline/services/telemetry"
)

// Waterfall is one order's trace, as the HTML report draws it: the
// slowest order of a mode among those placed during the fault.
type Waterfall struct {
	Mode    string `json:"mode"`
	OrderID string `json:"order_id"`
	TraceID string `json:"trace_id"`
	// Seconds is the trace's extent: from the first span's start (POST
	// /orders arriving) to the last span's end (the order's final state
	// applied, or the notification recorded).
	Seconds float64 `json:"seconds"`
	// Spans are the trace's spans ordered by start time (telemetry.Span).
	Spans []telemetry.Span `json:"spans"`
}

// slowestTraces picks, per mode, the order whose trace lasted longest
// among the orders placed (POST /orders span started) in [from, to], from
// the spans the stack collected. Modes with no traced order in the window
// are absent. A trace is only as complete as its spans: an order still
// PENDING when the stack stopped has a trace that ends early.
func slowestTraces(spans []telemetry.Span, from, to time.Time) []Waterfall {
	type extent struct {
		mode, order string
		start, end  time.Time
	}
	byTrace := map[string]*extent{}
	for _, s := range spans {
		e := byTrace[s.TraceID]
		if e == nil {
			e = &extent{start: s.Start, end: s.End}
			byTrace[s.TraceID] = e
		}
		e.start, e.end = minTime(e.start, s.Start), maxTime(e.end, s.End)
		if s.Kind == "server" && s.Name == "POST /orders" && s.Service == "order-service" {
			if !s.Start.Before(from) && !s.Start.After(to) {
				e.mode, e.order = s.Attributes["order.mode"], s.Attributes["order.id"]
			}
		}
	}
	best := map[string]string{} // mode -> trace ID
	for id, e := range byTrace {
		if e.mode == "" || e.order == "" {
			continue
		}
		if b, ok := best[e.mode]; !ok || e.end.Sub(e.start) > byTrace[b].end.Sub(byTrace[b].start) {
			best[e.mode] = id
		}
	}
	var out []Waterfall
	for _, mode := range Modes {
		id, ok := best[mode]
		if !ok {
			continue
		}
		e := byTrace[id]
		w := Waterfall{Mode: mode, OrderID: e.order, TraceID: id, Seconds: e.end.Sub(e.start).Seconds()}
		for _, s := range spans {
			if s.TraceID == id {
				w.Spans = append(w.Spans, s)
			}
		}
		slices.SortStableFunc(w.Spans, func(a, b telemetry.Span) int { return a.Start.Compare(b.Start) })
		out = append(out, w)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
