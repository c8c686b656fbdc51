package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// fixtureRegistry is what the fixtures in testdata/ were written against.
func fixtureRegistry() []contracts.Pact {
	return []contracts.Pact{{
		Consumer: "web", Provider: "things",
		Interactions: []contracts.Interaction{
			{Description: "a request for thing-1", States: []string{"thing-1 exists"}, Kind: contracts.HTTP},
			{Description: "a thing-changed event", States: []string{"thing-1 exists"}, Kind: contracts.Message},
		},
	}}
}

func TestLintFixtures(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // one substring per expected problem, in sorted problem order
	}{
		{dir: "clean"},
		{dir: "stale", want: []string{`web-things.json: "a request for thing-1 (old name)": stale interaction: no current test defines it`}},
		{dir: "nocontent", want: []string{`web-things.json: "a thing-changed event": message interaction without content`}},
		{dir: "v3nocontent", want: []string{
			`web-things.json: "a request for thing-1": registered for web -> things but in no pact file`,
			`web-things.json: "a thing-changed event": message interaction without content`,
		}},
		{dir: "duplicate", want: []string{`web-things.json: "a thing-changed event": appears more than once`}},
		{dir: "states", want: []string{`web-things.json: "a request for thing-1": provider states ["thing-1 is there"], registered as ["thing-1 exists"] (stale states)`}},
		{dir: "unregistered", want: []string{`web-gadgets.json: pact web -> gadgets is registered nowhere`}},
		{dir: "missing", want: []string{`web-things.json: "a thing-changed event": registered for web -> things but in no pact file: did its consumer test run?`}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			problems, stats, err := Lint(filepath.Join("testdata", tt.dir), fixtureRegistry())
			if err != nil {
				t.Fatalf("Lint: %v", err)
			}
			if stats.Files == 0 {
				t.Fatalf("read no pact files in testdata/%s", tt.dir)
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(problems), len(tt.want), render(problems))
			}
			for i, w := range tt.want {
				if got := problems[i].String(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

func TestLintFailsOnUnreadableInput(t *testing.T) {
	if _, _, err := Lint(filepath.Join(t.TempDir(), "absent"), fixtureRegistry()); err == nil {
		t.Error("Lint of a missing folder returned no error")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Lint(dir, fixtureRegistry()); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("Lint of a broken file: error %v, want one naming broken.json", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	// The real registry against fixture folders: clean for this registry
	// means every interaction of contracts.Pacts() is missing.
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{args: []string{"-dir", filepath.Join("testdata", "clean")}, wantCode: 1, wantOut: "registered nowhere"},
		{args: []string{"-dir", filepath.Join("testdata", "absent")}, wantCode: 2, wantOut: "pact dir"},
		{args: []string{"extra"}, wantCode: 2, wantOut: "unexpected arguments"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != tt.wantCode {
			t.Errorf("run %q exited %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, stderr.String())
		}
		if !strings.Contains(stdout.String()+stderr.String(), tt.wantOut) {
			t.Errorf("run %q: output does not contain %q:\n%s%s", tt.args, tt.wantOut, stdout.String(), stderr.String())
		}
	}
}

// TestRunCleanOnRealRegistry writes a minimal pact folder matching the
// real registry and expects a clean run, so the real registry and the
// lint agree on the shape of what the consumer tests write.
func TestRunCleanOnRealRegistry(t *testing.T) {
	dir := testkit.WriteSkeletonPacts(t, t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("run exited %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "all registered") {
		t.Errorf("stdout %q lacks the summary", stdout.String())
	}
}

func render(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
