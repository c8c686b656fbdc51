package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ProvenanceFile is the stamp the contract run writes next to the pact
// files it produced (scripts/pact-contracts.sh: pactlint -stamp).
// No .json extension: it is not a pact file, and `pact broker publish DIR`
// publishes the folder's *.json files.
const ProvenanceFile = ".pact-provenance"

// Provenance records which tree produced a folder of pact files.
type Provenance struct {
	// Commit is `git rev-parse HEAD` when the pacts were stamped.
	Commit string `json:"commit"`
	// Clean is true when `git status --porcelain` listed nothing: the
	// pacts come from exactly Commit.
	Clean bool `json:"clean"`
	// Dirty lists (at most 20 of) the uncommitted changes otherwise.
	Dirty []string `json:"dirty,omitempty"`
	// Files maps each pact file name to the SHA-256 of its bytes.
	Files    map[string]string `json:"files"`
	Produced time.Time         `json:"produced"`
}

// Stamp writes dir's provenance: the git state of repo and the hash of
// every *.json in dir.
func Stamp(dir, repo string) (Provenance, error) {
	commit, dirty, err := gitState(repo)
	if err != nil {
		return Provenance{}, err
	}
	files, err := hashPacts(dir)
	if err != nil {
		return Provenance{}, err
	}
	p := Provenance{Commit: commit, Clean: len(dirty) == 0, Dirty: dirty[:min(len(dirty), 20)], Files: files, Produced: time.Now().UTC()}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return Provenance{}, err
	}
	return p, os.WriteFile(filepath.Join(dir, ProvenanceFile), append(data, '\n'), 0o644)
}

// CheckProvenance returns what makes dir's pacts unfit to publish as the
// current tree's: no stamp; a stamp of another commit or of a tree with
// uncommitted changes; uncommitted changes now; a pact file added,
// removed or changed since the stamp.
func CheckProvenance(dir, repo string) ([]Problem, error) {
	data, err := os.ReadFile(filepath.Join(dir, ProvenanceFile))
	if errors.Is(err, os.ErrNotExist) {
		return []Problem{{File: ProvenanceFile, Msg: fmt.Sprintf(
			"missing in %s: these pacts were not produced by a contract run (make contracts writes the stamp)", dir)}}, nil
	}
	if err != nil {
		return nil, err
	}
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", ProvenanceFile, err)
	}
	commit, dirty, err := gitState(repo)
	if err != nil {
		return nil, err
	}
	var problems []Problem
	add := func(file, format string, args ...any) {
		problems = append(problems, Problem{File: file, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case p.Commit == "":
		add(ProvenanceFile, "the pacts were produced outside a git checkout")
	case p.Commit != commit:
		add(ProvenanceFile, "the pacts were produced from commit %s, the tree is at %s: run make contracts again", p.Commit, commit)
	}
	if !p.Clean {
		add(ProvenanceFile, "the pacts were produced from a tree with uncommitted changes (%s): commit, then run make contracts again", strings.Join(p.Dirty, "; "))
	}
	if len(dirty) > 0 {
		add("", "the tree has uncommitted changes (%s): the pacts would be published as %s without them", strings.Join(dirty[:min(len(dirty), 5)], "; "), commit)
	}
	files, err := hashPacts(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range sortedNames(files, p.Files) {
		switch got, want := files[name], p.Files[name]; {
		case want == "":
			add(name, "not produced by the stamped contract run (added since)")
		case got == "":
			add(name, "produced by the stamped contract run, now missing")
		case got != want:
			add(name, "changed since the contract run produced it")
		}
	}
	sortProblems(problems)
	return problems, nil
}

func sortedNames(a, b map[string]string) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		out = append(out, k)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// gitState returns repo's HEAD commit and its uncommitted changes (git
// status --porcelain lines; untracked files count, ignored ones do not).
// Outside a git checkout it returns "" and no changes.
func gitState(repo string) (string, []string, error) {
	head, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", nil, nil
	}
	status, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=normal").Output()
	if err != nil {
		return "", nil, fmt.Errorf("git status in %s: %w", repo, err)
	}
	var dirty []string
	for line := range strings.Lines(string(status)) {
		if line = strings.TrimRight(line, "\n"); line != "" {
			dirty = append(dirty, strings.TrimSpace(line))
		}
	}
	return strings.TrimSpace(string(head)), dirty, nil
}

func hashPacts(dir string) (map[string]string, error) {
	paths, err := pactPaths(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		out[filepath.Base(path)] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

// pactPaths returns the pact files in dir: *.json, hidden files left out.
func pactPaths(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(paths, func(p string) bool { return strings.HasPrefix(filepath.Base(p), ".") }), nil
}
