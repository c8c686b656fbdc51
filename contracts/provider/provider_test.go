//go:build pact

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pact-foundation/pact-go/v2/message"
	"github.com/pact-foundation/pact-go/v2/provider"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/contracts/mutants"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// Environment of the mutant children of TestMutants (mutants_test.go).
const (
	// mutantsDirEnv names a folder of synthesized pact files
	// (mutants.Synthesize): the provider tests verify those, with every
	// mutant of the catalogue known to their switch.
	mutantsDirEnv = "FAULTLINE_PACT_MUTANTS_DIR"
	// wireMutantEnv names the mutant the wire check's producer applies.
	wireMutantEnv = "FAULTLINE_PACT_WIRE_MUTANT"
	// appliedPrefix starts the line a mutant child prints to report how
	// often each mutant changed something (JSON object name -> count).
	appliedPrefix = "faultline-mutants-applied: "
)

// stateTimeout bounds each state or message handler.
const stateTimeout = 10 * time.Second

// mutantSwitch returns the switch of a mutant child (every mutant of the
// catalogue known, all off), or nil for a normal run.
func mutantSwitch(t *testing.T) *mutants.Switch {
	if os.Getenv(mutantsDirEnv) == "" {
		return nil
	}
	sw := mutants.NewSwitch(mutants.All())
	t.Cleanup(func() { reportApplied(sw) })
	return sw
}

// reportApplied prints the switch's counts for the parent test to read.
func reportApplied(sw *mutants.Switch) {
	data, _ := json.Marshal(sw.Applied())
	fmt.Printf("\n%s%s\n", appliedPrefix, data)
	for _, err := range sw.Errors() {
		fmt.Printf("faultline-mutant-error: %v\n", err)
	}
}

// brokerSettings is the Pact Broker configuration from the environment
// (the variables scripts/pact-verify-broker.sh passes on).
type brokerSettings struct {
	url, token, user, password string
	// pactURL is one pact to verify (webhook-triggered verification,
	// contract_requiring_verification_published): PACT_URL.
	pactURL         string
	providerVersion string
	providerBranch  string
	buildURL        string
	wipSince        *time.Time
	publish         bool
}

// broker returns the broker settings; ok is false when neither
// PACT_BROKER_BASE_URL nor PACT_URL is set, so the tests verify local
// pact files.
//
// Verification results are published when PACT_PUBLISH_VERIFICATION_RESULTS
// is true, or when it is unset and CI is true (the Pact docs: publish from
// CI only); never from a developer's machine by default.
func broker(t testing.TB) (b brokerSettings, ok bool) {
	t.Helper()
	b = brokerSettings{
		url:             os.Getenv("PACT_BROKER_BASE_URL"),
		token:           os.Getenv("PACT_BROKER_TOKEN"),
		user:            os.Getenv("PACT_BROKER_USERNAME"),
		password:        os.Getenv("PACT_BROKER_PASSWORD"),
		pactURL:         os.Getenv("PACT_URL"),
		providerVersion: os.Getenv("PACT_PROVIDER_VERSION"),
		providerBranch:  os.Getenv("PACT_PROVIDER_BRANCH"),
		buildURL:        os.Getenv("PACT_BUILD_URL"),
	}
	if b.url == "" && b.pactURL == "" {
		return brokerSettings{}, false
	}
	var missing []string
	switch v := os.Getenv("PACT_PUBLISH_VERIFICATION_RESULTS"); v {
	case "true":
		b.publish = true
	case "false":
	case "":
		b.publish = os.Getenv("CI") == "true"
	default:
		missing = append(missing, fmt.Sprintf("PACT_PUBLISH_VERIFICATION_RESULTS (true or false, got %q)", v))
	}
	if since := os.Getenv("PACT_INCLUDE_WIP_PACTS_SINCE"); since != "" {
		ts, err := time.Parse(time.DateOnly, since)
		if err != nil {
			missing = append(missing, fmt.Sprintf("PACT_INCLUDE_WIP_PACTS_SINCE (a date, YYYY-MM-DD, got %q)", since))
		}
		b.wipSince = &ts
	}
	if b.providerVersion == "" {
		missing = append(missing, "PACT_PROVIDER_VERSION (the provider's version, e.g. the git SHA)")
	}
	if b.providerBranch == "" {
		missing = append(missing, "PACT_PROVIDER_BRANCH (the provider's git branch; matchingBranch and WIP pacts select by it)")
	}
	if b.token == "" && (b.user == "") != (b.password == "") {
		missing = append(missing, "PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD (both, or PACT_BROKER_TOKEN)")
	}
	if len(missing) > 0 {
		t.Fatalf("a Pact Broker is configured, but these are missing or wrong:\n  %s", strings.Join(missing, "\n  "))
	}
	if b.token != "" {
		b.user, b.password = "", ""
	}
	return b, true
}

// consumerVersionSelectors are contracts.ConsumerVersionSelectors for
// pact-go.
func consumerVersionSelectors() []provider.Selector {
	var out []provider.Selector
	for _, s := range contracts.ConsumerVersionSelectors() {
		u := provider.UntypedConsumerVersionSelector(s)
		out = append(out, &u)
	}
	return out
}

// pactSource sets where req's pacts come from:
//
//   - PACT_URL set (a webhook's contract_requiring_verification_published):
//     that one pact;
//   - PACT_BROKER_BASE_URL set: every pact the broker selects for
//     req.Provider (contracts.ConsumerVersionSelectors), pending pacts enabled (they
//     do not fail the build), work-in-progress pacts since
//     PACT_INCLUDE_WIP_PACTS_SINCE, and no pact at all is an error;
//   - in a mutant child: the synthesized pacts of mutantsDirEnv;
//   - otherwise the local pact files of the registry's pacts whose
//     provider is req.Provider.
//
// With a broker, the results are published (see broker) under
// PACT_PROVIDER_VERSION and PACT_PROVIDER_BRANCH, with PACT_BUILD_URL.
func pactSource(t *testing.T, req *provider.VerifyRequest) {
	t.Helper()
	if b, ok := broker(t); ok {
		req.BrokerToken = b.token
		req.BrokerUsername, req.BrokerPassword = b.user, b.password
		req.ProviderVersion = b.providerVersion
		req.ProviderBranch = b.providerBranch
		req.BuildURL = b.buildURL
		req.PublishVerificationResults = b.publish
		// pact-go adds $PACT_URL to the sources itself; the settings above
		// are the one place that reads it.
		t.Setenv("PACT_URL", "")
		if b.pactURL != "" {
			req.PactURLs = []string{b.pactURL}
			t.Logf("verifying %s against the pact %s (provider version %s, branch %s, publish %t)",
				req.Provider, b.pactURL, b.providerVersion, b.providerBranch, b.publish)
			return
		}
		req.BrokerURL = b.url
		req.ConsumerVersionSelectors = consumerVersionSelectors()
		req.EnablePending = true
		req.IncludeWIPPactsSince = b.wipSince
		req.FailIfNoPactsFound = true
		t.Logf("verifying %s against the pacts of broker %s (provider version %s, branch %s, WIP since %v, publish %t)",
			req.Provider, b.url, b.providerVersion, b.providerBranch, b.wipSince, b.publish)
		return
	}
	dir := testkit.PactDir(t)
	if synth := os.Getenv(mutantsDirEnv); synth != "" {
		dir = synth
	}
	for _, p := range contracts.ForProvider(req.Provider) {
		file := filepath.Join(dir, p.File())
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("pact file of %s -> %s: %v (run the consumer phase first: make contracts)", p.Consumer, p.Provider, err)
		}
		req.PactFiles = append(req.PactFiles, file)
	}
}

// stateSetup sets up one provider state.
type stateSetup func(ctx context.Context) error

// stateServer answers the verifier's provider state change requests
// (VerifyRequest.ProviderStatesSetupURL, a POST of
// {"action":"setup"|"teardown","state":NAME,"params":{...}} before and
// after each interaction). pact-go's own state handling only logs a
// warning for a state without a handler and lets the interaction pass;
// here such a state answers 500, so the interaction fails, whatever the
// pact's source (local files, a broker, a pact URL). In a mutant child
// the states "mutant: NAME" switch mutants on and off.
//
// The verifier calls it on its own goroutines, one interaction at a time;
// it serialises the setups anyway.
type stateServer struct {
	url    string
	setups map[string]stateSetup
	sw     *mutants.Switch // nil outside a mutant child

	mu      sync.Mutex
	unknown []string // states asked for that have no handler
}

// startStates starts a state server on 127.0.0.1 and stops it when the
// test ends.
func startStates(t *testing.T, setups map[string]stateSetup, sw *mutants.Switch) *stateServer {
	s := &stateServer{setups: setups, sw: sw}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/provider-states"
	return s
}

func (s *stateServer) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Action string `json:"action"`
		State  string `json:"state"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.State == "" {
		http.Error(w, fmt.Sprintf("provider state change: want a JSON body with action and state: %v", err), http.StatusBadRequest)
		return
	}
	setup := req.Action != "teardown"
	if s.sw != nil {
		if handled, err := s.sw.SetState(req.State, setup); handled {
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			writeState(w)
			return
		}
	}
	f, ok := s.setups[req.State]
	if !ok {
		if setup {
			s.mu.Lock()
			s.unknown = append(s.unknown, req.State)
			s.mu.Unlock()
			fmt.Printf("provider state %q has no handler: the interaction fails\n", req.State)
			http.Error(w, fmt.Sprintf("provider state %q has no handler", req.State), http.StatusInternalServerError)
			return
		}
		writeState(w)
		return
	}
	if !setup {
		writeState(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		fmt.Printf("provider state %q: setup failed: %v\n", req.State, err)
		http.Error(w, fmt.Sprintf("provider state %q: %v", req.State, err), http.StatusInternalServerError)
		return
	}
	writeState(w)
}

func writeState(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

// unknownStates returns the states the verifier asked for that have no
// handler, sorted and distinct.
func (s *stateServer) unknownStates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedUnique(s.unknown)
}

// verify runs the verification with states answering the state changes
// and fails the test when it fails. pact-go also fails t in a subtest;
// checking the error as well keeps a failure from ever passing as a log
// line.
func verify(t *testing.T, req provider.VerifyRequest, states *stateServer) {
	t.Helper()
	req.DisableColoredOutput = true // plain text in CI logs and for the mutant checks
	req.ProviderStatesSetupURL = states.url
	req.StateHandlers = nil // states answers them, strictly
	err := provider.NewVerifier().VerifyProvider(t, req)
	unknown := states.unknownStates()
	switch {
	case err != nil && len(unknown) > 0:
		t.Fatalf("pact verification of %s failed: %v\nprovider states without a handler: %q", req.Provider, err, unknown)
	case err != nil:
		t.Fatalf("pact verification of %s failed: %v", req.Provider, err)
	case t.Failed():
		t.Fatalf("pact verification of %s failed (see above)", req.Provider)
	case len(unknown) > 0:
		// Only a pending pact (broker) can fail an interaction and still
		// pass: say so, it will fail once the pact is no longer pending.
		t.Logf("WARNING: provider states without a handler in pending pacts: %q", unknown)
	}
}

// requireHandlers fails unless the handlers cover exactly the provider
// states and message interactions that the registry lists for
// providerName: a handler for a state no pact uses is dead code, and a
// registered state without one fails verification anyway.
func requireHandlers(t testing.TB, providerName string, states map[string]stateSetup, messages message.Handlers) {
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

// messageHandlers maps each registered message description to handle, and
// in a mutant child also each synthesized copy's description.
func messageHandlers(handlers message.Handlers, sw *mutants.Switch) message.Handlers {
	if sw == nil {
		return handlers
	}
	out := message.Handlers{}
	for d, h := range handlers {
		out[d] = h
		for _, m := range mutants.All() {
			out[mutants.Description(d, m.Name)] = h
		}
	}
	return out
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
