package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/chaos/report"
	"github.com/faultline-harness/faultline/chaos/scenario"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// TestBinarySIGINTKeepsWhatWasMeasured runs the real binary on the
// embedded lane and sends SIGINT in the fault window: it exits 130 and
// leaves an interrupted journal, the --json result and the HTML report,
// with the baseline and fault requests it measured.
func TestBinarySIGINTKeepsWhatWasMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts the stack")
	}
	bin := testkit.BuildBinary(t, "faultline")
	if p := testkit.StartProcess(t, bin, "version"); p.Wait(t, 20*time.Second) != 0 || !strings.HasPrefix(p.Output(), "faultline ") {
		t.Errorf("faultline version: %s", p.Output())
	}
	dir := t.TempDir()
	p := testkit.StartProcess(t, bin, "run", "--scenario", "inventory-latency", "--duration", "12s", "--rate", "5", "--seed", "7",
		"--journal-dir", dir, "--report", dir, "--json", filepath.Join(dir, "result.json"))
	// The fault window opens at 25% of the run: 3 s after the load starts.
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		return strings.Contains(p.Output(), "[fault"), "no fault-phase progress line yet:\n" + p.Output()
	})
	p.Signal(t, syscall.SIGINT)
	if code := p.Wait(t, 40*time.Second); code != exitInterrupted {
		t.Fatalf("exit %d after SIGINT, want 130\n%s", code, p.Output())
	}
	j := onlyJournal(t, dir, p.Output())
	if j.Status != report.StatusInterrupted || j.Measurements == nil {
		t.Fatalf("journal status %q, measurements %v; want interrupted with what was measured", j.Status, j.Measurements != nil)
	}
	for _, m := range scenario.Modes {
		mr := j.Measurements.Modes[m]
		if mr == nil || mr.Phases[scenario.PhaseBaseline].Requests == 0 || mr.Phases[scenario.PhaseFault].Requests == 0 {
			t.Errorf("%s: partial measurements %+v, want baseline and fault requests", m, mr)
		}
	}
	var res scenario.Result
	if b, err := os.ReadFile(filepath.Join(dir, "result.json")); err != nil || json.Unmarshal(b, &res) != nil || !res.Interrupted {
		t.Errorf("--json: %v, interrupted %v", err, res.Interrupted)
	}
	if _, err := os.Stat(filepath.Join(dir, j.ReportFileName())); err != nil {
		t.Errorf("report: %v", err)
	}
}
