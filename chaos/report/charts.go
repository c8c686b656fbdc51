package report

import (
	"fmt"
	"html/template"
	"math"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// Colours: one per mode, everywhere in a report.
var modeColor = map[string]string{scenario.ModeSync: "#e8590c", scenario.ModeAsync: "#1c7ed6", scenario.ModeHybrid: "#2f9e44"}

const faultShade = "rgba(224, 49, 49, 0.10)"

// chart is one rendered chart: go-echarts' element and script, without
// any asset reference (the page inlines echarts.min.js once).
type chart struct {
	ID      string
	Element template.HTML
	Script  template.HTML
}

func snippet(id string, r render.Renderer) chart {
	s := r.RenderSnippet()
	return chart{ID: id, Element: template.HTML(s.Element), Script: template.HTML(s.Script)}
}

// timeAxis is shared by a scenario's charts so that they line up.
type timeAxis struct {
	max                  float64 // seconds
	faultStart, faultEnd float64
	loadEnd              float64
}

func axisOf(res *scenario.Result) timeAxis {
	ax := timeAxis{max: res.Schedule.DurationSeconds, faultStart: res.Schedule.FaultStart, faultEnd: res.Schedule.FaultEnd}
	ax.loadEnd = res.Schedule.DurationSeconds
	if !res.Schedule.LoadEndedAt.IsZero() {
		ax.loadEnd = res.Schedule.LoadEndedAt.Sub(res.StartedAt).Seconds()
	}
	for _, mr := range res.Modes {
		for _, s := range mr.Stats {
			ax.max = math.Max(ax.max, s.At)
		}
	}
	step := 1.0 // a round end, so the last tick label does not crowd the one before
	switch {
	case ax.max > 30:
		step = 5
	case ax.max > 10:
		step = 2
	}
	ax.max = math.Ceil(ax.max/step) * step
	return ax
}

func (ax timeAxis) global(id, title, subtitle, yName string, yAxis opts.YAxis, height string) []charts.GlobalOpts {
	yAxis.Name = yName
	if yAxis.SplitLine == nil {
		yAxis.SplitLine = &opts.SplitLine{Show: opts.Bool(true), LineStyle: &opts.LineStyle{Color: "#eceff3"}}
	}
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: "100%", Height: height, BackgroundColor: "#ffffff"}),
		charts.WithAnimation(false),
		charts.WithTitleOpts(opts.Title{Title: title, Subtitle: subtitle, Left: "8",
			TitleStyle:    &opts.TextStyle{FontSize: 15, Color: "#1f2933"},
			SubtitleStyle: &opts.TextStyle{FontSize: 11, Color: "#6b7785"}}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "46", Left: "8", ItemWidth: 18, ItemHeight: 10}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithGridOpts(opts.Grid{Left: "56", Right: "24", Top: "96", Bottom: "44"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "s since the load started", NameLocation: "middle", NameGap: 26,
			Min: 0, Max: ax.max, SplitLine: &opts.SplitLine{Show: opts.Bool(false)}}),
		charts.WithYAxisOpts(yAxis),
	}
}

// faultArea shades the fault window; markers adds the end of the load.
func (ax timeAxis) faultArea() charts.SeriesOpts {
	return charts.WithMarkAreaData([]opts.MarkAreaData{
		{Name: "fault", XAxis: round3(ax.faultStart), MarkAreaStyle: opts.MarkAreaStyle{
			ItemStyle: &opts.ItemStyle{Color: faultShade},
			Label:     &opts.Label{Show: opts.Bool(true), Color: "#c92a2a", Position: "insideTop", FontWeight: "bold"},
		}},
		{XAxis: round3(ax.faultEnd)},
	})
}

func (ax timeAxis) loadEndLine() []charts.SeriesOpts {
	return []charts.SeriesOpts{
		charts.WithMarkLineNameXAxisItemOpts(opts.MarkLineNameXAxisItem{Name: "load ends", XAxis: round3(ax.loadEnd)}),
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
			Label:     &opts.Label{Show: opts.Bool(true), Formatter: "{b}", Color: "#495057"},
			LineStyle: &opts.LineStyle{Color: "#868e96", Type: "dashed", Width: 1}}),
	}
}

func lineStyle(color string, width float32, dashed bool) []charts.SeriesOpts {
	t := "solid"
	if dashed {
		t = "dashed"
	}
	return []charts.SeriesOpts{
		charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), Symbol: "circle", SymbolSize: 5}),
		charts.WithLineStyleOpts(opts.LineStyle{Color: color, Width: width, Type: t}),
		charts.WithItemStyleOpts(opts.ItemStyle{Color: color}),
	}
}

func point(x, y float64) opts.LineData { return opts.LineData{Value: []any{round3(x), round3(y)}} }

// successChart: each mode's per-second success rate.
func successChart(id string, res *scenario.Result, ax timeAxis) chart {
	c := charts.NewLine()
	c.SetGlobalOptions(ax.global(id, "Success rate per second", "share of the requests sent in each second that succeeded (201 sync, 202 async)", "%",
		opts.YAxis{Type: "value", Min: 0, Max: 100}, "360px")...)
	for i, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil {
			continue
		}
		var data []opts.LineData
		for _, s := range mr.Timeline {
			if s.Requests > 0 {
				data = append(data, point(float64(s.T)+0.5, 100*float64(s.Successes)/float64(s.Requests)))
			}
		}
		so := lineStyle(modeColor[m], 2.5, false)
		if i == 0 {
			so = append(so, ax.faultArea())
		}
		c.AddSeries(m, data, so...)
	}
	return snippet(id, c)
}

// latencyChart: each mode's per-second p99 (and p50, dashed), log scale.
func latencyChart(id string, res *scenario.Result, ax timeAxis) chart {
	c := charts.NewLine()
	c.SetGlobalOptions(ax.global(id, "Latency per second", "p99 (solid) and p50 (dashed) of the requests sent in each second, HdrHistogram; log scale", "ms",
		opts.YAxis{Type: "log"}, "360px")...)
	for i, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil {
			continue
		}
		var p99, p50 []opts.LineData
		for _, s := range mr.Timeline {
			if s.Requests > 0 && s.P99Ms > 0 {
				p99 = append(p99, point(float64(s.T)+0.5, s.P99Ms))
				p50 = append(p50, point(float64(s.T)+0.5, math.Max(s.P50Ms, 0.01)))
			}
		}
		so := lineStyle(modeColor[m], 2.5, false)
		if i == 0 {
			so = append(so, ax.faultArea())
		}
		c.AddSeries(m+" p99", p99, so...)
		c.AddSeries(m+" p50", p50, lineStyle(modeColor[m], 1.2, true)...)
	}
	return snippet(id, c)
}

// backlogChart: the async path's state from /stats, and the consumer lag
// of every group at the broker, through the settle.
func backlogChart(id string, res *scenario.Result, ax timeAxis) chart {
	c := charts.NewLine()
	c.SetGlobalOptions(ax.global(id, "Async backlog and consumer lag",
		"pending orders, outbox rows: order-service /stats; lag (dashed): committed vs log-end offset at the broker, 1/s, gap = unknown",
		"orders / records", opts.YAxis{Type: "value", MinInterval: 1}, "360px")...)
	mr := res.Modes[scenario.ModeAsync]
	if mr == nil {
		return snippet(id, c)
	}
	type series struct {
		name  string
		color string
		get   func(scenario.StatsSample) float64
	}
	all := []series{
		{"pending orders", "#1c7ed6", func(s scenario.StatsSample) float64 { return float64(s.Orders["PENDING"]) }},
		{"outbox rows", "#7048e8", func(s scenario.StatsSample) float64 { return float64(s.OutboxBacklog) }},
	}
	for i, sr := range all {
		var data []opts.LineData
		for _, s := range mr.Stats {
			if s.OrderErr == "" {
				data = append(data, point(s.At, sr.get(s)))
			}
		}
		so := lineStyle(sr.color, 2, false)
		if i == 0 {
			so = append(so, ax.faultArea())
			so = append(so, ax.loadEndLine()...)
			so = append(so, charts.WithAreaStyleOpts(opts.AreaStyle{Color: sr.color, Opacity: opts.Float(0.12)}))
		}
		c.AddSeries(sr.name, data, so...)
	}
	if cl := res.ConsumerLag; cl != nil {
		colors := []string{"#2f9e44", "#f08c00", "#c2255c", "#0c8599"}
		for i, g := range cl.GroupsByLabel() {
			var data []opts.LineData
			for _, s := range cl.Samples {
				if l := s.Of(g); l >= 0 {
					data = append(data, point(s.At, float64(l)))
				} else {
					data = append(data, opts.LineData{Value: []any{round3(s.At), "-"}}) // a gap: unknown
				}
			}
			c.AddSeries(cl.Labels[g]+" lag", data, lineStyle(colors[i%len(colors)], 2, true)...)
		}
	}
	return snippet(id, c)
}

// windowChart: each mode's consistency window per second of sending: p99
// (solid) and p50 (dashed) of acknowledgement to final state, in seconds.
// Sync's is 0 by construction and drawn as such.
func windowChart(id string, res *scenario.Result, ax timeAxis) chart {
	c := charts.NewLine()
	c.SetGlobalOptions(ax.global(id, "Consistency window per second",
		"acknowledgement → final state of the orders sent each second (order-service created_at → updated_at); p99 solid, p50 dashed; sync 0: a 201 is final",
		"s", opts.YAxis{Type: "value", Min: 0}, "360px")...)
	first := true
	for _, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil || mr.Window == nil {
			continue
		}
		var p99, p50 []opts.LineData
		for _, s := range mr.Window.Timeline {
			if s.Orders > 0 {
				p99 = append(p99, point(float64(s.T)+0.5, s.P99Ms/1000))
				p50 = append(p50, point(float64(s.T)+0.5, s.P50Ms/1000))
			}
		}
		so := lineStyle(modeColor[m], 2.5, false)
		if first {
			so = append(so, ax.faultArea())
			first = false
		}
		c.AddSeries(m+" p99", p99, so...)
		c.AddSeries(m+" p50", p50, lineStyle(modeColor[m], 1.2, true)...)
	}
	if first { // no window measured: an empty series still shows the fault window
		c.AddSeries("no window measured", nil, ax.faultArea())
	}
	return snippet(id, c)
}

// errorChart: failed requests per second by class, one stack per mode.
func errorChart(id string, res *scenario.Result, ax timeAxis) chart {
	c := charts.NewBar()
	c.SetGlobalOptions(ax.global(id, "Errors per second by class", "failed requests among those sent in each second; one stack per mode", "requests",
		opts.YAxis{Type: "value", MinInterval: 1}, "360px")...)
	shades := map[string][]string{
		scenario.ModeSync:   {"#e8590c", "#fd7e14", "#ffa94d", "#c92a2a", "#f783ac", "#845ef7", "#868e96"},
		scenario.ModeAsync:  {"#1864ab", "#1c7ed6", "#4dabf7", "#0b7285", "#66d9e8", "#5f3dc4", "#adb5bd"},
		scenario.ModeHybrid: {"#2b8a3e", "#2f9e44", "#69db7c", "#5c940d", "#94d82d", "#087f5b", "#ced4da"},
	}
	first := true
	for _, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil {
			continue
		}
		for ci, class := range errorClasses {
			var data []opts.BarData
			total := 0
			for _, s := range mr.Timeline {
				if n := s.Errors[class]; n > 0 {
					data = append(data, opts.BarData{Value: []any{float64(s.T) + 0.5, n}})
					total += n
				}
			}
			if total == 0 {
				continue
			}
			so := []charts.SeriesOpts{
				charts.WithBarChartOpts(opts.BarChart{Stack: m, BarWidth: "30%"}),
				charts.WithItemStyleOpts(opts.ItemStyle{Color: shades[m][ci]}),
			}
			if first {
				so = append(so, ax.faultArea())
				first = false
			}
			c.AddSeries(fmt.Sprintf("%s %s", m, class), data, so...)
		}
	}
	if first { // no errors at all: an empty series still shows the fault window
		c.AddSeries("no errors", nil, ax.faultArea())
	}
	return snippet(id, c)
}
