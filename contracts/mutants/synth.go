package mutants

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Copy is one interaction of a synthesized pact that a mutant changes.
type Copy struct {
	Mutant      string
	Description string // Description(original, Mutant)
	Original    string
}

// Synthesize returns the pact file pact (V4 JSON) with, after its own
// interactions (the controls: they must still pass), one copy of every
// interaction a LayerHTTP or LayerMessage mutant of ms targets: the same
// request or message, the description Description(original, name) and
// one more provider state, State(name), which switches the mutant on. One
// verification of the result checks every mutant of that pact in one
// process. It fails when a mutant targets an interaction the file lacks.
func Synthesize(pact []byte, ms []Mutant) ([]byte, []Copy, error) {
	var doc map[string]any
	if err := json.Unmarshal(pact, &doc); err != nil {
		return nil, nil, fmt.Errorf("pact file: %w", err)
	}
	consumer, provider := name(doc, "consumer"), name(doc, "provider")
	interactions, _ := doc["interactions"].([]any)
	byDescription := map[string]map[string]any{}
	for _, raw := range interactions {
		in, _ := raw.(map[string]any)
		if d, ok := in["description"].(string); ok {
			byDescription[d] = in
		}
	}
	var copies []Copy
	out := slices.Clone(interactions)
	for _, m := range ms {
		if (m.Layer != LayerHTTP && m.Layer != LayerMessage) || m.Consumer != consumer || m.Provider != provider {
			continue
		}
		for _, d := range m.Interactions {
			orig, ok := byDescription[d]
			if !ok {
				return nil, nil, fmt.Errorf("mutant %s: no interaction %q in the pact %s -> %s", m.Name, d, consumer, provider)
			}
			c, err := deepCopy(orig)
			if err != nil {
				return nil, nil, err
			}
			c["description"] = Description(d, m.Name)
			states, _ := c["providerStates"].([]any)
			c["providerStates"] = append(states, map[string]any{"name": State(m.Name)})
			out = append(out, c)
			copies = append(copies, Copy{Mutant: m.Name, Description: Description(d, m.Name), Original: d})
		}
	}
	doc["interactions"] = out
	data, err := json.MarshalIndent(doc, "", "  ")
	return data, copies, err
}

func name(doc map[string]any, key string) string {
	p, _ := doc[key].(map[string]any)
	n, _ := p["name"].(string)
	return n
}

func deepCopy(v map[string]any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = json.Unmarshal(data, &out)
	return out, err
}

// Failure is one entry of the verifier's "Failures:" summary.
type Failure struct {
	Header string // "Verifying a pact between C and P Given S - description"
	Text   string // the mismatches under it
}

var (
	ansi          = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	failureHeader = regexp.MustCompile(`^\d+\) (Verifying a pact between .*)$`)
)

// Failures parses the "Failures:" summary that pact_ffi's verifier prints
// at the end of a failed verification.
func Failures(output string) []Failure {
	var out []Failure
	in := false
	for line := range strings.Lines(ansi.ReplaceAllString(output, "")) {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "Failures:":
			in = true
		case !in:
		case strings.HasPrefix(trimmed, "There were ") || strings.HasPrefix(trimmed, "--- FAIL") || strings.HasPrefix(trimmed, "=== "):
			in = false
		default:
			if m := failureHeader.FindStringSubmatch(trimmed); m != nil {
				out = append(out, Failure{Header: m[1]})
			} else if len(out) > 0 && trimmed != "" {
				out[len(out)-1].Text += trimmed + "\n"
			}
		}
	}
	return out
}

// FailureOf returns the failure of the interaction described by
// description.
func FailureOf(fs []Failure, description string) (Failure, bool) {
	for _, f := range fs {
		if strings.HasSuffix(f.Header, " - "+description) {
			return f, true
		}
	}
	return Failure{}, false
}
