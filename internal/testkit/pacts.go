package testkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline-harness/faultline/contracts"
)

// SkeletonPact returns a minimal V4 pact file for p: every registered
// interaction with its description, kind and provider states, an HTTP
// request and response or a message with content. It is what the pact
// lint reads, not a contract anyone verifies: tests of the lint, the
// publish flow and the broker wiring use it to have lint-clean pacts
// without running the consumer tests (which need cgo).
func SkeletonPact(p contracts.Pact) []byte {
	var interactions []map[string]any
	for _, in := range p.Interactions {
		var states []map[string]string
		for _, s := range in.States {
			states = append(states, map[string]string{"name": s})
		}
		m := map[string]any{"description": in.Description, "type": string(in.Kind), "providerStates": states, "pending": false}
		if in.Kind == contracts.Message {
			m["contents"] = map[string]any{"content": map[string]any{"order_id": "o-1"}, "contentType": "application/json", "encoded": false}
			m["metadata"] = map[string]string{"contentType": "application/json"}
		} else {
			m["request"] = map[string]any{"method": "GET", "path": "/things/1"}
			m["response"] = map[string]any{"status": 200}
		}
		interactions = append(interactions, m)
	}
	data, err := json.MarshalIndent(map[string]any{
		"consumer":     map[string]string{"name": p.Consumer},
		"provider":     map[string]string{"name": p.Provider},
		"interactions": interactions,
		"metadata":     map[string]any{"pactSpecification": map[string]string{"version": "4.0"}},
	}, "", "  ")
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return data
}

// WriteSkeletonPacts writes SkeletonPact of every registered pact into
// dir, under the file name pact-go would use, and returns dir.
func WriteSkeletonPacts(t testing.TB, dir string) string {
	t.Helper()
	for _, p := range contracts.Pacts() {
		if err := os.WriteFile(filepath.Join(dir, p.File()), SkeletonPact(p), 0o644); err != nil {
			t.Fatalf("write skeleton pact: %v", err)
		}
	}
	return dir
}
