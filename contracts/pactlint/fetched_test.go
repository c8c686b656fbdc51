package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// edit returns p's skeleton pact changed by f (the decoded document).
func edit(t *testing.T, p contracts.Pact, f func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(testkit.SkeletonPact(p), &doc); err != nil {
		t.Fatal(err)
	}
	f(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func interactionsOf(doc map[string]any) []any { return doc["interactions"].([]any) }

func TestCheckFetched(t *testing.T) {
	inv, _ := contracts.Lookup(contracts.OrderService, contracts.InventoryService)
	ord, _ := contracts.Lookup(contracts.InventoryService, contracts.OrderService)
	renamed := func(doc map[string]any) {
		interactionsOf(doc)[0].(map[string]any)["description"] = "an interaction of an older consumer version"
	}
	unhandled := func(doc map[string]any) {
		interactionsOf(doc)[0].(map[string]any)["providerStates"] = []any{map[string]any{"name": "a state nobody handles"}}
	}
	noContent := func(doc map[string]any) {
		for _, raw := range interactionsOf(doc) {
			if in := raw.(map[string]any); in["type"] == string(contracts.Message) {
				in["contents"] = map[string]any{"content": nil}
			}
		}
	}
	tests := []struct {
		name         string
		sources      []Source
		wantProblems []string
		wantWarnings []string
	}{
		{name: "clean", sources: []Source{{Name: "a", Data: testkit.SkeletonPact(inv)}}},
		{
			// Fetched pacts need not hold every registered interaction:
			// an older consumer version has fewer.
			name:    "fewer interactions",
			sources: []Source{{Name: "a", Data: edit(t, inv, func(doc map[string]any) { doc["interactions"] = interactionsOf(doc)[:2] })}},
		},
		{
			name:         "unregistered interaction warns",
			sources:      []Source{{Name: "a", Data: edit(t, inv, renamed)}},
			wantWarnings: []string{`"an interaction of an older consumer version": not in this tree's registry`},
		},
		{
			name:         "unhandled state",
			sources:      []Source{{Name: "a", Data: edit(t, inv, unhandled)}},
			wantProblems: []string{`provider state "a state nobody handles" has no handler`},
		},
		{
			name:         "pending pact: problems are warnings",
			sources:      []Source{{Name: "a", Data: edit(t, inv, unhandled), Pending: true}},
			wantWarnings: []string{`pending pact (does not fail the build): provider state "a state nobody handles" has no handler`},
		},
		{
			name:         "message without content",
			sources:      []Source{{Name: "a", Data: edit(t, inv, noContent)}},
			wantProblems: []string{"message interaction without content", "message interaction without content", "message interaction without content"},
		},
		{
			name:         "another provider's pact",
			sources:      []Source{{Name: "a", Data: testkit.SkeletonPact(ord)}},
			wantProblems: []string{`pact for provider "order-service", fetched to verify "inventory-service"`},
		},
		{
			name: "unknown consumer",
			sources: []Source{{Name: "a", Data: edit(t, inv, func(doc map[string]any) {
				doc["consumer"] = map[string]any{"name": "billing-service"}
			})}},
			wantProblems: []string{"pact billing-service -> inventory-service is registered nowhere"},
		},
		{
			name: "duplicate",
			sources: []Source{{Name: "a", Data: edit(t, inv, func(doc map[string]any) {
				doc["interactions"] = append(interactionsOf(doc), interactionsOf(doc)[0])
			})}},
			wantProblems: []string{"appears more than once"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems, warnings, _, err := Check(tt.sources, contracts.Pacts(), Fetched, contracts.InventoryService)
			if err != nil {
				t.Fatal(err)
			}
			match(t, "problems", problems, tt.wantProblems)
			match(t, "warnings", warnings, tt.wantWarnings)
		})
	}
}

func match(t *testing.T, what string, got []Problem, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %s, want %d:\n%s", len(got), what, len(want), render(got))
	}
	for i, w := range want {
		if !strings.Contains(got[i].String(), w) {
			t.Errorf("%s[%d] = %q, want it to contain %q", what, i, got[i], w)
		}
	}
}

// fakeBroker answers like a Pact Broker's pacts-for-verification flow and
// records what it was asked.
type fakeBroker struct {
	*httptest.Server
	mu      sync.Mutex
	queries []map[string]any
	auth    []string
	pacts   map[string][]byte // path -> pact
	pending map[string]bool
}

func newFakeBroker(t *testing.T, pacts map[string][]byte, pending map[string]bool) *fakeBroker {
	b := &fakeBroker{pacts: pacts, pending: pending}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b.note(r, nil)
		writeJSON(w, map[string]any{"_links": map[string]any{
			"pb:provider-pacts-for-verification": map[string]any{"href": b.URL + "/pacts/provider/{provider}/for-verification", "templated": true},
		}})
	})
	mux.HandleFunc("POST /pacts/provider/{provider}/for-verification", func(w http.ResponseWriter, r *http.Request) {
		var q map[string]any
		_ = json.NewDecoder(r.Body).Decode(&q)
		b.note(r, q)
		var list []any
		for path := range b.pacts {
			list = append(list, map[string]any{
				"verificationProperties": map[string]any{"pending": b.pending[path]},
				"_links":                 map[string]any{"self": map[string]any{"href": b.URL + path}},
			})
		}
		writeJSON(w, map[string]any{"_embedded": map[string]any{"pacts": list}})
	})
	mux.HandleFunc("GET /pacts/", func(w http.ResponseWriter, r *http.Request) {
		b.note(r, nil)
		data, ok := b.pacts[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	})
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Close)
	return b
}

func (b *fakeBroker) note(r *http.Request, q map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.auth = append(b.auth, r.Header.Get("Authorization"))
	if q != nil {
		b.queries = append(b.queries, q)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/hal+json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestRunFetchesAndLintsBrokerPacts(t *testing.T) {
	inv, _ := contracts.Lookup(contracts.OrderService, contracts.InventoryService)
	path := "/pacts/provider/inventory-service/consumer/order-service/version/abc"
	b := newFakeBroker(t, map[string][]byte{path: testkit.SkeletonPact(inv)}, nil)
	t.Setenv("PACT_BROKER_TOKEN", "t0ken")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"-broker", b.URL, "-provider", contracts.InventoryService, "-branch", "feature-x", "-wip-since", "2026-12-01", "-dir", out}, &stdout, &stderr)
	if code != exitClean {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if len(b.queries) != 1 {
		t.Fatalf("%d for-verification queries, want 1", len(b.queries))
	}
	q := b.queries[0]
	wantSelectors, _ := json.Marshal(contracts.ConsumerVersionSelectors())
	gotSelectors, _ := json.Marshal(q["consumerVersionSelectors"])
	if string(gotSelectors) != string(wantSelectors) || q["providerVersionBranch"] != "feature-x" ||
		q["includePendingStatus"] != true || q["includeWipPactsSince"] != "2026-12-01" {
		t.Errorf("query = %v, want the registry's selectors, branch feature-x, pending status and WIP since 2026-12-01", q)
	}
	for _, a := range b.auth {
		if a != "Bearer t0ken" {
			t.Errorf("Authorization %q, want Bearer t0ken", a)
		}
	}
	if data, err := os.ReadFile(filepath.Join(out, "fetched-01.json")); err != nil || !bytes.Equal(data, testkit.SkeletonPact(inv)) {
		t.Errorf("fetched copy: %v", err)
	}
	if !strings.Contains(stdout.String(), "1 pact(s) for inventory-service") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestRunFetchedExitCodes(t *testing.T) {
	inv, _ := contracts.Lookup(contracts.OrderService, contracts.InventoryService)
	bad := edit(t, inv, func(doc map[string]any) {
		interactionsOf(doc)[0].(map[string]any)["providerStates"] = []any{map[string]any{"name": "a state nobody handles"}}
	})
	path := "/pacts/provider/inventory-service/consumer/order-service/version/abc"

	t.Run("unhandled state fails", func(t *testing.T) {
		b := newFakeBroker(t, map[string][]byte{path: bad}, nil)
		code, out := runCapture("-broker", b.URL, "-provider", contracts.InventoryService, "-dir", t.TempDir())
		if code != exitProblems || !strings.Contains(out, `"a state nobody handles" has no handler`) {
			t.Fatalf("exit %d, want 1 naming the state; output:\n%s", code, out)
		}
	})
	t.Run("pending pact only warns", func(t *testing.T) {
		b := newFakeBroker(t, map[string][]byte{path: bad}, map[string]bool{path: true})
		code, out := runCapture("-broker", b.URL, "-provider", contracts.InventoryService, "-dir", t.TempDir())
		if code != exitClean || !strings.Contains(out, "pending pact (does not fail the build)") {
			t.Fatalf("exit %d, want 0 with a warning; output:\n%s", code, out)
		}
	})
	t.Run("no pacts", func(t *testing.T) {
		b := newFakeBroker(t, nil, nil)
		code, out := runCapture("-broker", b.URL, "-provider", contracts.InventoryService, "-dir", t.TempDir())
		if code != exitProblems || !strings.Contains(out, "selected no pacts for inventory-service") {
			t.Fatalf("exit %d, want 1; output:\n%s", code, out)
		}
	})
	t.Run("one pact URL", func(t *testing.T) {
		b := newFakeBroker(t, map[string][]byte{path: bad}, nil)
		code, out := runCapture("-pact-url", b.URL+path, "-dir", t.TempDir())
		if code != exitProblems || !strings.Contains(out, "for inventory-service") {
			t.Fatalf("exit %d, want 1 naming the provider read from the URL; output:\n%s", code, out)
		}
	})
	t.Run("unreachable: bounded, names URL and cause", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String()
		_ = ln.Close()
		start := time.Now()
		code, out := runCapture("-broker", dead, "-provider", contracts.InventoryService, "-retries", "2", "-dir", t.TempDir())
		took := time.Since(start)
		if code != exitUnreachable {
			t.Fatalf("exit %d, want %d; output:\n%s", code, exitUnreachable, out)
		}
		for _, want := range []string{"cannot reach the Pact Broker at " + dead, "connection refused", "3 attempts"} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
		}
		// 2 retries: backoff 0.5 s and about 0.75 s (randomised ±50 %).
		if took > 10*time.Second {
			t.Errorf("took %s to give up, want a bounded few seconds", took)
		}
	})
	t.Run("5xx: retried, then a broker error", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "database is down", http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		code, out := runCapture("-broker", srv.URL, "-provider", contracts.InventoryService, "-retries", "1", "-dir", t.TempDir())
		if code != exitBrokerError || calls.Load() != 2 || !strings.Contains(out, "503") || !strings.Contains(out, "database is down") {
			t.Fatalf("exit %d after %d calls, want %d after 2 naming the 503; output:\n%s", code, calls.Load(), exitBrokerError, out)
		}
	})
	t.Run("401: not retried", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		}))
		t.Cleanup(srv.Close)
		code, out := runCapture("-broker", srv.URL, "-provider", contracts.InventoryService, "-retries", "3", "-dir", t.TempDir())
		if code != exitBrokerError || calls.Load() != 1 || !strings.Contains(out, "401") {
			t.Fatalf("exit %d after %d calls, want %d after 1; output:\n%s", code, calls.Load(), exitBrokerError, out)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"-broker", "http://127.0.0.1:1"},
			{"-broker", "http://x", "-pact-url", "http://y", "-provider", "p"},
			{"-broker", "http://x", "-provider", "p", "-wip-since", "yesterday"},
		} {
			if code, out := runCapture(args...); code != exitUsage {
				t.Errorf("%q: exit %d, want %d; output:\n%s", args, code, exitUsage, out)
			}
		}
	})
}

func runCapture(args ...string) (int, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, fmt.Sprint(stdout.String(), stderr.String())
}

func TestProviderFromPactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://b/pacts/provider/inventory-service/consumer/order-service/version/1": "inventory-service",
		"http://b/pacts/provider/a%20b/consumer/c/pact-version/9":                    "a b",
		"http://b/other/provider/x":                                                  "",
	} {
		if got := providerFromPactURL(in); got != want {
			t.Errorf("providerFromPactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
