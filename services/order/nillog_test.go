package order_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/order"
)

// A nil logger discards: New and Run (web.Serve logs through it) must not
// panic, and the service serves and shuts down cleanly.
func TestNilLoggerServes(t *testing.T) {
	cfg := order.Config{DBPath: filepath.Join(t.TempDir(), "order.db")}
	cfg.Mode = order.ModeSync // no Kafka: the HTTP API alone
	svc, err := order.New(cfg, nil)
	if err != nil {
		t.Fatalf("new with nil logger: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, ln) }()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		cancel()
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after its context ended")
	}
}
