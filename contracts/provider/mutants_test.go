//go:build pact

package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/contracts/mutants"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// Bounds of one child run: a verification child, and a consumer-code
// mutant's build and run (cgo link included, on a loaded machine).
const (
	childTimeout = 2 * time.Minute
	buildTimeout = 5 * time.Minute
)

// TestMutants runs the catalogue of contracts/mutants against the
// contracts (make mutants) and fails unless every breaking mutant is
// caught, naming its mismatch, and every harmless one passes:
//
//   - HTTP and message mutants: one verification child per provider
//     (this test binary running TestInventoryProvider or TestOrderProvider)
//     verifies a synthesized pact holding the real interactions (controls,
//     which must pass) and one copy per mutant and target, whose extra
//     provider state "mutant: NAME" switches the mutant on;
//   - wire mutants: one child each (TestOrderPlacedOnTheWire with the
//     producer changed), and one control child;
//   - consumer-code mutants: the consumer test, built with `go test
//     -overlay` in place of the edited file, must fail.
//
// It reads the consumer phase's pact files from PACT_DIR and prints a
// table of verdicts.
func TestMutants(t *testing.T) {
	if os.Getenv(mutantsDirEnv) != "" || os.Getenv(wireMutantEnv) != "" {
		t.Skip("a mutant child runs only its provider test")
	}
	all := mutants.All()
	synthDir := t.TempDir()
	var copies []mutants.Copy
	for _, p := range contracts.Pacts() {
		data, err := os.ReadFile(filepath.Join(testkit.PactDir(t), p.File()))
		if err != nil {
			t.Fatalf("pact file: %v (run the consumer phase first: make mutants does)", err)
		}
		out, cs, err := mutants.Synthesize(data, all)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(synthDir, p.File()), out, 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, cs...)
	}

	start := time.Now()
	verdicts := map[string]verdict{}
	var mu sync.Mutex
	record := func(name string, v verdict) {
		mu.Lock()
		defer mu.Unlock()
		verdicts[name] = v
	}

	// Verification children: both providers, the wire control and every
	// wire mutant, at once (they are light).
	var wg sync.WaitGroup
	for _, prov := range []struct{ name, test string }{
		{contracts.InventoryService, "TestInventoryProvider"},
		{contracts.OrderService, "TestOrderProvider"},
	} {
		wg.Go(func() {
			code, out := runChild(t, prov.test, map[string]string{mutantsDirEnv: synthDir})
			for name, v := range judgeSynthesized(t, prov.name, all, copies, code, out) {
				record(name, v)
			}
		})
	}
	wg.Go(func() {
		if code, out := runChild(t, "TestOrderPlacedOnTheWire", nil); code != 0 {
			t.Errorf("control: the wire check without a mutant exited %d, want 0; output:\n%s", code, out)
		}
	})
	for _, m := range all {
		if m.Layer != mutants.LayerWire {
			continue
		}
		wg.Go(func() {
			code, out := runChild(t, "TestOrderPlacedOnTheWire", map[string]string{wireMutantEnv: m.Name})
			record(m.Name, judgeRun(m, code, out, applied(out)[m.Name] > 0, "an order-placed event"))
		})
	}
	wg.Wait()

	// Consumer-code mutants: one build each, two at a time.
	sem := make(chan struct{}, 2)
	for _, m := range all {
		if m.Layer != mutants.LayerConsumer {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			code, out := runConsumerMutant(t, m)
			record(m.Name, judgeRun(m, code, out, true, ""))
		})
	}
	wg.Wait()

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tmutant\tclass\tlayer\tverdict\tevidence")
	var caught, passed, wrong int
	for i, m := range all {
		v, ok := verdicts[m.Name]
		if !ok {
			v = verdict{ok: false, text: "NOT RUN"}
		}
		switch {
		case !v.ok:
			wrong++
			t.Errorf("mutant %s (%s, %s): %s\n%s", m.Name, m.Class, m.Layer, v.text, v.detail)
		case m.Class == mutants.Breaking:
			caught++
		default:
			passed++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, m.Name, m.Class, m.Layer, v.text, v.evidence)
	}
	_ = tw.Flush()
	t.Logf("mutants in %s: %d/%d breaking caught, %d/%d harmless passed\n%s",
		time.Since(start).Round(time.Second), caught, count(all, mutants.Breaking), passed, count(all, mutants.Harmless), table.String())
	if wrong > 0 {
		t.Errorf("%d mutant(s) with the wrong verdict", wrong)
	}
}

func count(ms []mutants.Mutant, c mutants.Class) int {
	n := 0
	for _, m := range ms {
		if m.Class == c {
			n++
		}
	}
	return n
}

// verdict is one mutant's result.
type verdict struct {
	ok       bool   // the mutant did what its class demands
	text     string // caught, passed, NOT CAUGHT, ...
	evidence string // the mismatch line that caught it
	detail   string // output for a wrong verdict
}

// judgeSynthesized judges the mutants of provider's synthesized pact from
// one verification child's exit code and output.
func judgeSynthesized(t *testing.T, provider string, all []mutants.Mutant, copies []mutants.Copy, code int, out string) map[string]verdict {
	t.Helper()
	failures := mutants.Failures(out)
	counts := applied(out)
	// The controls (the real interactions) must pass.
	for _, p := range contracts.ForProvider(provider) {
		for _, in := range p.Interactions {
			if f, failed := mutants.FailureOf(failures, in.Description); failed {
				t.Errorf("control %q of %s failed in the mutant run:\n%s", in.Description, provider, f.Text)
			}
			if !strings.Contains(out, in.Description) {
				t.Errorf("control %q of %s was not verified; output:\n%s", in.Description, provider, out)
			}
		}
	}
	if len(counts) == 0 && code != 0 && len(failures) == 0 {
		t.Errorf("the %s mutant child failed without a verification summary (exit %d):\n%s", provider, code, out)
	}
	verdicts := map[string]verdict{}
	for _, m := range all {
		if m.Provider != provider || (m.Layer != mutants.LayerHTTP && m.Layer != mutants.LayerMessage) {
			continue
		}
		v := verdict{ok: true}
		for _, c := range copies {
			if c.Mutant != m.Name {
				continue
			}
			f, failed := mutants.FailureOf(failures, c.Description)
			switch {
			case !strings.Contains(out, c.Description):
				v = verdict{text: "NOT VERIFIED", detail: fmt.Sprintf("%q is not in the verifier's output", c.Description)}
			case counts[m.Name] == 0:
				v = verdict{text: "NOT APPLIED", detail: "the mutant changed nothing (its target did not look as expected)\n" + errorLines(out)}
			case m.Class == mutants.Harmless && failed:
				v = verdict{text: "FAILED", detail: f.Text}
			case m.Class == mutants.Harmless:
				v.text = "passed"
			case !failed:
				v = verdict{text: "NOT CAUGHT", detail: fmt.Sprintf("%q passed verification", c.Description)}
			case !strings.Contains(f.Text, m.Want):
				v = verdict{text: "CAUGHT FOR ANOTHER REASON", detail: fmt.Sprintf("want %q in:\n%s", m.Want, f.Text)}
			default:
				v.text, v.evidence = "caught", evidenceLine(f.Text, m.Want)
			}
			if !v.ok {
				break
			}
		}
		if v.text == "" {
			v = verdict{text: "NO COPY", detail: "no interaction of the synthesized pact carries this mutant"}
		}
		verdicts[m.Name] = v
	}
	return verdicts
}

// judgeRun judges a mutant run in a process of its own (wire, consumer
// code): a breaking one must exit non-zero with Want in its output (in the
// failure of the interaction described by description, if given), a
// harmless one must exit 0, having applied.
func judgeRun(m mutants.Mutant, code int, out string, wasApplied bool, description string) verdict {
	text := out
	if description != "" {
		if f, ok := mutants.FailureOf(mutants.Failures(out), description); ok {
			text = f.Text
		}
	}
	switch {
	case !wasApplied:
		return verdict{text: "NOT APPLIED", detail: errorLines(out) + out}
	case m.Class == mutants.Harmless && code != 0:
		return verdict{text: "FAILED", detail: out}
	case m.Class == mutants.Harmless:
		return verdict{ok: true, text: "passed"}
	case code == 0:
		return verdict{text: "NOT CAUGHT", detail: out}
	case !strings.Contains(text, m.Want):
		return verdict{text: "CAUGHT FOR ANOTHER REASON", detail: fmt.Sprintf("want %q in:\n%s", m.Want, out)}
	}
	return verdict{ok: true, text: "caught", evidence: evidenceLine(text, m.Want)}
}

// applied reads a mutant child's report of how often each mutant applied.
func applied(out string) map[string]int {
	counts := map[string]int{}
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), appliedPrefix); ok {
			var c map[string]int
			if json.Unmarshal([]byte(rest), &c) == nil {
				for k, v := range c {
					counts[k] += v
				}
			}
		}
	}
	return counts
}

func errorLines(out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		if strings.Contains(line, "faultline-mutant-error") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// evidenceLine is the line of text holding want, trimmed to fit a table.
func evidenceLine(text, want string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, want) {
			line = strings.TrimSpace(line)
			if len(line) > 110 {
				line = line[:107] + "..."
			}
			return line
		}
	}
	return want
}

// runChild runs this test binary with only test selected and env added,
// against the local pact files (PACT_DIR, unless env sets it; no broker),
// and returns its exit code and output.
func runChild(t *testing.T, test string, env map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = childEnv(env)
	if _, ok := env["PACT_DIR"]; !ok {
		cmd.Env = append(cmd.Env, "PACT_DIR="+testkit.PactDir(t))
	}
	return run(t, ctx, cmd, childTimeout)
}

// runConsumerMutant builds and runs m's consumer test with m's source edit
// in place (go test -overlay), writing its pacts to a folder of its own,
// and returns its exit code and output.
func runConsumerMutant(t *testing.T, m mutants.Mutant) (int, string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	overlay, err := m.Source.WriteOverlay(root, dir)
	if err != nil {
		return -1, fmt.Sprintf("mutant %s: %v", m.Name, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "test", "-tags", "pact", "-count=1", "-overlay", overlay,
		"-run", m.ConsumerTest, "./contracts/consumer")
	cmd.Dir = root
	cmd.Env = append(childEnv(nil), "PACT_DIR="+filepath.Join(dir, "pacts"))
	return run(t, ctx, cmd, buildTimeout)
}

// childEnv is the test's environment without broker settings, mutant
// selections or PACT_DIR, plus env.
func childEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PACT_BROKER_") || name == "PACT_URL" || name == "PACT_DIR" ||
			name == mutantsDirEnv || name == wireMutantEnv {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func run(t *testing.T, ctx context.Context, cmd *exec.Cmd, limit time.Duration) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("%s did not finish within %s; output:\n%s", strings.Join(cmd.Args, " "), limit, out.String())
		return -1, out.String()
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Errorf("run %s: %v", strings.Join(cmd.Args, " "), err)
		return -1, out.String()
	}
}
