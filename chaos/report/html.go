package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

//go:embed page.html.tmpl
var pageTemplate string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct":  func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"ms":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"num":  func(v float64) string { return trimFloat(round3(v)) },
	"secs": recoveryCell,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	},
	"value": probeValue,
	"tol": func(tolerance string) string { // "p99_ms < 250 ms" -> "< 250 ms": the probe names the metric
		if f := strings.SplitN(tolerance, " ", 2); len(f) == 2 {
			return strings.NewReplacer(">=", "≥", "<=", "≤", "==", "=").Replace(f[1])
		}
		return tolerance
	},
	"mark": func(p ProbeResult) string {
		switch p.Verdict {
		case VerdictPass:
			return "✓ pass"
		case VerdictFail:
			return "✗ fail"
		}
		return p.Verdict
	},
	"wms": scenario.WindowMs,
	"errs": func(m map[string]int) string {
		if s := errorList(m); s != "" {
			return s
		}
		return "-"
	},
}).Parse(pageTemplate))

// Source is one journal to render, with where it was read from (shown in
// the report; may be empty).
type Source struct {
	Journal *Journal
	Path    string
}

type page struct {
	Title          string
	Generated      string
	EChartsVersion string
	EChartsJS      template.JS
	Sections       []section
	ChartCount     int
}

type section struct {
	Anchor   string
	J        *Journal
	Res      *scenario.Result
	Path     string
	Charts   []chart
	KPIs     []kpi
	Steady   []steadyRow
	Modes    []modeRow
	Phases   []phaseRow
	Failed   bool
	Deviated bool
	// Interrupted: stopped before the end; partial charts, no verdict.
	Interrupted bool
	// Traces: the span waterfall of each mode's slowest order during the
	// fault (Result.Traces).
	Traces []waterfallView
}

type kpi struct {
	Label, Value, Note, Class string
}

type steadyRow struct {
	Probe, Tolerance      string
	Before, During, After ProbeResult
}

type modeRow struct {
	Mode  string
	Color string
	M     *scenario.ModeResult
}

type phaseRow struct {
	Phase, Mode string
	Color       string
	P           *scenario.PhaseResult
	W           *scenario.WindowStats // the consistency window; nil when not measured
}

// WriteHTML renders the journals as one self-contained page: every chart
// library byte is inlined, nothing is fetched (a Content-Security-Policy
// forbids it), so the file opens offline.
func WriteHTML(w io.Writer, sources ...Source) error {
	p := page{
		Generated:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		EChartsVersion: EChartsVersion,
		EChartsJS:      template.JS(strings.ReplaceAll(echartsJS, "</script", `<\/script`)),
	}
	var names []string
	for i, src := range sources {
		s := newSection(i, src)
		p.ChartCount += len(s.Charts)
		p.Sections = append(p.Sections, s)
		names = append(names, src.Journal.Experiment.Scenario)
	}
	p.Title = "faultline: " + strings.Join(names, ", ")
	return pageTmpl.Execute(w, p)
}

// WriteHTMLFile renders the journals into path, creating its directory.
func WriteHTMLFile(path string, sources ...Source) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create report dir: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	if err := WriteHTML(f, sources...); err != nil {
		f.Close()
		return fmt.Errorf("render report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func newSection(i int, src Source) section {
	j := src.Journal
	s := section{Anchor: fmt.Sprintf("s%d-%s", i, unsafeName.ReplaceAllString(j.Experiment.Scenario, "_")), J: j, Path: src.Path,
		Res: j.Measurements, Failed: j.Status == StatusFailed || j.Measurements == nil, Deviated: j.Deviated,
		Interrupted: j.Status == StatusInterrupted}
	if s.Failed {
		return s
	}
	res := j.Measurements
	ax := axisOf(res)
	id := func(name string) string { return fmt.Sprintf("s%d_%s", i, name) }
	s.Charts = []chart{
		successChart(id("success"), res, ax),
		latencyChart(id("latency"), res, ax),
		windowChart(id("window"), res, ax),
		backlogChart(id("backlog"), res, ax),
		errorChart(id("errors"), res, ax),
	}
	if !s.Interrupted { // no accounting: recovery, lost and duplicated are unknown
		s.KPIs = kpis(res)
	}
	s.Traces = waterfalls(res)
	for k, p := range j.SteadyStates.Before.Probes {
		row := steadyRow{Probe: p.Probe, Tolerance: p.Tolerance, Before: p}
		if k < len(j.SteadyStates.During.Probes) {
			row.During = j.SteadyStates.During.Probes[k]
		}
		if k < len(j.SteadyStates.After.Probes) {
			row.After = j.SteadyStates.After.Probes[k]
		}
		s.Steady = append(s.Steady, row)
	}
	for _, m := range scenario.Modes {
		if mr := res.Modes[m]; mr != nil {
			s.Modes = append(s.Modes, modeRow{Mode: m, Color: modeColor[m], M: mr})
		}
	}
	for _, ph := range scenario.Phases {
		for _, m := range scenario.Modes {
			if mr := res.Modes[m]; mr != nil && mr.Phases[ph] != nil {
				row := phaseRow{Phase: ph, Mode: m, Color: modeColor[m], P: mr.Phases[ph]}
				if mr.Window != nil {
					row.W = mr.Window.Phases[ph]
				}
				s.Phases = append(s.Phases, row)
			}
		}
	}
	return s
}

// kpis are the headline numbers: each mode's success during the fault,
// the async backlog's peak and each mode's recovery.
func kpis(res *scenario.Result) []kpi {
	var out []kpi
	for _, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil || mr.Phases[scenario.PhaseFault] == nil {
			continue
		}
		f := mr.Phases[scenario.PhaseFault]
		class := "good"
		switch {
		case f.SuccessRate < 0.5:
			class = "bad"
		case f.SuccessRate < 0.95:
			class = "warn"
		}
		out = append(out, kpi{Label: m + " success during the fault", Value: fmt.Sprintf("%.0f%%", 100*f.SuccessRate),
			Note: fmt.Sprintf("%d/%d requests, p99 %.0f ms", f.Successes, f.Requests, f.P99Ms), Class: class + " " + m})
	}
	if mr := res.Modes[scenario.ModeAsync]; mr != nil {
		peak, at := 0, 0.0
		for _, s := range mr.Stats {
			if b := s.Backlog(); b > peak {
				peak, at = b, s.At
			}
		}
		out = append(out, kpi{Label: "async backlog peak", Value: fmt.Sprint(peak), Note: fmt.Sprintf("pending + outbox at %.1f s", at), Class: "neutral async"})
		if w := mr.Window; w != nil && w.Phases[scenario.PhaseFault] != nil && w.Phases[scenario.PhaseFault].Orders > 0 {
			f := w.Phases[scenario.PhaseFault]
			out = append(out, kpi{Label: "async consistency window during the fault", Value: fmt.Sprintf("%.1f s", f.P99Ms/1000),
				Note: fmt.Sprintf("p99 of %d orders, p50 %.1f s, max %.1f s (sync: 0)", f.Orders, f.P50Ms/1000, f.MaxMs/1000), Class: "neutral async"})
		}
	}
	for _, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil {
			continue
		}
		class, note := "good", fmt.Sprintf("accepted %d, lost %d, duplicated %d, promises broken %d, parked %d, dead-lettered %d",
			mr.Accepted, mr.Lost, mr.DuplicatedEffects, mr.PromisesBroken, mr.Parked, mr.DeadLettered)
		if mr.RecoverySeconds < 0 || mr.Lost > 0 || mr.DuplicatedEffects > 0 || mr.Parked > 0 || mr.DeadLettered > 0 {
			class = "bad"
		}
		out = append(out, kpi{Label: m + " time to recover", Value: recoveryCell(mr.RecoverySeconds), Note: note, Class: class + " " + m})
	}
	return out
}

// probeValue formats a probe's value for its metric.
func probeValue(p ProbeResult) string {
	metric := p.Metric
	if f := strings.Fields(p.Tolerance); metric == "" && len(f) > 0 {
		metric = f[0]
	}
	switch metric {
	case MetricSuccessRate:
		return fmt.Sprintf("%.1f%%", 100*p.Value)
	case MetricP99, MetricWindowP99:
		return fmt.Sprintf("%.1f ms", p.Value)
	case MetricRecovery:
		return recoveryCell(p.Value)
	}
	return trimFloat(round3(p.Value))
}

func recoveryCell(s float64) string {
	if s < 0 {
		return "not recovered"
	}
	return fmt.Sprintf("%.1f s", s)
}
