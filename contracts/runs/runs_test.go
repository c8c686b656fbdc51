//go:build pact

package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// runDir reads the run's own pact folder from its consumer phase header.
var runDir = regexp.MustCompile(`contracts: consumer phase .* -> (\S+)`)

// runTimeout bounds one contract run (consumer, lint, provider, install)
// on a loaded 2-core machine.
const runTimeout = 5 * time.Minute

// Two contract runs in one checkout, overlapping, into the same PACT_DIR:
// the second starts while the first verifies its providers, when a shared
// pact folder would be cleared and rewritten under the first one's
// verifier. Both must pass, and PACT_DIR must end up holding one whole run
// (every pact file, lint clean, stamped), with nothing half-installed left
// beside it.
func TestConcurrentRuns(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "pacts")
	first := start(t, root, dest)
	testkit.Eventually(t, runTimeout, func() (bool, string) {
		out := first.output()
		return strings.Contains(out, "contracts: provider phase") || first.finished(), "the first run has not reached its provider phase:\n" + out
	})
	second := start(t, root, dest)
	for i, r := range []*contractRun{first, second} {
		if code := r.wait(); code != 0 {
			t.Errorf("run %d/2 exited %d, want 0; output:\n%s", i+1, code, r.output())
		}
	}
	if t.Failed() {
		return
	}
	// Each run worked in a pact folder of its own, not in PACT_DIR.
	dirs := map[string]bool{}
	for i, r := range []*contractRun{first, second} {
		m := runDir.FindStringSubmatch(r.output())
		if m == nil || m[1] == dest {
			t.Fatalf("run %d/2 did not work in a pact folder of its own (consumer phase header: %q); output:\n%s", i+1, m, r.output())
		}
		dirs[m[1]] = true
	}
	if len(dirs) != 2 {
		t.Fatalf("both runs worked in %v", dirs)
	}

	var stamp struct {
		Files map[string]string `json:"files"`
	}
	data, err := os.ReadFile(filepath.Join(dest, ".pact-provenance"))
	if err != nil {
		t.Fatalf("no provenance stamp in %s: %v", dest, err)
	}
	if err := json.Unmarshal(data, &stamp); err != nil {
		t.Fatal(err)
	}
	for _, p := range contracts.Pacts() {
		if _, err := os.Stat(filepath.Join(dest, p.File())); err != nil {
			t.Errorf("%s: %v", p.File(), err)
		}
		if stamp.Files[p.File()] == "" {
			t.Errorf("the stamp does not list %s: %s", p.File(), data)
		}
	}
	lint := exec.Command("go", "run", "./contracts/pactlint", "-dir", dest)
	lint.Dir = root
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("the installed pacts fail the lint: %v\n%s", err, out)
	}
	for _, leftover := range []string{dest + ".new", dest + ".old"} {
		if _, err := os.Stat(leftover); err == nil {
			t.Errorf("%s left behind", leftover)
		}
	}
}

// contractRun is one scripts/pact-contracts.sh run in the background.
type contractRun struct {
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	code int
}

func (r *contractRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(p)
}

func (r *contractRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

func (r *contractRun) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *contractRun) wait() int {
	<-r.done
	return r.code
}

// start runs consumer, lint, provider and install into dest (without the
// race detector: the runs are what is tested), and stops it when the test
// ends.
func start(t *testing.T, root, dest string) *contractRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	r := &contractRun{done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "pact-contracts.sh"), "consumer", "lint", "provider", "install")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PACT_DIR="+dest, "PACT_RACE=")
	cmd.Stdout, cmd.Stderr = r, r
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		defer cancel()
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			r.code = -1
		case errors.As(err, &exit):
			r.code = exit.ExitCode()
		case err != nil:
			r.code = -1
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}
