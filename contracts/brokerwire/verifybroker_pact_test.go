//go:build pact

package brokerwire

// These tests verify the real providers against a recording broker: they
// run scripts/pact-verify-broker.sh (and through it the provider tests of
// contracts/provider, with cgo and libpact_ffi) or those provider tests
// directly. They need the pact files of a consumer phase in PACT_DIR (make
// contracts runs them in its tooling phase, after the consumer phase).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/contracts"
)

// verifyTimeout bounds one verification run, the provider test build
// included.
const verifyTimeout = 5 * time.Minute

// realPact returns the consumer phase's pact file of p.
func realPact(t *testing.T, p contracts.Pact) []byte {
	t.Helper()
	dir := os.Getenv("PACT_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "contracts", "pacts")
	}
	data, err := os.ReadFile(filepath.Join(dir, p.File()))
	if err != nil {
		t.Fatalf("pact file of the consumer phase: %v (run make contracts)", err)
	}
	return data
}

// serveRealPacts serves the consumer phase's pacts of every pair.
func serveRealPacts(t *testing.T, r *recorder) map[string]string {
	t.Helper()
	urls := map[string]string{}
	for _, p := range contracts.Pacts() {
		urls[p.Provider] = r.servePact(p.Consumer, p.Provider, "c0ffee", realPact(t, p), false, false)
	}
	return urls
}

// runVerify runs scripts/pact-verify-broker.sh, or with direct set the
// provider test named by direct itself, with env on top of the test's
// environment stripped of every PACT_/CI variable.
func runVerify(t *testing.T, env map[string]string, direct string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), verifyTimeout)
	defer cancel()
	root := repoRoot(t)
	var cmd *exec.Cmd
	if direct != "" {
		cmd = exec.CommandContext(ctx, "go", "test", "-tags", "pact", "-count=1", "-v", "-run", "^"+direct+"$", "./contracts/provider")
	} else {
		cmd = exec.CommandContext(ctx, filepath.Join(root, "scripts", "pact-verify-broker.sh"))
	}
	cmd.Dir = root
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(name, "PACT") && name != "PACT_LOG_LEVEL" && name != "PACT_DO_NOT_TRACK") || name == "CI" || strings.HasPrefix(name, "GITHUB_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "PACTLINT="+pactlintBinary(t), "PACT_BROKER_HTTP_RETRIES=0",
		"PACT_PROVIDER_VERSION=abc123", "PACT_PROVIDER_BRANCH=feature-x")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("verification did not finish within %s; output:\n%s", verifyTimeout, out.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("run verification: %v", err)
		return -1, ""
	}
}

// resultsPosted returns the verification results the recorder received.
func resultsPosted(r *recorder) []map[string]any {
	var out []map[string]any
	for _, req := range r.requests() {
		if req.Method == "POST" && strings.HasSuffix(req.Path, "/verification-results") {
			var body map[string]any
			_ = json.Unmarshal(req.Body, &body)
			out = append(out, body)
		}
	}
	return out
}

// Both providers verify what the broker selects: the lint and the verifier
// ask with the registry's selectors, the provider branch, pending status
// and WIP pacts; results go back only from CI (CI=true) or when asked, with
// the provider version and the build URL.
func TestVerifyBrokerPublishesFromCIOnly(t *testing.T) {
	// One result per pact the broker serves (every consumer-provider pair
	// in the registry: order-service's HTTP and message pacts with
	// inventory-service, notification-service's with order-service).
	allPacts := len(contracts.Pacts())
	if allPacts < 3 {
		t.Fatalf("the registry lists %d pacts, want at least 3", allPacts)
	}
	tests := []struct {
		name        string
		env         map[string]string
		wantResults int
	}{
		{name: "CI", env: map[string]string{"CI": "true", "PACT_BUILD_URL": "https://ci.example.com/build/7"}, wantResults: allPacts},
		{name: "developer machine", env: map[string]string{}, wantResults: 0},
		{name: "asked explicitly", env: map[string]string{"PACT_PUBLISH_VERIFICATION_RESULTS": "true", "PACT_BUILD_URL": "https://ci.example.com/build/7"}, wantResults: allPacts},
		{name: "CI, told not to", env: map[string]string{"CI": "true", "PACT_PUBLISH_VERIFICATION_RESULTS": "false"}, wantResults: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := newRecorder(t, true)
			serveRealPacts(t, broker)
			env := map[string]string{"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t"}
			for k, v := range tt.env {
				env[k] = v
			}
			code, out := runVerify(t, env, "")
			if code != 0 {
				t.Fatalf("exit %d, want 0; requests: %s\noutput:\n%s", code, describe(broker.requests()), out)
			}
			queries := 0
			for _, req := range broker.requests() {
				if req.Method != "POST" || !strings.HasSuffix(req.Path, "/for-verification") {
					continue
				}
				queries++
				var q map[string]any
				if err := json.Unmarshal(req.Body, &q); err != nil {
					t.Fatal(err)
				}
				sel, _ := json.Marshal(q["consumerVersionSelectors"])
				if q["providerVersionBranch"] != "feature-x" || q["includePendingStatus"] != true ||
					!strings.HasPrefix(stringOf(q["includeWipPactsSince"]), "2026-12-01") ||
					!strings.Contains(string(sel), "mainBranch") || !strings.Contains(string(sel), "deployedOrReleased") {
					t.Errorf("for-verification query %s: want the selectors, branch feature-x, pending status, WIP since 2026-12-01", req.Body)
				}
			}
			// pactlint and the verifier ask once per provider each.
			if queries != 4 {
				t.Errorf("%d for-verification queries, want 4 (lint and verifier, two providers); requests: %s", queries, describe(broker.requests()))
			}
			results := resultsPosted(broker)
			if len(results) != tt.wantResults {
				t.Fatalf("%d verification results published, want %d; requests: %s\noutput:\n%s", len(results), tt.wantResults, describe(broker.requests()), out)
			}
			for _, r := range results {
				if r["success"] != true || r["providerApplicationVersion"] != "abc123" || r["buildUrl"] != "https://ci.example.com/build/7" {
					t.Errorf("result %v: want success, version abc123, the build URL", r)
				}
			}
		})
	}
}

func stringOf(v any) string { s, _ := v.(string); return s }

// A provider state without a handler in a broker pact fails: at the lint
// (the script stops before verifying), and in the verification itself
// (the provider test run directly, no lint).
func TestVerifyBrokerFailsOnUnhandledState(t *testing.T) {
	p, _ := contracts.Lookup(contracts.InventoryService, contracts.OrderService)
	var doc map[string]any
	if err := json.Unmarshal(realPact(t, p), &doc); err != nil {
		t.Fatal(err)
	}
	const unhandled = "order order-5 was placed by carrier pigeon"
	doc["interactions"].([]any)[0].(map[string]any)["providerStates"] = []any{map[string]any{"name": unhandled}}
	bad, _ := json.Marshal(doc)

	t.Run("lint", func(t *testing.T) {
		broker := newRecorder(t, true)
		broker.servePact(p.Consumer, p.Provider, "c0ffee", bad, false, false)
		inv, _ := contracts.Lookup(contracts.OrderService, contracts.InventoryService)
		broker.servePact(inv.Consumer, inv.Provider, "c0ffee", realPact(t, inv), false, false)
		code, out := runVerify(t, map[string]string{"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t"}, "")
		if code != 1 || !strings.Contains(out, `provider state "`+unhandled+`" has no handler`) || !strings.Contains(out, "not verified") {
			t.Fatalf("exit %d, want 1 from the lint naming the state; output:\n%s", code, out)
		}
	})
	t.Run("verification", func(t *testing.T) {
		broker := newRecorder(t, true)
		broker.servePact(p.Consumer, p.Provider, "c0ffee", bad, false, false)
		code, out := runVerify(t, map[string]string{"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t"}, "TestOrderProvider")
		if code == 0 || !strings.Contains(out, `provider states without a handler: ["`+unhandled+`"]`) {
			t.Fatalf("exit %d, want a failure naming the state; output:\n%s", code, out)
		}
	})
}

// No pact to verify is a failure (FailIfNoPactsFound), at the lint and in
// the verification itself.
func TestVerifyBrokerFailsIfNoPactsFound(t *testing.T) {
	broker := newRecorder(t, true)
	env := map[string]string{"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t"}
	if code, out := runVerify(t, env, ""); code != 1 || !strings.Contains(out, "selected no pacts for inventory-service") {
		t.Fatalf("script: exit %d, want 1 from the lint; output:\n%s", code, out)
	}
	if code, out := runVerify(t, env, "TestInventoryProvider"); code == 0 {
		t.Fatalf("the verification passed with no pacts; output:\n%s", out)
	}
}

// make pact-verify-changed PACT_URL=...: the webhook-triggered verification
// of one pact, by the provider the URL names, published from CI.
func TestVerifyChanged(t *testing.T) {
	broker := newRecorder(t, true)
	urls := serveRealPacts(t, broker)
	code, out := runVerify(t, map[string]string{"PACT_URL": urls[contracts.OrderService], "PACT_BROKER_TOKEN": "t", "CI": "true"}, "")
	if code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", code, out)
	}
	if !strings.Contains(out, "TestOrderProvider") || strings.Contains(out, "=== RUN   TestInventoryProvider") {
		t.Errorf("want only order-service's verification; output:\n%s", out)
	}
	for _, req := range broker.requests() {
		if strings.HasSuffix(req.Path, "/for-verification") {
			t.Errorf("a changed-pact verification asked the broker for its selection: %s %s", req.Method, req.Path)
		}
	}
	if results := resultsPosted(broker); len(results) != 1 || results[0]["success"] != true {
		t.Errorf("results %v, want one success; requests: %s", results, describe(broker.requests()))
	}
	if code, out := runVerify(t, map[string]string{"PACT_URL": broker.URL() + "/somewhere/else"}, ""); code != 2 || !strings.Contains(out, "PACT_PROVIDER") {
		t.Errorf("a PACT_URL naming no provider: exit %d, want 2 asking for PACT_PROVIDER; output:\n%s", code, out)
	}
}

// servePact serves content as a pact selected for verification of its
// provider, and returns its URL.
func (r *recorder) servePact(consumer, provider, version string, content []byte, pending, wip bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pacts == nil {
		r.pacts = map[string]servedPact{}
	}
	path := "/pacts/provider/" + url.PathEscape(provider) + "/consumer/" + url.PathEscape(consumer) + "/version/" + url.PathEscape(version)
	r.pacts[path] = servedPact{content: content, pending: pending, wip: wip}
	return r.URL() + path
}
