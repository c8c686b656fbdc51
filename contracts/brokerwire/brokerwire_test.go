package brokerwire

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// cliTimeout bounds every run of the script (and the CLI it starts).
const cliTimeout = 60 * time.Second

func TestPublishSendsOneContractPerPactFile(t *testing.T) {
	requirePactCLI(t)

	tests := []struct {
		name     string
		auth     map[string]string
		wantAuth string
	}{
		{
			name:     "bearer token",
			auth:     map[string]string{"PACT_BROKER_TOKEN": "test-token"},
			wantAuth: "Bearer test-token",
		},
		{
			name:     "basic auth",
			auth:     map[string]string{"PACT_BROKER_USERNAME": "ci", "PACT_BROKER_PASSWORD": "s3cret"},
			wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("ci:s3cret")),
		},
		{
			name:     "token wins over basic auth",
			auth:     map[string]string{"PACT_BROKER_TOKEN": "test-token", "PACT_BROKER_USERNAME": "ci", "PACT_BROKER_PASSWORD": "s3cret"},
			wantAuth: "Bearer test-token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			broker := newRecorder(t, true)
			repo := publishRepo(t)

			env := map[string]string{
				"PACT_BROKER_BASE_URL":  broker.URL(),
				"PACT_CONSUMER_VERSION": "abc123",
				"PACT_BRANCH":           "feature-x",
				"PACT_BUILD_URL":        "https://ci.example.com/build/42",
			}
			for k, v := range tt.auth {
				env[k] = v
			}
			res := runScriptIn(t, repo, env, "publish")
			if res.code != 0 {
				t.Fatalf("publish exited %d, want 0; output:\n%s", res.code, res.output)
			}

			if n := len(broker.requestsTo("GET", "/")); n == 0 {
				t.Errorf("the CLI never fetched the HAL index; requests: %s", describe(broker.requests()))
			}
			for _, req := range broker.requests() {
				if got := req.Header.Get("Authorization"); got != tt.wantAuth {
					t.Errorf("%s %s: Authorization %q, want %q", req.Method, req.Path, got, tt.wantAuth)
				}
			}

			posts := broker.requestsTo("POST", "/contracts/publish")
			if len(posts) != len(contracts.Pacts()) {
				t.Fatalf("got %d/%d publish requests (one per pact file); requests: %s", len(posts), len(contracts.Pacts()), describe(broker.requests()))
			}
			published := map[string]publishContract{} // by consumer-provider
			for i, post := range posts {
				var body publishRequest
				if err := json.Unmarshal(post.Body, &body); err != nil {
					t.Fatalf("publish request %d: body is not JSON: %v\n%s", i, err, post.Body)
				}
				if body.PacticipantVersionNumber != "abc123" {
					t.Errorf("publish request %d: pacticipantVersionNumber %q, want abc123", i, body.PacticipantVersionNumber)
				}
				if body.Branch != "feature-x" {
					t.Errorf("publish request %d: branch %q, want feature-x", i, body.Branch)
				}
				if len(body.Tags) != 0 {
					t.Errorf("publish request %d: tags %q, want none (branches replace tags)", i, body.Tags)
				}
				if body.BuildURL != "https://ci.example.com/build/42" {
					t.Errorf("publish request %d: buildUrl %q, want the PACT_BUILD_URL", i, body.BuildURL)
				}
				if len(body.Contracts) != 1 {
					t.Fatalf("publish request %d: %d contracts, want 1 per pact file", i, len(body.Contracts))
				}
				c := body.Contracts[0]
				if body.PacticipantName != c.ConsumerName {
					t.Errorf("publish request %d: pacticipantName %q, want the consumer %q", i, body.PacticipantName, c.ConsumerName)
				}
				if c.Specification != "pact" {
					t.Errorf("publish request %d: specification %q, want pact", i, c.Specification)
				}
				if c.ContentType != "application/json" {
					t.Errorf("publish request %d: contentType %q, want application/json", i, c.ContentType)
				}
				published[c.ConsumerName+"-"+c.ProviderName] = c
			}

			for _, p := range contracts.Pacts() {
				key := strings.TrimSuffix(p.File(), ".json")
				c, ok := published[key]
				if !ok {
					t.Errorf("%s was not published (consumer-provider %q); published: %v", p.File(), key, keys(published))
					continue
				}
				assertSamePact(t, p.File(), string(testkit.SkeletonPact(p)), c.Content)
			}
		})
	}
}

func TestCanIDeploy(t *testing.T) {
	requirePactCLI(t)

	tests := []struct {
		name       string
		deployable bool
	}{
		{name: "deployable", deployable: true},
		{name: "not deployable", deployable: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			broker := newRecorder(t, tt.deployable)
			res := runBrokerScript(t, map[string]string{
				"PACT_BROKER_BASE_URL": broker.URL(),
				"PACT_BROKER_TOKEN":    "test-token",
				"PACTICIPANT":          "inventory",
				"VERSION":              "abc123",
				"ENVIRONMENT":          "production",
			}, "can-i-deploy")

			if tt.deployable && res.code != 0 {
				t.Errorf("can-i-deploy exited %d for a deployable version, want 0; output:\n%s", res.code, res.output)
			}
			if !tt.deployable && res.code == 0 {
				t.Errorf("can-i-deploy exited 0 for a version that is not deployable; output:\n%s", res.output)
			}

			queries := broker.requestsTo("GET", "/matrix")
			if len(queries) != 1 {
				t.Fatalf("got %d matrix queries, want 1; requests: %s", len(queries), describe(broker.requests()))
			}
			q := queries[0]
			for param, want := range map[string]string{
				"q[][pacticipant]": "inventory",
				"q[][version]":     "abc123",
				"environment":      "production",
			} {
				if got := q.Query[param]; len(got) != 1 || got[0] != want {
					t.Errorf("matrix query %s = %q, want [%q]; query: %v", param, got, want, q.Query)
				}
			}
			if got := q.Header.Get("Authorization"); got != "Bearer test-token" {
				t.Errorf("matrix query Authorization %q, want Bearer test-token", got)
			}
		})
	}
}

func TestRecordDeployment(t *testing.T) {
	requirePactCLI(t)
	t.Parallel()

	broker := newRecorder(t, true)
	res := runBrokerScript(t, map[string]string{
		"PACT_BROKER_BASE_URL": broker.URL(),
		"PACT_BROKER_TOKEN":    "test-token",
		"PACTICIPANT":          "inventory",
		"VERSION":              "abc123",
		"ENVIRONMENT":          "production",
	}, "record-deployment")
	if res.code != 0 {
		t.Fatalf("record-deployment exited %d, want 0; output:\n%s", res.code, res.output)
	}

	if n := len(broker.requestsTo("GET", "/pacticipants/inventory/versions/abc123")); n != 1 {
		t.Errorf("got %d fetches of the pacticipant version, want 1; requests: %s", n, describe(broker.requests()))
	}
	path := "/pacticipants/inventory/versions/abc123/deployed-versions/environment/" + broker.environments["production"]
	posts := broker.requestsTo("POST", path)
	if len(posts) != 1 {
		t.Fatalf("got %d deployments recorded at %s, want 1; requests: %s", len(posts), path, describe(broker.requests()))
	}
	if got := posts[0].Header.Get("Authorization"); got != "Bearer test-token" {
		t.Errorf("record-deployment Authorization %q, want Bearer test-token", got)
	}
}

// The script checks its configuration before it looks for the CLI, so this
// test needs no CLI.
func TestBrokerScriptNamesMissingBaseURL(t *testing.T) {
	for _, verb := range []string{"publish", "can-i-deploy", "record-deployment", "create-environment", "create-webhook"} {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			res := runBrokerScript(t, map[string]string{
				"PACT_BROKER_TOKEN":     "test-token",
				"PACT_CONSUMER_VERSION": "abc123",
				"PACT_BRANCH":           "feature-x",
				"PACT_DIR":              testkit.WriteSkeletonPacts(t, t.TempDir()),
				"PACTICIPANT":           "inventory",
				"VERSION":               "abc123",
				"ENVIRONMENT":           "production",
				"PACT_WEBHOOK_URL":      "https://ci.example.com/hook",
			}, verb)
			if res.code != 2 {
				t.Fatalf("%s without PACT_BROKER_BASE_URL exited %d, want 2; output:\n%s", verb, res.code, res.output)
			}
			if !strings.Contains(res.output, "PACT_BROKER_BASE_URL") {
				t.Errorf("%s without PACT_BROKER_BASE_URL: output does not name it:\n%s", verb, res.output)
			}
		})
	}
}

// repoRoot is the module root: go test runs in the package folder.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("resolve repo root: %v", err)
	}
	return root
}

// requirePactCLI fails the test when the Pact CLI is not installed, unless
// FAULTLINE_SKIP_PACT_CLI=1 asks to skip. CI installs it (make tools).
func requirePactCLI(t testing.TB) {
	t.Helper()
	cli := filepath.Join(repoRoot(t), ".tools", "pact", "bin", "pact")
	if _, err := os.Stat(cli); err == nil {
		return
	}
	if os.Getenv("FAULTLINE_SKIP_PACT_CLI") == "1" {
		t.Skipf("Pact CLI not installed at %s; skipped because FAULTLINE_SKIP_PACT_CLI=1", cli)
	}
	t.Fatalf("Pact CLI not found at %s: run `make tools` (or set FAULTLINE_SKIP_PACT_CLI=1 to skip the tests that run it)", cli)
}

type scriptResult struct {
	code   int
	output string // stdout and stderr, interleaved
}

// runBrokerScript runs this checkout's scripts/pact-broker.sh VERB (see
// runScriptIn).
func runBrokerScript(t testing.TB, env map[string]string, verb string) scriptResult {
	t.Helper()
	return runScriptIn(t, repoRoot(t), env, verb)
}

// runScriptIn runs root/scripts/pact-broker.sh VERB with env on top of a
// copy of the test's environment stripped of the variables the script
// reads, so a developer's real broker settings never leak in. It uses the
// real Pact CLI and the pactlint built for the tests; HTTP retries are off
// unless env sets them, so a wrong answer fails at once.
func runScriptIn(t testing.TB, root string, env map[string]string, verb string) scriptResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "pact-broker.sh"), verb)
	cmd.Env = []string{
		"PACT_BROKER_HTTP_RETRIES=0", "PACT_DO_NOT_TRACK=true",
		"PACT_CLI=" + filepath.Join(repoRoot(t), ".tools", "pact", "bin", "pact"),
		"PACTLINT=" + pactlintBinary(t),
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PACT") || name == "VERSION" || name == "ENVIRONMENT" || name == "CI" || strings.HasPrefix(name, "GITHUB_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second

	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("scripts/pact-broker.sh %s did not finish within %s; output:\n%s", verb, cliTimeout, out.String())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return scriptResult{code: 0, output: out.String()}
	case errors.As(err, &exitErr):
		return scriptResult{code: exitErr.ExitCode(), output: out.String()}
	default:
		t.Fatalf("run scripts/pact-broker.sh %s: %v", verb, err)
		return scriptResult{}
	}
}

// assertSamePact checks that the base64 content the CLI published is the
// pact file's JSON. The CLI parses and re-serialises each pact, orders the
// interactions its own way and stamps its own pact_models version into
// metadata.pactRust.models; everything else must come through unchanged.
func assertSamePact(t testing.TB, file, want, gotBase64 string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(gotBase64)
	if err != nil {
		t.Errorf("%s: published content is not base64: %v", file, err)
		return
	}
	var gotDoc, wantDoc map[string]any
	if err := json.Unmarshal(raw, &gotDoc); err != nil {
		t.Errorf("%s: published content is not JSON: %v\n%s", file, err, raw)
		return
	}
	if err := json.Unmarshal([]byte(want), &wantDoc); err != nil {
		t.Fatalf("%s: fixture is not JSON: %v", file, err)
	}
	if models := dropModelsVersion(gotDoc); models == "" {
		t.Errorf("%s: published pact has no metadata.pactRust.models", file)
	}
	dropModelsVersion(wantDoc)
	sortInteractions(gotDoc)
	sortInteractions(wantDoc)
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		got, _ := json.MarshalIndent(gotDoc, "", "  ")
		exp, _ := json.MarshalIndent(wantDoc, "", "  ")
		t.Errorf("%s: published content differs from the file (metadata.pactRust.models ignored)\ngot:\n%s\nwant:\n%s", file, got, exp)
	}
}

// sortInteractions sorts a pact document's interactions by description:
// the CLI writes them in its own order.
func sortInteractions(doc map[string]any) {
	ins, _ := doc["interactions"].([]any)
	slices.SortFunc(ins, func(a, b any) int {
		da, _ := a.(map[string]any)["description"].(string)
		db, _ := b.(map[string]any)["description"].(string)
		return strings.Compare(da, db)
	})
}

// dropModelsVersion removes metadata.pactRust.models from a pact document
// and returns it.
func dropModelsVersion(doc map[string]any) string {
	meta, _ := doc["metadata"].(map[string]any)
	rust, _ := meta["pactRust"].(map[string]any)
	models, _ := rust["models"].(string)
	delete(rust, "models")
	if meta != nil && len(rust) == 0 {
		delete(meta, "pactRust") // the CLI adds it to a pact without one
	}
	return models
}

func describe(reqs []recordedRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		b.WriteString("\n  " + r.Method + " " + r.Path)
		if len(r.Query) > 0 {
			b.WriteString("?" + r.Query.Encode())
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
