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
	File        string // pact file name (or URL), or "" for a registry entry with no file
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

// Source is one pact to lint: its name (file name or URL), its JSON and,
// for a pact a broker selected for verification, whether it is pending.
type Source struct {
	Name    string
	Data    []byte
	Pending bool
}

// Mode is the set of rules a lint applies.
type Mode int

const (
	// Local: the pact files the consumer tests just wrote. They must be
	// exactly the registry: every interaction registered with its kind and
	// states, none missing, none stale.
	Local Mode = iota
	// Fetched: pacts a broker selected for a provider's verification. They
	// may come from other consumer versions than this tree (main, deployed,
	// released, work in progress), so an interaction the registry does not
	// list is a warning; a provider state the registry does not list has no
	// handler and is a problem; so are unknown pairs, duplicates and
	// messages without content. A pending pact's problems are warnings: the
	// verifier does not fail the build on it either.
	Fetched
)

// Lint checks every *.json pact file in dir in Local mode (see Check).
func Lint(dir string, registry []contracts.Pact) ([]Problem, Stats, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, Stats{}, fmt.Errorf("pact dir: %w", err)
	}
	paths, err := pactPaths(dir)
	if err != nil {
		return nil, Stats{}, err
	}
	var sources []Source
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, Stats{}, err
		}
		sources = append(sources, Source{Name: filepath.Base(path), Data: data})
	}
	problems, _, stats, err := Check(sources, registry, Local, "")
	return problems, stats, err
}

// Check lints sources against the registry in mode. In Fetched mode,
// provider names the provider being verified: a pact for another one is a
// problem. It returns the problems and warnings found, sorted, and an error
// only when a source is not a pact file.
//
// Rules of both modes: every pact is the pact of a registered
// consumer-provider pair; no interaction appears twice; every message has
// content. Local mode adds: every interaction is registered for its pair
// (an unregistered one is stale: a renamed or deleted test left it
// behind, since pact-go merges into existing files) with the registered
// kind and provider states, and every registered interaction is present.
// Fetched mode adds: a registered interaction has the registered kind,
// every provider state is registered for the pair (has a handler), an
// unregistered interaction is a warning.
func Check(sources []Source, registry []contracts.Pact, mode Mode, provider string) (problems, warnings []Problem, stats Stats, err error) {
	seen := map[[2]string]map[string]bool{} // consumer/provider -> descriptions found
	for _, src := range sources {
		var pf pactFile
		if err := json.NewDecoder(bytes.NewReader(src.Data)).Decode(&pf); err != nil {
			return nil, nil, Stats{}, fmt.Errorf("%s: not a pact file: %w", src.Name, err)
		}
		stats.Files++
		var found []Problem
		report := func(p Problem) { found = append(found, p) }
		warn := func(p Problem) { warnings = append(warnings, p) }

		pair := [2]string{pf.Consumer.Name, pf.Provider.Name}
		reg, ok := lookup(registry, pair)
		if !ok {
			report(Problem{File: src.Name, Msg: fmt.Sprintf(
				"pact %s -> %s is registered nowhere: no current test writes it (stale file; delete it, or register the pair in contracts/registry.go)", pair[0], pair[1])})
		}
		if mode == Fetched && provider != "" && pair[1] != provider {
			report(Problem{File: src.Name, Msg: fmt.Sprintf("pact for provider %q, fetched to verify %q", pair[1], provider)})
		}
		if seen[pair] == nil {
			seen[pair] = map[string]bool{}
		}
		inFile := map[string]bool{}
		all := append(slices.Clone(pf.Interactions), pf.Messages...)
		isV3Message := len(pf.Messages) > 0
		for _, in := range all {
			stats.Interactions++
			kind := contracts.Kind(in.Type)
			if isV3Message && in.Type == "" {
				kind = contracts.Message
			}
			if inFile[in.Description] {
				report(Problem{File: src.Name, Interaction: in.Description, Msg: "appears more than once"})
			}
			inFile[in.Description] = true
			seen[pair][in.Description] = true
			if isMessage(kind) && !hasContent(in.Contents, in.Type != "") {
				report(Problem{File: src.Name, Interaction: in.Description, Msg: "message interaction without content"})
			}
			if !ok {
				continue
			}
			want, registered := reg.Interaction(in.Description)
			if registered && in.Type != "" && kind != want.Kind {
				report(Problem{File: src.Name, Interaction: in.Description, Msg: fmt.Sprintf("type %q, registered as %q", kind, want.Kind)})
			}
			switch mode {
			case Local:
				if !registered {
					report(Problem{File: src.Name, Interaction: in.Description, Msg: fmt.Sprintf(
						"stale interaction: no current test defines it (not in contracts/registry.go for %s -> %s)", pair[0], pair[1])})
					continue
				}
				if got := in.states(); !sameSet(got, want.States) {
					report(Problem{File: src.Name, Interaction: in.Description, Msg: fmt.Sprintf(
						"provider states %q, registered as %q (stale states)", got, want.States)})
				}
			case Fetched:
				if !registered {
					warn(Problem{File: src.Name, Interaction: in.Description, Msg: fmt.Sprintf(
						"not in this tree's registry for %s -> %s (a consumer version other than this tree's): verified on its provider states", pair[0], pair[1])})
				}
				handled := reg.States()
				for _, s := range in.states() {
					if !slices.Contains(handled, s) {
						report(Problem{File: src.Name, Interaction: in.Description, Msg: fmt.Sprintf(
							"provider state %q has no handler (not registered for %s -> %s)", s, pair[0], pair[1])})
					}
				}
			}
		}
		if src.Pending {
			for _, p := range found {
				p.Msg = "pending pact (does not fail the build): " + p.Msg
				warnings = append(warnings, p)
			}
			continue
		}
		problems = append(problems, found...)
	}
	if mode == Local {
		for _, p := range registry {
			pair := [2]string{p.Consumer, p.Provider}
			for _, in := range p.Interactions {
				if !seen[pair][in.Description] {
					problems = append(problems, Problem{File: p.File(), Interaction: in.Description, Msg: fmt.Sprintf(
						"registered for %s -> %s but in no pact file: did its consumer test run?", p.Consumer, p.Provider)})
				}
			}
		}
	}
	sortProblems(problems)
	sortProblems(warnings)
	return problems, warnings, stats, nil
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].String() < ps[j].String() })
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
