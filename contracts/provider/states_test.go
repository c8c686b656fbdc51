//go:build pact

package provider

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// A provider state without a handler fails verification (pact-go alone
// only logs a warning and passes). The real pacts, with one interaction's
// state renamed to one no handler knows, must fail TestInventoryProvider
// and TestOrderProvider, naming the state. (The broker side of the same
// rule: contracts/brokerwire's TestVerifyBrokerFailsOnUnhandledState.)
func TestUnhandledStateFailsVerification(t *testing.T) {
	if os.Getenv(mutantsDirEnv) != "" || os.Getenv(wireMutantEnv) != "" {
		t.Skip("a mutant child runs only its provider test")
	}
	for _, tc := range []struct {
		test, description string
	}{
		{"TestInventoryProvider", contracts.DescStockInStock},
		{"TestOrderProvider", contracts.DescOrderPlaced},
	} {
		t.Run(tc.test, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			const unhandled = "a state no provider handles"
			renamed := false
			for _, p := range contracts.Pacts() {
				data, err := os.ReadFile(filepath.Join(testkit.PactDir(t), p.File()))
				if err != nil {
					t.Fatalf("pact file: %v (run the consumer phase first)", err)
				}
				var doc map[string]any
				if err := json.Unmarshal(data, &doc); err != nil {
					t.Fatal(err)
				}
				for _, raw := range doc["interactions"].([]any) {
					in := raw.(map[string]any)
					if in["description"] == tc.description {
						in["providerStates"] = []any{map[string]any{"name": unhandled}}
						renamed = true
					}
				}
				out, _ := json.Marshal(doc)
				if err := os.WriteFile(filepath.Join(dir, p.File()), out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if !renamed {
				t.Fatalf("no interaction %q in the pact files", tc.description)
			}
			code, out := runChild(t, tc.test, map[string]string{"PACT_DIR": dir})
			if code == 0 {
				t.Fatalf("%s passed with the state %q unhandled; output:\n%s", tc.test, unhandled, out)
			}
			for _, want := range []string{
				"Given " + unhandled + " - " + tc.description,
				`provider states without a handler: ["` + unhandled + `"]`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("%s failed (exit %d) but its output does not say %q:\n%s", tc.test, code, want, out)
				}
			}
		})
	}
}
