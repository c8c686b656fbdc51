package testkit

import (
	"encoding/json"
	"errors"
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

// PactDir returns the absolute folder the pact files are written to and
// read from: $PACT_DIR when set (a relative one is taken from the test's
// working directory, its package folder), else contracts/pacts of this
// module (the folder of the nearest go.mod above the package folder). It
// fails the test when the folder cannot be resolved.
func PactDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("PACT_DIR"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatalf("pact dir %q: %v", dir, err)
		}
		return abs
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("pact dir: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "contracts", "pacts")
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("pact dir: %v", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("pact dir: no go.mod above the test's working directory; set PACT_DIR")
		}
		dir = parent
	}
}
