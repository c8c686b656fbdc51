//go:build pact

package consumer

import (
	"testing"

	"github.com/faultline-harness/faultline/contracts"
)

// registered returns the registry's pact between consumer and provider.
func registered(t testing.TB, consumer, provider string) contracts.Pact {
	t.Helper()
	p, ok := contracts.Lookup(consumer, provider)
	if !ok {
		t.Fatalf("no pact %s -> %s in the contracts registry", consumer, provider)
	}
	return p
}

// interaction returns the registry entry of description in p, so a test
// can only write interactions the registry (and so the lint) knows.
func interaction(t testing.TB, p contracts.Pact, description string, kind contracts.Kind) contracts.Interaction {
	t.Helper()
	in, ok := p.Interaction(description)
	if !ok {
		t.Fatalf("interaction %q is not in the contracts registry for %s -> %s: add it to contracts/registry.go", description, p.Consumer, p.Provider)
	}
	if in.Kind != kind {
		t.Fatalf("interaction %q is registered as %s, the test writes %s", description, in.Kind, kind)
	}
	return in
}
