package report

import (
	"fmt"
	"strings"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// Summary is a compact, multi-line account of a run for test reports
// (Ginkgo's AddReportEntry, JUnit) and logs: per mode, each phase's
// success rate and p99, then the accounting and the recovery time.
//
//	inventory-down (embedded lane, 10 req/s per mode, fault 2.0-5.2 s)
//	  sync : baseline 100.0% p99 6.1ms | fault 0.0% p99 12.3ms 5xx=33 | recovery 100.0% p99 9.1ms | accepted 47 lost 0 dup 0 | recovered in 0.8s
//	  async: baseline 100.0% p99 2.7ms | fault 100.0% p99 7.2ms | recovery 100.0% p99 7.7ms | accepted 80 lost 0 dup 0 | recovered in 0.7s
func Summary(res *scenario.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s lane, %d req/s per mode, fault %.1f-%.1f s)", res.Scenario, res.Lane, res.Rate, res.Schedule.FaultStart, res.Schedule.FaultEnd)
	for _, m := range scenario.Modes {
		mr := res.Modes[m]
		if mr == nil {
			continue
		}
		fmt.Fprintf(&b, "\n  %-5s:", m)
		for i, ph := range scenario.Phases {
			p := mr.Phases[ph]
			if p == nil {
				continue
			}
			if i > 0 {
				b.WriteString(" |")
			}
			fmt.Fprintf(&b, " %s %.1f%% p99 %.1fms", ph, 100*p.SuccessRate, p.P99Ms)
			if e := errorList(p.Errors); e != "" {
				b.WriteString(" " + e)
			}
		}
		fmt.Fprintf(&b, " | accepted %d lost %d dup %d parked %d dead-lettered %d | %s", mr.Accepted, mr.Lost, mr.DuplicatedEffects, mr.Parked, mr.DeadLettered, recoveryText(mr.RecoverySeconds))
	}
	return b.String()
}

// SummaryOf is Summary plus the journal's verdict.
func SummaryOf(j *Journal) string {
	if j.Measurements == nil {
		return j.Experiment.Scenario + ": " + j.Verdict
	}
	return Summary(j.Measurements) + "\n  verdict: " + j.Verdict
}

func recoveryText(s float64) string {
	if s < 0 {
		return "not recovered"
	}
	return fmt.Sprintf("recovered in %.1fs", s)
}

// errorClasses in display order (the engine's classes).
var errorClasses = []string{
	scenario.ClassTimeout, scenario.ClassRefused, scenario.ClassReset,
	scenario.Class5xx, scenario.Class4xx, scenario.ClassShed, scenario.ClassOther,
}

func errorList(errs map[string]int) string {
	var parts []string
	for _, c := range errorClasses {
		if n := errs[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", c, n))
		}
	}
	return strings.Join(parts, " ")
}
