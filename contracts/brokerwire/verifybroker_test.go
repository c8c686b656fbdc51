package brokerwire

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scripts/pact-verify-broker.sh checks its configuration before it
// touches the pact library or a broker, so these tests need neither.
func TestVerifyBrokerScriptNamesMissingConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{
			name: "no base URL",
			env:  map[string]string{"PACT_BROKER_TOKEN": "t", "PACT_PROVIDER_VERSION": "abc123", "PACT_PROVIDER_BRANCH": "main"},
			want: []string{"PACT_BROKER_BASE_URL"},
		},
		{
			name: "user without password",
			env:  map[string]string{"PACT_BROKER_BASE_URL": "http://127.0.0.1:1", "PACT_BROKER_USERNAME": "ci", "PACT_PROVIDER_VERSION": "abc123", "PACT_PROVIDER_BRANCH": "main"},
			want: []string{"PACT_BROKER_PASSWORD"},
		},
		{
			name: "password without user",
			env:  map[string]string{"PACT_BROKER_BASE_URL": "http://127.0.0.1:1", "PACT_BROKER_PASSWORD": "s3cret", "PACT_PROVIDER_VERSION": "abc123", "PACT_PROVIDER_BRANCH": "main"},
			want: []string{"PACT_BROKER_USERNAME"},
		},
		{
			name: "bad publish flag",
			env:  map[string]string{"PACT_BROKER_BASE_URL": "http://127.0.0.1:1", "PACT_BROKER_TOKEN": "t", "PACT_PROVIDER_VERSION": "abc123", "PACT_PROVIDER_BRANCH": "main", "PACT_PUBLISH_VERIFICATION_RESULTS": "yes"},
			want: []string{"PACT_PUBLISH_VERIFICATION_RESULTS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out := runScript(t, "pact-verify-broker.sh", tt.env)
			if code != 2 {
				t.Fatalf("exited %d, want 2 (missing configuration); output:\n%s", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not name %s:\n%s", w, out)
				}
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("output shows the password:\n%s", out)
			}
		})
	}
}

// runScript runs scripts/NAME with env on top of the test's environment
// stripped of every PACT_ variable, and returns its exit code and output.
func runScript(t *testing.T, name string, env map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "scripts", name))
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "PACT") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("run scripts/%s: %v", name, err)
		return 0, ""
	}
}
