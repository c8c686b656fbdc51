package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/internal/testkit"
)

// gitRepo makes a git checkout with one commit in a temporary folder.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	gitIn(t, repo, "init", "-q")
	if err := os.WriteFile(filepath.Join(repo, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("/pacts/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-qm", "one")
	return repo
}

func gitIn(t *testing.T, repo string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %q: %v\n%s", args, err, out)
	}
}

// The stamp records the tree; the check refuses pacts from another commit,
// from a dirty tree, with a dirty tree now, or changed since.
func TestProvenance(t *testing.T) {
	tests := []struct {
		name   string
		before func(t *testing.T, repo, dir string) // before the stamp
		after  func(t *testing.T, repo, dir string) // between stamp and check
		want   []string
	}{
		{name: "clean"},
		{name: "no stamp", after: func(t *testing.T, repo, dir string) {
			_ = os.Remove(filepath.Join(dir, ProvenanceFile))
		}, want: []string{"were not produced by a contract run"}},
		{name: "new commit since", after: func(t *testing.T, repo, dir string) {
			_ = os.WriteFile(filepath.Join(repo, "main.go"), []byte("package main // two\n"), 0o644)
			gitIn(t, repo, "commit", "-qam", "two")
		}, want: []string{"the pacts were produced from commit"}},
		{name: "produced dirty", before: func(t *testing.T, repo, dir string) {
			_ = os.WriteFile(filepath.Join(repo, "main.go"), []byte("package main // wip\n"), 0o644)
		}, after: func(t *testing.T, repo, dir string) {
			gitIn(t, repo, "checkout", "-q", "main.go")
		}, want: []string{"produced from a tree with uncommitted changes (M main.go)"}},
		{name: "dirty now", after: func(t *testing.T, repo, dir string) {
			_ = os.WriteFile(filepath.Join(repo, "new.go"), []byte("package main\n"), 0o644)
		}, want: []string{"the tree has uncommitted changes (?? new.go)"}},
		{name: "edited pact", after: func(t *testing.T, repo, dir string) {
			f := filepath.Join(dir, "order-service-inventory-service.json")
			data, _ := os.ReadFile(f)
			_ = os.WriteFile(f, []byte(strings.Replace(string(data), "4.0", "4.1", 1)), 0o644)
		}, want: []string{"order-service-inventory-service.json: changed since the contract run produced it"}},
		{name: "added and removed pacts", after: func(t *testing.T, repo, dir string) {
			_ = os.Rename(filepath.Join(dir, "inventory-service-order-service.json"), filepath.Join(dir, "x-y.json"))
		}, want: []string{
			"inventory-service-order-service.json: produced by the stamped contract run, now missing",
			"x-y.json: not produced by the stamped contract run",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := gitRepo(t)
			dir := filepath.Join(repo, "pacts")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			testkit.WriteSkeletonPacts(t, dir)
			if tt.before != nil {
				tt.before(t, repo, dir)
			}
			if _, err := Stamp(dir, repo); err != nil {
				t.Fatal(err)
			}
			if tt.after != nil {
				tt.after(t, repo, dir)
			}
			problems, err := CheckProvenance(dir, repo)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(problems), len(tt.want), render(problems))
			}
			for i, w := range tt.want {
				if !strings.Contains(problems[i].String(), w) {
					t.Errorf("problem %d = %q, want %q in it", i, problems[i], w)
				}
			}
		})
	}
}

func TestRunStampAndProvenance(t *testing.T) {
	repo := gitRepo(t)
	if err := os.Mkdir(filepath.Join(repo, "pacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteSkeletonPacts(t, filepath.Join(repo, "pacts"))
	if code, out := runCapture("-dir", filepath.Join(repo, "pacts"), "-provenance", "-repo", repo); code != exitProblems || !strings.Contains(out, ProvenanceFile) {
		t.Fatalf("-provenance before any stamp: exit %d, want 1; output:\n%s", code, out)
	}
	if code, out := runCapture("-dir", filepath.Join(repo, "pacts"), "-stamp", "-repo", repo); code != exitClean || !strings.Contains(out, "clean tree") {
		t.Fatalf("-stamp: exit %d, want 0; output:\n%s", code, out)
	}
	if code, out := runCapture("-dir", filepath.Join(repo, "pacts"), "-provenance", "-repo", repo); code != exitClean || !strings.Contains(out, "produced from the current tree") {
		t.Fatalf("-provenance: exit %d, want 0; output:\n%s", code, out)
	}
	if code, _ := runCapture("-stamp", "-provenance"); code != exitUsage {
		t.Fatalf("-stamp -provenance: exit %d, want %d", code, exitUsage)
	}
}
