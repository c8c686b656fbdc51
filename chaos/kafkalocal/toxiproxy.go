package kafkalocal

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Toxiproxy is a Toxiproxy server process (the binary built from the
// module's pinned github.com/Shopify/toxiproxy/v2/cmd/server), tracked by a
// PID file in Dir.
type Toxiproxy struct {
	Addr string // API host:port, loopback only
	proc *process
}

// NewToxiproxy describes a server: bin is the toxiproxy-server binary, dir
// holds toxiproxy.pid and toxiproxy.log, addr the API address (default
// 127.0.0.1:8474).
func NewToxiproxy(bin, dir, addr string) (*Toxiproxy, error) {
	if addr == "" {
		addr = strings.TrimPrefix(DefaultToxiproxy, "http://")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("toxiproxy address %q: only loopback addresses are allowed", addr)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	return &Toxiproxy{Addr: addr, proc: &process{
		name:    "toxiproxy",
		argv:    []string{bin, "-host", host, "-port", port},
		env:     []string{"LOG_LEVEL=warn"}, // it logs every connection at info
		pidFile: filepath.Join(dir, "toxiproxy.pid"),
		logFile: filepath.Join(dir, "toxiproxy.log"),
		match:   bin,
	}}, nil
}

// URL is the API's base URL (TOXIPROXY_URL).
func (t *Toxiproxy) URL() string { return "http://" + t.Addr }

// LogPath and PIDPath locate the server's files; PID is 0 when it is not
// running.
func (t *Toxiproxy) LogPath() string { return t.proc.logFile }
func (t *Toxiproxy) PIDPath() string { return t.proc.pidFile }
func (t *Toxiproxy) PID() int        { return t.proc.pid() }

// Start starts the server unless it runs, and returns once its API answers
// (bounded by ctx, 30 s when ctx has no deadline).
func (t *Toxiproxy) Start(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if _, err := os.Stat(t.proc.argv[0]); err != nil {
		return fmt.Errorf("toxiproxy-server binary: %w (build it: make toxiproxy-server)", err)
	}
	if err := os.MkdirAll(filepath.Dir(t.proc.pidFile), 0o755); err != nil {
		return err
	}
	if t.proc.pid() == 0 {
		if c, err := net.DialTimeout("tcp", t.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return fmt.Errorf("%s is already in use by another process (not the toxiproxy of %s)", t.Addr, t.proc.pidFile)
		}
		if _, err := t.proc.launch(); err != nil {
			return err
		}
	}
	c := toxiclient.NewClient(t.URL())
	for {
		if t.proc.pid() == 0 {
			return fmt.Errorf("toxiproxy exited during start-up:\n%s", t.proc.tail(10))
		}
		ok := make(chan error, 1)
		go func() { _, err := c.Version(); ok <- err }()
		var err error
		select {
		case err = <-ok:
		case <-ctx.Done():
			return fmt.Errorf("toxiproxy API %s did not answer: %w", t.URL(), ctx.Err())
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("toxiproxy API %s did not answer: %w (last error %v)", t.URL(), ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the server (SIGTERM, SIGKILL after 10 s) and removes its PID
// file. It reports whether it was running.
func (t *Toxiproxy) Stop(ctx context.Context) (bool, error) {
	return t.proc.stop(ctx, 10*time.Second)
}
