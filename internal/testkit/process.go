package testkit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildBinaries builds the module's cmd/<name> packages (go build, at most
// 3 minutes each) into one temporary directory and returns it; binary
// <name> is at filepath.Join(dir, name).
func BuildBinaries(t testing.TB, names ...string) string {
	t.Helper()
	// go test puts its own GOROOT/bin first on the test's PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	dir := t.TempDir()
	for _, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(dir, name),
			"github.com/faultline-harness/faultline/cmd/"+name).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// BuildBinary builds the module's cmd/<name> package (BuildBinaries) and
// returns the binary's path.
func BuildBinary(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(BuildBinaries(t, name), name)
}

// Process is a binary started by StartProcess. Its stdout and stderr are
// kept in memory (Output). Safe for concurrent use.
type Process struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error // cmd.Wait's result, set before done closes
}

// StartProcess starts the binary at path with args and an environment of
// PATH only (nothing from the test's environment, such as KAFKA_BROKERS,
// leaks in). The process is killed on cleanup if it is still running.
// Output copying ends at most 5 s after the process exits, even when a
// child of it still holds stdout or stderr open.
func StartProcess(t testing.TB, path string, args ...string) *Process {
	t.Helper()
	return StartProcessEnv(t, path, nil, args...)
}

// StartProcessEnv is StartProcess with env ("KEY=value") added to the
// process's environment of PATH only.
func StartProcessEnv(t testing.TB, path string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{name: filepath.Base(path), cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = (*processWriter)(p), (*processWriter)(p)
	p.cmd.WaitDelay = 5 * time.Second // a child the process left behind must not hold Wait on its output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type processWriter Process

func (w *processWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(b)
}

// Output returns the last 4,000 bytes the process wrote (stdout and
// stderr interleaved), for failure messages.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.out.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// WaitHealthy polls GET url every 50 ms until it answers 200, and fails
// the test when the process exits first or timeout passes.
func (p *Process) WaitHealthy(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s answered 200: %v\n%s", p.name, url, p.err, p.Output())
		case <-time.After(50 * time.Millisecond): // poll interval
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not 200 within %v (last error %v)\n%s", p.name, url, timeout, err, p.Output())
		}
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 when a signal killed it). It fails the test on timeout.
func (p *Process) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v\n%s", p.name, timeout, p.Output())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil, errors.Is(p.err, exec.ErrWaitDelay): // exited 0; a child kept its output open
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("%s: wait: %v", p.name, p.err)
		return -1
	}
}

// WaitClean waits up to timeout for the process to exit (after a SIGTERM,
// say) and fails the test unless it exited 0 within timeout.
func (p *Process) WaitClean(t testing.TB, timeout time.Duration) {
	t.Helper()
	if code := p.Wait(t, timeout); code != 0 {
		t.Fatalf("%s exited %d, want 0\n%s", p.name, code, p.Output())
	}
}

// StopClean sends SIGTERM to every process first, then fails the test
// unless each exits 0 within timeout (WaitClean).
func StopClean(t testing.TB, timeout time.Duration, ps ...*Process) {
	t.Helper()
	for _, p := range ps {
		p.Signal(t, syscall.SIGTERM)
	}
	for _, p := range ps {
		p.WaitClean(t, timeout)
	}
}

// CheckOutput fails the test (without stopping it) for each of wants that
// the process's output so far does not contain, such as the lines of a
// start-up log.
func (p *Process) CheckOutput(t testing.TB, wants ...string) {
	t.Helper()
	out := p.Output()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s output lacks %s:\n%s", p.name, want, out)
		}
	}
}

// ExitCase is one run of a binary that ends by itself (help, a usage
// error): started with Args, it exits with Code and its output (stdout and
// stderr) contains Want.
type ExitCase struct {
	Args []string
	Code int
	Want string
}

// Check runs the binary at path with tc.Args and fails the test when it
// exits with another code than tc.Code or without tc.Want in its output,
// or is still running after 20 s.
func (tc ExitCase) Check(t testing.TB, path string) {
	t.Helper()
	p := StartProcess(t, path, tc.Args...)
	if code := p.Wait(t, 20*time.Second); code != tc.Code || !strings.Contains(p.Output(), tc.Want) {
		t.Errorf("%s %q: exit %d, want %d with %q in\n%s", p.name, tc.Args, code, tc.Code, tc.Want, p.Output())
	}
}

// CheckExits checks each case (ExitCase.Check) in a subtest named by its
// arguments ("no arguments" for none).
func CheckExits(t *testing.T, path string, cases []ExitCase) {
	t.Helper()
	for _, tc := range cases {
		name := strings.Join(tc.Args, " ")
		if name == "" {
			name = "no arguments"
		}
		t.Run(name, func(t *testing.T) { tc.Check(t, path) })
	}
}

// Serve runs run (a service's Run) on a 127.0.0.1:0 listener and returns
// its base URL ("http://127.0.0.1:port") and stop, which cancels run's
// context and fails the test unless run returns nil within 20 s. stop is
// idempotent and also runs on cleanup.
func Serve(t testing.TB, run func(ctx context.Context, ln net.Listener) error) (base string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil after shutdown", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return within 20s of cancel")
		}
	})
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// ServeHealthyThenStop serves run (a service's Run) with Serve, checks
// that GET /healthz answers 200 (one request, 2 s timeout), then stops it
// and fails the test unless run returns nil within 20 s (a graceful
// shutdown).
func ServeHealthyThenStop(t testing.TB, run func(ctx context.Context, ln net.Listener) error) {
	t.Helper()
	base, stop := Serve(t, run)
	defer stop()
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d, want 200", resp.StatusCode)
	}
}

// NilLoggerServes builds a service with newService(cfg, nil) (a service's
// New: a nil logger must discard, not panic), closes it on cleanup, and
// checks that it serves and shuts down cleanly (ServeHealthyThenStop).
func NilLoggerServes[C any, S interface {
	Run(ctx context.Context, ln net.Listener) error
	Close() error
}](t testing.TB, cfg C, newService func(C, *slog.Logger) (S, error)) {
	t.Helper()
	svc, err := newService(cfg, nil)
	if err != nil {
		t.Fatalf("new with nil logger: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	ServeHealthyThenStop(t, svc.Run)
}
