package report

import (
	"fmt"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// waterfallView is one trace drawn as a span waterfall: one row per span,
// its bar placed on the trace's time axis.
type waterfallView struct {
	Mode, OrderID, TraceID string
	Ms                     string
	Rows                   []waterfallRow
}

type waterfallRow struct {
	Label       string  // "<service> · <span name>"
	Kind, Class string  // span kind; "error" for a failed span
	Indent      int     // px, by depth in the trace
	Left, Width float64 // percent of the trace's extent
	Ms          string  // the span's duration
	Title       string  // hover: times, status, error
}

// waterfalls lays out res.Traces (the slowest order per mode during the
// fault).
func waterfalls(res *scenario.Result) []waterfallView {
	var out []waterfallView
	for _, w := range res.Traces {
		if len(w.Spans) == 0 {
			continue
		}
		start, end := w.Spans[0].Start, w.Spans[0].End
		depth := map[string]int{}
		for _, s := range w.Spans {
			if s.Start.Before(start) {
				start = s.Start
			}
			if s.End.After(end) {
				end = s.End
			}
		}
		total := end.Sub(start).Seconds()
		if total <= 0 {
			total = 1e-9
		}
		v := waterfallView{Mode: w.Mode, OrderID: w.OrderID, TraceID: w.TraceID, Ms: fmt.Sprintf("%.1f", w.Seconds*1000)}
		for _, s := range w.Spans { // ordered by start: a parent comes before its children
			d := 0
			if p, ok := depth[s.ParentSpanID]; ok {
				d = p + 1
			}
			depth[s.SpanID] = d
			row := waterfallRow{
				Label: s.Service + " · " + s.Name, Kind: s.Kind, Indent: 14 * d,
				Left:  100 * s.Start.Sub(start).Seconds() / total,
				Width: max(0.3, 100*s.End.Sub(s.Start).Seconds()/total),
				Ms:    fmt.Sprintf("%.1f", s.DurationMS),
				Title: fmt.Sprintf("%s %s, +%.1f ms, %.1f ms, status %s", s.Kind, s.Name, 1000*s.Start.Sub(start).Seconds(), s.DurationMS, s.Status),
			}
			if s.Status == "error" {
				row.Class, row.Title = "error", row.Title+": "+s.Error
			}
			v.Rows = append(v.Rows, row)
		}
		out = append(out, v)
	}
	return out
}
