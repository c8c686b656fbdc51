package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}}
}

func writeReport(t *testing.T, dir, name string, specs ...types.SpecReport) {
	t.Helper()
	b, err := json.Marshal([]types.Report{{SpecReports: specs}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name  string
		specs []types.SpecReport
		want  bool
		say   string
	}{
		{"every spec red", []types.SpecReport{spec("a", types.SpecStateFailed, "the fault took effect\nmore"), spec("b", types.SpecStateTimedout, "")}, true, "ok (red)"},
		{"one stayed green", []types.SpecReport{spec("a", types.SpecStateFailed, "x"), spec("b", types.SpecStatePassed, "")}, false, "stayed green"},
		{"red because the harness failed", []types.SpecReport{spec("a", types.SpecStateFailed, "the harness itself failed\nboom")}, false, "wrong reason"},
		{"nothing ran", []types.SpecReport{spec("a", types.SpecStateSkipped, "")}, false, "no spec ran"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeReport(t, dir, "down", tt.specs...)
			var out bytes.Buffer
			ok, err := run(&out, dir, []string{"down"})
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want || !strings.Contains(out.String(), tt.say) {
				t.Fatalf("verdict %v, want %v; output lacks %q:\n%s", ok, tt.want, tt.say, out.String())
			}
		})
	}
	var out bytes.Buffer
	if ok, err := run(&out, t.TempDir(), []string{"latency"}); err != nil || ok || !strings.Contains(out.String(), "no report") {
		t.Fatalf("missing report: ok %v, err %v\n%s", ok, err, out.String())
	}
}
