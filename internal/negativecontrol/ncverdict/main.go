// Command ncverdict judges a `make negative-controls` run: for each
// neutralisation it reads the Ginkgo JSON report of the chaos specs
// labelled "nc-<name>" that ran with it active, and checks that every one
// of them went red, and for a reason of its own (an assertion of the
// spec: that its fault took effect, or its judgement of the system), not
// because the harness itself failed. A neutralisation that left a spec
// green, or that selected no spec at all, fails the verdict.
//
//	ncverdict DIR NAME...    reads DIR/NAME.json for each NAME, prints a table, exits 1 on any failure
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: ncverdict DIR NAME...")
		os.Exit(2)
	}
	ok, err := run(os.Stdout, os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ncverdict:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// harnessFailures are failure messages that say the harness failed, not
// the spec's check: such a red proves nothing about the neutralisation.
var harnessFailures = []string{"the harness itself failed", "start the stack"}

// row is one spec's outcome under one neutralisation.
type row struct {
	control, spec, state, why string
	ok                        bool
}

// judge returns one row per spec that ran (skipped specs are not
// counted), or a single failing row when none ran.
func judge(control string, reports []types.Report) []row {
	var rows []row
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || s.State == types.SpecStateSkipped || s.State == types.SpecStatePending {
				continue
			}
			rw := row{control: control, spec: s.LeafNodeText, state: s.State.String()}
			msg := firstLine(s.Failure.Message)
			if loc := s.Failure.Location; loc.FileName != "" {
				msg = fmt.Sprintf("%s:%d: %s", filepath.Base(loc.FileName), loc.LineNumber, msg)
			}
			switch {
			case s.State == types.SpecStatePassed:
				rw.why = "stayed green: the neutralisation went unnoticed"
			case s.State.Is(types.SpecStateFailureStates) && harnessFailed(s.Failure.Message):
				rw.why = "red for the wrong reason (harness failure): " + msg
			case s.State.Is(types.SpecStateFailureStates):
				rw.ok, rw.why = true, msg
			default:
				rw.why = "neither green nor red: " + s.State.String()
			}
			rows = append(rows, rw)
		}
	}
	if len(rows) == 0 {
		rows = append(rows, row{control: control, spec: "(none)", state: "-", why: "no spec ran: nothing is labelled nc-" + control})
	}
	return rows
}

func harnessFailed(msg string) bool {
	for _, h := range harnessFailures {
		if strings.Contains(msg, h) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func run(w io.Writer, dir string, controls []string) (bool, error) {
	var all []row
	for _, c := range controls {
		b, err := os.ReadFile(filepath.Join(dir, c+".json"))
		if errors.Is(err, os.ErrNotExist) {
			all = append(all, row{control: c, spec: "(none)", state: "-", why: "no report: the suite did not run (see " + c + ".log)"})
			continue
		}
		if err != nil {
			return false, err
		}
		var reports []types.Report
		if err := json.Unmarshal(b, &reports); err != nil {
			return false, fmt.Errorf("%s.json: %w", c, err)
		}
		all = append(all, judge(c, reports)...)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "neutralisation\tverdict\tspec\tstate\twhy")
	pass := true
	for _, r := range all {
		v := "ok (red)"
		if !r.ok {
			v, pass = "FAIL", false
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.control, v, r.spec, r.state, r.why)
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	if pass {
		fmt.Fprintf(w, "\nnegative controls: every one of %d neutralisations turned its specs red\n", len(controls))
	} else {
		fmt.Fprintln(w, "\nnegative controls FAILED: a neutralisation left a spec green, turned none red, or the harness failed")
	}
	return pass, nil
}
