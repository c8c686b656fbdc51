package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/faultline-harness/faultline/contracts"
)

// Problem is one lint finding.
type Problem struct {
	File        string // pact file name, or "" for a registry entry with no file
	Interaction string // description, or "" for the file as a whole
	Msg         string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
	} else {
		b.WriteString("(registry)")
	}
	if p.Interaction != "" {
		fmt.Fprintf(&b, ": %q", p.Interaction)
	}
	b.WriteString(": " + p.Msg)
	return b.String()
}

// pactFile is the part of a pact file (V4, or a V3 message pact) the lint
// reads.
type pactFile struct {
	Consumer struct {
		Name string `json:"name"`
	} `json:"consumer"`
	Provider struct {
		Name string `json:"name"`
	} `json:"provider"`
	Interactions []interaction `json:"interactions"` // V2-V4
	Messages     []interaction `json:"messages"`     // V3 message pacts
}

type interaction struct {
	Description    string `json:"description"`
	Type           string `json:"type"` // V4 only
	ProviderStates []struct {
		Name string `json:"name"`
	} `json:"providerStates"`
	ProviderState string `json:"providerState"` // V2
	// Contents is a V4 message's {"content": …, "contentType": …} or a
	// V3 message's body.
	Contents json.RawMessage `json:"contents"`
}

func (in interaction) states() []string {
	var out []string
	for _, s := range in.ProviderStates {
		out = append(out, s.Name)
	}
	if in.ProviderState != "" {
		out = append(out, in.ProviderState)
	}
	return out
}

// Stats counts what a lint run read.
type Stats struct {
	Files, Interactions int
}

// Lint checks every *.json pact file in dir against the registry:
//
//   - every file is the pact of a registered consumer-provider pair;
//   - every interaction in a file is registered for that pair (an
//     unregistered one is stale: a renamed or deleted test left it behind),
//     with the registered kind and provider states, and appears once;
//   - every message interaction has content;
//   - every registered interaction is in its pact file (its consumer test
//     ran and wrote it).
//
// It returns the problems found, sorted, and an error only when dir or a
// file cannot be read or parsed.
func Lint(dir string, registry []contracts.Pact) ([]Problem, Stats, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, Stats{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, Stats{}, fmt.Errorf("pact dir: %w", err)
	}
	var problems []Problem
	var stats Stats
	seen := map[[2]string]map[string]bool{} // consumer/provider -> descriptions found
	for _, path := range paths {
		name := filepath.Base(path)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, Stats{}, err
		}
		var pf pactFile
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&pf); err != nil {
			return nil, Stats{}, fmt.Errorf("%s: not a pact file: %w", name, err)
		}
		stats.Files++
		pair := [2]string{pf.Consumer.Name, pf.Provider.Name}
		reg, ok := lookup(registry, pair)
		if !ok {
			problems = append(problems, Problem{File: name, Msg: fmt.Sprintf(
				"pact %s -> %s is registered nowhere: no current test writes it (stale file; delete it, or register the pair in contracts/registry.go)", pair[0], pair[1])})
		}
		if seen[pair] == nil {
			seen[pair] = map[string]bool{}
		}
		all := append(slices.Clone(pf.Interactions), pf.Messages...)
		isV3Message := len(pf.Messages) > 0
		for _, in := range all {
			stats.Interactions++
			kind := contracts.Kind(in.Type)
			if isV3Message && in.Type == "" {
				kind = contracts.Message
			}
			if seen[pair][in.Description] {
				problems = append(problems, Problem{File: name, Interaction: in.Description, Msg: "appears more than once"})
			}
			seen[pair][in.Description] = true
			if isMessage(kind) && !hasContent(in.Contents, in.Type != "") {
				problems = append(problems, Problem{File: name, Interaction: in.Description, Msg: "message interaction without content"})
			}
			if !ok {
				continue
			}
			want, found := reg.Interaction(in.Description)
			if !found {
				problems = append(problems, Problem{File: name, Interaction: in.Description, Msg: fmt.Sprintf(
					"stale interaction: no current test defines it (not in contracts/registry.go for %s -> %s)", pair[0], pair[1])})
				continue
			}
			if in.Type != "" && kind != want.Kind {
				problems = append(problems, Problem{File: name, Interaction: in.Description, Msg: fmt.Sprintf("type %q, registered as %q", kind, want.Kind)})
			}
			if got := in.states(); !sameSet(got, want.States) {
				problems = append(problems, Problem{File: name, Interaction: in.Description, Msg: fmt.Sprintf(
					"provider states %q, registered as %q (stale states)", got, want.States)})
			}
		}
	}
	for _, p := range registry {
		pair := [2]string{p.Consumer, p.Provider}
		for _, in := range p.Interactions {
			if !seen[pair][in.Description] {
				problems = append(problems, Problem{File: p.File(), Interaction: in.Description, Msg: fmt.Sprintf(
					"registered for %s -> %s but in no pact file: did its consumer test run?", p.Consumer, p.Provider)})
			}
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].String() < problems[j].String() })
	return problems, stats, nil
}

func lookup(registry []contracts.Pact, pair [2]string) (contracts.Pact, bool) {
	for _, p := range registry {
		if p.Consumer == pair[0] && p.Provider == pair[1] {
			return p, true
		}
	}
	return contracts.Pact{}, false
}

func isMessage(k contracts.Kind) bool { return strings.HasSuffix(string(k), "/Messages") }

// hasContent reports whether a message's contents hold a body: for V4
// (wrapped) the "content" member, for V3 the value itself; null, "", {}
// and [] count as no content.
func hasContent(raw json.RawMessage, wrapped bool) bool {
	if wrapped {
		var c struct {
			Content json.RawMessage `json:"content"`
		}
		if len(raw) == 0 || json.Unmarshal(raw, &c) != nil {
			return false
		}
		raw = c.Content
	}
	switch strings.TrimSpace(string(raw)) {
	case "", "null", `""`, "{}", "[]":
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		return len(v) > 0
	case []any:
		return len(v) > 0
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
