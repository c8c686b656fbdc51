//go:build pact

package provider

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// childTimeout bounds one child verification run.
const childTimeout = 2 * time.Minute

// TestMutantsFailVerification breaks the providers on purpose and checks
// that verification catches each break. VerifyProvider fails the
// *testing.T it is given, so every mutant runs in a child process (this
// test binary, -test.run selecting one provider test, FAULTLINE_PACT_MUTANT
// selecting the break), which must exit non-zero with output naming the
// mismatch. A control run of each provider test without a mutant must
// pass, so a child failing for an unrelated reason cannot pass as caught.
func TestMutantsFailVerification(t *testing.T) {
	if mutant() != "" {
		t.Skip("a mutant child runs only its provider test")
	}
	if _, err := os.Stat(pactDir(t)); err != nil {
		t.Fatalf("pact dir: %v (run the consumer phase first: make contracts)", err)
	}
	tests := []struct {
		mutant string
		test   string
		// want are strings the child's output must contain: the
		// verifier's words for the mismatch.
		want []string
	}{
		{mutant: "", test: "TestInventoryProvider"},
		{mutant: mutantStockFieldRenamed, test: "TestInventoryProvider", want: []string{"a stock query for a SKU in stock", "missing the following keys: available"}},
		{mutant: "", test: "TestOrderProvider"},
		{mutant: mutantOrderPlacedWithoutSKU, test: "TestOrderProvider", want: []string{"an order-placed event", "missing the following keys: sku"}},
		{mutant: "", test: "TestOrderPlacedOnTheWire"},
		{mutant: mutantWireContentType, test: "TestOrderPlacedOnTheWire", want: []string{"an order-placed event", "Expected metadata key 'contentType' to have value '\"application/json\"' but was '\"text/plain\"'"}},
		{mutant: mutantWireBytes, test: "TestOrderPlacedOnTheWire", want: []string{"an order-placed event", "$.quantity -> Expected '2' (String) to be an integer"}},
	}
	for _, tc := range tests {
		name := tc.mutant
		if name == "" {
			name = "control/" + tc.test
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, out := runChild(t, tc.test, tc.mutant)
			if tc.mutant == "" {
				if code != 0 {
					t.Fatalf("%s without a mutant exited %d, want 0; output:\n%s", tc.test, code, out)
				}
				return
			}
			if code == 0 {
				t.Fatalf("mutant %s: %s passed verification, want it to fail; output:\n%s", tc.mutant, tc.test, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("mutant %s: %s failed (exit %d) but its output does not name %q; output:\n%s", tc.mutant, tc.test, code, w, out)
				}
			}
			t.Logf("mutant %s: %s failed as it must (exit %d):\n%s", tc.mutant, tc.test, code, mismatchLines(out))
		})
	}
}

// runChild runs this test binary with only test selected and mutant set,
// against the local pact files, and returns its exit code and output.
func runChild(t *testing.T, test, mutant string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// Local pact files only; the child selects its own mutant.
		if strings.HasPrefix(name, "PACT_BROKER_") || name == "PACT_URL" || name == mutantEnv {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, mutantEnv+"="+mutant, "PACT_DIR="+pactDir(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s (mutant %q) did not finish within %s; output:\n%s", test, mutant, childTimeout, out.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("run %s (mutant %q): %v", test, mutant, err)
		return 0, ""
	}
}

// ansi matches the terminal colour codes the verifier prints in diffs.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// mismatchLines picks the verifier's failure summary out of a child's
// output, for the log.
func mismatchLines(out string) string {
	var keep []string
	in := false
	for line := range strings.Lines(ansi.ReplaceAllString(out, "")) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "Failures:") {
			in = true
		}
		if in && (strings.HasPrefix(trimmed, "There were") || strings.HasPrefix(trimmed, "--- FAIL")) {
			keep = append(keep, "    "+trimmed)
			break
		}
		if in && trimmed != "" {
			keep = append(keep, "    "+trimmed)
		}
	}
	if len(keep) == 0 {
		return "    (no verifier summary found)"
	}
	return strings.Join(keep, "\n")
}
