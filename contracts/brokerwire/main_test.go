package brokerwire

import (
	"github.com/faultline-harness/faultline/internal/testkit"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pactlintPath is the pactlint binary TestMain builds for the scripts
// (PACTLINT), so no test pays for a `go run` build.
var pactlintPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "brokerwire-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pactlintPath = filepath.Join(dir, "pactlint")
	build := exec.Command("go", "build", "-o", pactlintPath, "./contracts/pactlint")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build pactlint: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func pactlintBinary(testing.TB) string { return pactlintPath }

// publishRepo makes a git checkout that holds a copy of
// scripts/pact-broker.sh and, in contracts/pacts (git-ignored, as in this
// repository), skeleton pacts of the registry stamped by pactlint as
// produced from its one, clean commit: what make contracts leaves behind.
func publishRepo(t testing.TB) string {
	t.Helper()
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "pact-broker.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"scripts/pact-broker.sh": script,
		".gitignore":             []byte("/contracts/pacts*\n"),
	} {
		if err := os.WriteFile(filepath.Join(repo, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git(t, repo, "init", "-q")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "a tree that produced pacts")
	pacts := filepath.Join(repo, "contracts", "pacts")
	if err := os.MkdirAll(pacts, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSkeletons(t, pacts)
	if out, err := exec.Command(pactlintBinary(t), "-dir", pacts, "-stamp", "-repo", repo).CombinedOutput(); err != nil {
		t.Fatalf("stamp: %v\n%s", err, out)
	}
	return repo
}

func git(t testing.TB, repo string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func writeSkeletons(t testing.TB, dir string) { testkit.WriteSkeletonPacts(t, dir) }
