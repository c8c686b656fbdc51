package brokerwire

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// publish lints first and refuses (exit 5, nothing sent) pacts that fail
// the lint or were not produced from the current tree.
func TestPublishRefuses(t *testing.T) {
	requirePactCLI(t)
	tests := []struct {
		name  string
		spoil func(t *testing.T, repo string)
		want  string
	}{
		{"no provenance stamp", func(t *testing.T, repo string) {
			_ = os.Remove(filepath.Join(repo, "contracts", "pacts", ".pact-provenance"))
		}, "were not produced by a contract run"},
		{"a pact edited by hand", func(t *testing.T, repo string) {
			f := filepath.Join(repo, "contracts", "pacts", "order-service-inventory-service.json")
			data, _ := os.ReadFile(f)
			_ = os.WriteFile(f, []byte(strings.Replace(string(data), `"200"`, `"201"`, 1)+"\n"), 0o644)
		}, "changed since the contract run produced it"},
		{"a stale interaction", func(t *testing.T, repo string) {
			f := filepath.Join(repo, "contracts", "pacts", "inventory-service-order-service.json")
			data, _ := os.ReadFile(f)
			_ = os.WriteFile(f, []byte(strings.Replace(string(data), "an order-placed event", "an order placed event (old name)", 1)), 0o644)
		}, "stale interaction"},
		{"a commit since the contract run", func(t *testing.T, repo string) {
			_ = os.WriteFile(filepath.Join(repo, "NEWS"), []byte("news\n"), 0o644)
			git(t, repo, "add", "NEWS")
			git(t, repo, "commit", "-qm", "later")
		}, "the pacts were produced from commit"},
		{"uncommitted changes", func(t *testing.T, repo string) {
			_ = os.WriteFile(filepath.Join(repo, "wip.go"), []byte("package wip\n"), 0o644)
		}, "the tree has uncommitted changes (?? wip.go)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			broker := newRecorder(t, true)
			repo := publishRepo(t)
			tt.spoil(t, repo)
			res := runScriptIn(t, repo, map[string]string{
				"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t",
				"PACT_CONSUMER_VERSION": "abc123", "PACT_BRANCH": "main",
			}, "publish")
			if res.code != 5 {
				t.Fatalf("publish exited %d, want 5 (refused); output:\n%s", res.code, res.output)
			}
			for _, want := range []string{tt.want, "nothing was published"} {
				if !strings.Contains(res.output, want) {
					t.Errorf("output does not say %q:\n%s", want, res.output)
				}
			}
			if reqs := broker.requests(); len(reqs) != 0 {
				t.Errorf("a refused publish talked to the broker: %s", describe(reqs))
			}
		})
	}
}

// can-i-deploy re-asks while a verification result is unknown, up to
// PACT_RETRY_WHILE_UNKNOWN times, every PACT_RETRY_INTERVAL seconds.
func TestCanIDeployRetriesWhileUnknown(t *testing.T) {
	requirePactCLI(t)
	tests := []struct {
		name     string
		unknown  int // matrix answers that say unknown
		retries  string
		wantCode int
		wantAsks int
	}{
		{name: "known after two retries", unknown: 2, retries: "3", wantCode: 0, wantAsks: 3},
		{name: "still unknown after the retries", unknown: 5, retries: "1", wantCode: 1, wantAsks: 2},
		{name: "no retries", unknown: 1, retries: "0", wantCode: 1, wantAsks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			broker := newRecorder(t, true)
			broker.answerUnknown(tt.unknown)
			res := runBrokerScript(t, map[string]string{
				"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t",
				"PACTICIPANT": "inventory-service", "VERSION": "abc123", "ENVIRONMENT": "production",
				"PACT_RETRY_WHILE_UNKNOWN": tt.retries, "PACT_RETRY_INTERVAL": "1",
			}, "can-i-deploy")
			if res.code != tt.wantCode {
				t.Errorf("exit %d, want %d; output:\n%s", res.code, tt.wantCode, res.output)
			}
			if n := len(broker.requestsTo("GET", "/matrix")); n != tt.wantAsks {
				t.Errorf("%d matrix queries, want %d; requests: %s", n, tt.wantAsks, describe(broker.requests()))
			}
		})
	}
}

// Every verb fails fast on an unreachable broker, with exit 3 (not 1, "not
// deployable") and a message naming the URL and the cause, after the
// bounded retries.
func TestBrokerUnreachable(t *testing.T) {
	requirePactCLI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	for _, verb := range []string{"publish", "can-i-deploy", "record-deployment", "create-environment", "create-webhook"} {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res := runScriptIn(t, publishRepo(t), map[string]string{
				"PACT_BROKER_BASE_URL": dead, "PACT_BROKER_TOKEN": "t", "PACT_BROKER_HTTP_RETRIES": "2",
				"PACT_CONSUMER_VERSION": "abc123", "PACT_BRANCH": "main",
				"PACTICIPANT": "inventory-service", "VERSION": "abc123", "ENVIRONMENT": "production",
				"PACT_WEBHOOK_URL": "https://ci.example.com/hook",
			}, verb)
			took := time.Since(start)
			if res.code != 3 {
				t.Fatalf("exit %d, want 3 (unreachable); output:\n%s", res.code, res.output)
			}
			for _, want := range []string{"cannot reach the Pact Broker at " + dead, "Failed to connect", "after 2 retries"} {
				if !strings.Contains(res.output, want) {
					t.Errorf("output does not say %q:\n%s", want, res.output)
				}
			}
			// Two retries one second apart, plus the lint for publish; the
			// CLI's own default takes ~64 s.
			if took > 20*time.Second {
				t.Errorf("gave up after %s, want a few seconds", took)
			}
		})
	}
}

// A broker that answers with an error is exit 4, not 1: can-i-deploy's 1
// means "not deployable" only.
func TestBrokerErrors(t *testing.T) {
	requirePactCLI(t)
	base := map[string]string{
		"PACT_BROKER_TOKEN": "t", "PACTICIPANT": "inventory-service", "VERSION": "abc123", "ENVIRONMENT": "production",
		// The CLI re-asks after a 5xx like after an unknown result.
		"PACT_RETRY_WHILE_UNKNOWN": "1", "PACT_RETRY_INTERVAL": "1",
	}
	t.Run("matrix 500", func(t *testing.T) {
		t.Parallel()
		broker := newRecorder(t, true)
		broker.failWith(http.StatusInternalServerError)
		env := map[string]string{"PACT_BROKER_BASE_URL": broker.URL()}
		for k, v := range base {
			env[k] = v
		}
		res := runBrokerScript(t, env, "can-i-deploy")
		if res.code != 4 || !strings.Contains(res.output, "500") {
			t.Fatalf("exit %d, want 4 naming the 500; output:\n%s", res.code, res.output)
		}
	})
	t.Run("401 on the index", func(t *testing.T) {
		t.Parallel()
		srv := newStatusServer(t, http.StatusUnauthorized)
		env := map[string]string{"PACT_BROKER_BASE_URL": srv}
		for k, v := range base {
			env[k] = v
		}
		res := runBrokerScript(t, env, "can-i-deploy")
		if res.code != 4 || !strings.Contains(res.output, "answered 401: check PACT_BROKER_TOKEN") {
			t.Fatalf("exit %d, want 4 naming the credentials; output:\n%s", res.code, res.output)
		}
	})
}

func TestCreateEnvironment(t *testing.T) {
	requirePactCLI(t)
	tests := []struct {
		env            map[string]string
		wantName       string
		wantProduction bool
		wantDisplay    string
	}{
		{env: map[string]string{"ENVIRONMENT": "production"}, wantName: "production", wantProduction: true, wantDisplay: "production"},
		{env: map[string]string{"ENVIRONMENT": "staging", "PACT_ENVIRONMENT_DISPLAY_NAME": "Staging"}, wantName: "staging", wantDisplay: "Staging"},
	}
	for _, tt := range tests {
		t.Run(tt.wantName, func(t *testing.T) {
			t.Parallel()
			broker := newRecorder(t, true)
			env := map[string]string{"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t"}
			for k, v := range tt.env {
				env[k] = v
			}
			res := runBrokerScript(t, env, "create-environment")
			if res.code != 0 {
				t.Fatalf("exit %d, want 0; output:\n%s", res.code, res.output)
			}
			posts := broker.requestsTo("POST", "/environments")
			if len(posts) != 1 {
				t.Fatalf("%d environment creations, want 1; requests: %s", len(posts), describe(broker.requests()))
			}
			var body struct {
				Name        string `json:"name"`
				DisplayName string `json:"displayName"`
				Production  bool   `json:"production"`
			}
			if err := json.Unmarshal(posts[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Name != tt.wantName || body.DisplayName != tt.wantDisplay || body.Production != tt.wantProduction {
				t.Errorf("created %+v, want name %s, display name %s, production %t", body, tt.wantName, tt.wantDisplay, tt.wantProduction)
			}
			if got := posts[0].Header.Get("Authorization"); got != "Bearer t" {
				t.Errorf("Authorization %q", got)
			}
		})
	}
}

// make create-webhook creates, for each provider, the webhook that
// triggers a verification of a changed pact
// (contract_requiring_verification_published), posting the pact URL and the
// provider to the CI.
func TestCreateWebhook(t *testing.T) {
	requirePactCLI(t)
	broker := newRecorder(t, true)
	res := runBrokerScript(t, map[string]string{
		"PACT_BROKER_BASE_URL": broker.URL(), "PACT_BROKER_TOKEN": "t",
		"PACT_WEBHOOK_URL":  "https://api.github.com/repos/acme/faultline/dispatches",
		"PACT_WEBHOOK_AUTH": "Bearer ghp-secret",
	}, "create-webhook")
	if res.code != 0 {
		t.Fatalf("exit %d, want 0; output:\n%s", res.code, res.output)
	}
	posts := broker.requestsTo("POST", "/webhooks")
	if len(posts) != 2 {
		t.Fatalf("%d webhooks created, want one per provider; requests: %s", len(posts), describe(broker.requests()))
	}
	providers := map[string]bool{}
	for _, p := range posts {
		var hook struct {
			Provider struct {
				Name string `json:"name"`
			} `json:"provider"`
			Events []struct {
				Name string `json:"name"`
			} `json:"events"`
			Request struct {
				Method  string            `json:"method"`
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
				Body    any               `json:"body"`
			} `json:"request"`
		}
		if err := json.Unmarshal(p.Body, &hook); err != nil {
			t.Fatalf("webhook body: %v\n%s", err, p.Body)
		}
		providers[hook.Provider.Name] = true
		if len(hook.Events) != 1 || hook.Events[0].Name != "contract_requiring_verification_published" {
			t.Errorf("events %+v, want contract_requiring_verification_published", hook.Events)
		}
		if hook.Request.Method != "POST" || hook.Request.URL != "https://api.github.com/repos/acme/faultline/dispatches" ||
			hook.Request.Headers["Authorization"] != "Bearer ghp-secret" {
			t.Errorf("request %+v", hook.Request)
		}
		body, _ := json.Marshal(hook.Request.Body)
		for _, want := range []string{"${pactbroker.pactUrl}", "${pactbroker.providerName}", "contract_requiring_verification_published"} {
			if !strings.Contains(string(body), want) && !strings.Contains(string(p.Body), want) {
				t.Errorf("webhook payload lacks %s: %s", want, p.Body)
			}
		}
	}
	if !providers["inventory-service"] || !providers["order-service"] {
		t.Errorf("webhooks for %v, want inventory-service and order-service", providers)
	}
}

// newStatusServer answers every request with status, and returns its URL.
func newStatusServer(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeHAL(w, status, map[string]any{"error": http.StatusText(status)})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
