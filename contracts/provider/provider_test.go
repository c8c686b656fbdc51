//go:build pact

package provider

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"

	"github.com/faultline-harness/faultline/contracts"
)

// mutantEnv selects a deliberately broken provider (see mutants_test.go).
// Only the child processes of TestMutantsFailVerification set it.
const mutantEnv = "FAULTLINE_PACT_MUTANT"

// mutant returns the mutant this process runs, "" for the real provider.
func mutant() string { return os.Getenv(mutantEnv) }

// pactDir is where the consumer phase wrote the pact files: $PACT_DIR,
// else contracts/pacts (go test runs in the package folder).
func pactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PACT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "pacts")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("pact dir %q: %v", dir, err)
	}
	return abs
}

// brokerSettings is the Pact Broker configuration from the environment
// (the variables contracts/pact.mk's pact-verify-broker passes on).
type brokerSettings struct {
	url, token, user, password string
	providerVersion            string
	providerBranch             string
	publish                    bool
}

// broker returns the broker settings; ok is false when
// PACT_BROKER_BASE_URL is unset, so the tests verify local pact files.
func broker(t testing.TB) (b brokerSettings, ok bool) {
	t.Helper()
	b = brokerSettings{
		url:             os.Getenv("PACT_BROKER_BASE_URL"),
		token:           os.Getenv("PACT_BROKER_TOKEN"),
		user:            os.Getenv("PACT_BROKER_USERNAME"),
		password:        os.Getenv("PACT_BROKER_PASSWORD"),
		providerVersion: os.Getenv("PACT_PROVIDER_VERSION"),
		providerBranch:  os.Getenv("PACT_PROVIDER_BRANCH"),
		publish:         os.Getenv("PACT_PUBLISH_VERIFICATION_RESULTS") != "false",
	}
	if b.url == "" {
		return brokerSettings{}, false
	}
	var missing []string
	if b.providerVersion == "" {
		missing = append(missing, "PACT_PROVIDER_VERSION (the provider's version, e.g. the git SHA)")
	}
	if b.providerBranch == "" {
		missing = append(missing, "PACT_PROVIDER_BRANCH (the provider's git branch; matchingBranch selects by it)")
	}
	if b.token == "" && (b.user == "") != (b.password == "") {
		missing = append(missing, "PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD (both, or PACT_BROKER_TOKEN)")
	}
	if len(missing) > 0 {
		t.Fatalf("PACT_BROKER_BASE_URL is set, but these are missing:\n  %s", strings.Join(missing, "\n  "))
	}
	if b.token != "" {
		b.user, b.password = "", ""
	}
	return b, true
}

// pactSource sets where req's pacts come from: with PACT_BROKER_BASE_URL
// set, every pact the broker selects for req.Provider (the consumers'
// main branches, the branch matching ours and what is deployed or
// released; pending pacts do not fail the build) with the results
// published under our version and branch; otherwise the local pact files
// of contracts' registry whose provider is req.Provider.
func pactSource(t testing.TB, req *provider.VerifyRequest) {
	t.Helper()
	if b, ok := broker(t); ok {
		req.BrokerURL = b.url
		req.BrokerToken = b.token
		req.BrokerUsername, req.BrokerPassword = b.user, b.password
		req.ConsumerVersionSelectors = []provider.Selector{
			&provider.ConsumerVersionSelector{MainBranch: true},
			&provider.ConsumerVersionSelector{MatchingBranch: true},
			&provider.ConsumerVersionSelector{DeployedOrReleased: true},
		}
		req.EnablePending = true
		req.ProviderVersion = b.providerVersion
		req.ProviderBranch = b.providerBranch
		req.PublishVerificationResults = b.publish
		t.Logf("verifying %s against the pacts of broker %s (provider version %s, branch %s, publish %t)",
			req.Provider, b.url, b.providerVersion, b.providerBranch, b.publish)
		return
	}
	for _, p := range contracts.ForProvider(req.Provider) {
		file := filepath.Join(pactDir(t), p.File())
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("pact file of %s -> %s: %v (run the consumer phase first: make contracts)", p.Consumer, p.Provider, err)
		}
		req.PactFiles = append(req.PactFiles, file)
	}
}

// verify runs the verification and fails the test when it fails. pact-go
// also fails t in a subtest; checking the error as well keeps a failure
// from ever passing as a log line.
func verify(t *testing.T, req provider.VerifyRequest) {
	t.Helper()
	req.DisableColoredOutput = true // plain text in CI logs and for the mutation checks
	err := provider.NewVerifier().VerifyProvider(t, req)
	if err != nil {
		t.Fatalf("pact verification of %s failed: %v", req.Provider, err)
	}
	if t.Failed() {
		t.Fatalf("pact verification of %s failed (see above)", req.Provider)
	}
}

// requireHandlers fails unless the handlers cover exactly the provider
// states and message interactions that the registry lists for
// providerName: pact-go only logs a warning for a state without a
// handler, and a handler for a state no pact uses is dead code.
func requireHandlers(t testing.TB, providerName string, states models.StateHandlers, messages message.Handlers) {
	t.Helper()
	var wantStates, wantMessages []string
	for _, p := range contracts.ForProvider(providerName) {
		wantStates = append(wantStates, p.States()...)
		for _, in := range p.Interactions {
			if in.Kind == contracts.Message {
				wantMessages = append(wantMessages, in.Description)
			}
		}
	}
	if got, want := sortedKeys(states), sortedUnique(wantStates); !slices.Equal(got, want) {
		t.Fatalf("%s state handlers %q, want one for each registered provider state %q", providerName, got, want)
	}
	if got, want := sortedKeys(messages), sortedUnique(wantMessages); !slices.Equal(got, want) {
		t.Fatalf("%s message handlers %q, want one for each registered message %q", providerName, got, want)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// testLogger sends service logs to the test's output (shown on failure or
// with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// setupOnly wraps a state setup function as a pact-go state handler that
// does nothing on teardown.
func setupOnly(setup func() error) models.StateHandler {
	return func(isSetup bool, _ models.ProviderState) (models.ProviderStateResponse, error) {
		if !isSetup {
			return nil, nil
		}
		return nil, setup()
	}
}
