package testkit_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
)

// TestProcessExitCodeOutputAndSignal: Wait reports the exit code and
// Output what the process wrote; a process stopped by a signal it does not
// handle reports -1.
func TestProcessExitCodeOutputAndSignal(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p := testkit.StartProcess(t, sh, "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
	if code := p.Wait(t, 10*time.Second); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if out := p.Output(); !strings.Contains(out, "to-stdout") || !strings.Contains(out, "to-stderr") {
		t.Fatalf("output %q", out)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	sleeper := testkit.StartProcess(t, sleep, "30")
	sleeper.Signal(t, syscall.SIGTERM)
	if code := sleeper.Wait(t, 10*time.Second); code != -1 {
		t.Fatalf("exit code %d after SIGTERM, want -1 (killed by the signal)", code)
	}
}
