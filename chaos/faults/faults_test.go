package faults_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline-harness/faultline/chaos/faults"
)

// setup starts an in-process Toxiproxy, an upstream HTTP server and one
// proxy "p" in front of it. It returns the injector and the proxy's URL.
func setup(t *testing.T) (*faults.Injector, string) {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.New(io.Discard))
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() { api.Close(); _ = srv.Collection.Clear() })
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(upstream.Close)

	in := faults.NewInjector(api.URL)
	p, err := in.Client().CreateProxy("p", "127.0.0.1:0", upstream.Listener.Addr().String())
	if err != nil {
		t.Fatalf("create proxy: %v", err)
	}
	return in, "http://" + p.Listen
}

// get makes one request on a fresh connection (so no pooled connection
// skips a toxic) and returns its latency and error.
func get(url string, timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get(url)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	return time.Since(start), err
}

func TestLatencyAddsDelayAndUndoRemovesIt(t *testing.T) {
	in, url := setup(t)
	ctx := context.Background()
	undo, err := in.Latency(ctx, "p", 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // per request, not on average
		if d, err := get(url, 2*time.Second); err != nil || d < 280*time.Millisecond {
			t.Fatalf("request %d with latency toxic: %v after %v, want >= ~300ms", i, err, d)
		}
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := get(url, 2*time.Second); err != nil || d > 200*time.Millisecond {
		t.Fatalf("after undo: %v after %v, want fast success", err, d)
	}
	if err := undo(ctx); err != nil {
		t.Fatalf("second undo: %v", err)
	}
}

func TestDownRefusesAndUndoRestores(t *testing.T) {
	in, url := setup(t)
	ctx := context.Background()
	undo, err := in.Down(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(url, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("with proxy down: err = %v, want connection refused", err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := get(url, time.Second); err != nil {
		t.Fatalf("after undo: %v", err)
	}
}

func TestTimeoutBlackholesUntilClientTimeout(t *testing.T) {
	in, url := setup(t)
	ctx := context.Background()
	undo, err := in.Timeout(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := get(url, 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || d < 250*time.Millisecond {
		t.Fatalf("blackholed request: %v after %v, want a client timeout at ~300ms", err, d)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := get(url, time.Second); err != nil {
		t.Fatalf("after undo: %v", err)
	}
}

func TestResetPeerResetsAndUndoRestores(t *testing.T) {
	in, url := setup(t)
	ctx := context.Background()
	undo, err := in.ResetPeer(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(url, time.Second); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("through reset_peer: err = %v, want connection reset (or EOF)", err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := get(url, time.Second); err != nil {
		t.Fatalf("after undo: %v", err)
	}
}

// The bandwidth toxic is listed with its rate AND observed: a 4,000-byte
// answer through a 2 KB/s downstream takes about 2 s, against
// milliseconds without it.
func TestBandwidthSlowsTransfersAndUndoRestores(t *testing.T) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.New(io.Discard))
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() { api.Close(); _ = srv.Collection.Clear() })
	body := strings.Repeat("x", 4000)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(upstream.Close)
	in := faults.NewInjector(api.URL)
	p, err := in.Client().CreateProxy("p", "127.0.0.1:0", upstream.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + p.Listen
	ctx := context.Background()
	undo, err := in.Bandwidth(ctx, "p", faults.Downstream, 2)
	if err != nil {
		t.Fatal(err)
	}
	st, err := in.Inspect(ctx, "p")
	if err != nil || len(st.Toxics) != 1 || st.Toxics[0].Type != "bandwidth" || st.Toxics[0].Attributes["rate"] != float64(2) {
		t.Fatalf("toxics after Bandwidth = %+v, %v; want one bandwidth toxic, rate 2", st.Toxics, err)
	}
	if d, err := get(url, 10*time.Second); err != nil || d < 1500*time.Millisecond {
		t.Fatalf("4,000 bytes at 2 KB/s: %v after %v, want >= ~2s", err, d)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := get(url, time.Second); err != nil || d > 500*time.Millisecond {
		t.Fatalf("after undo: %v after %v, want a fast answer", err, d)
	}
}

// Toxicity is passed through; 0 means every connection.
func TestApplyKeepsToxicityAndStream(t *testing.T) {
	in, _ := setup(t)
	ctx := context.Background()
	if _, err := in.Apply(ctx, "p", faults.Toxic{Type: faults.TypeLatency, Stream: faults.Upstream, Toxicity: 0.5, Attributes: map[string]any{"latency": 10}}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(ctx, "p", faults.Toxic{Type: faults.TypeTimeout, Stream: faults.Downstream, Attributes: map[string]any{"timeout": 0}}); err != nil {
		t.Fatal(err)
	}
	st, err := in.Inspect(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float32{}
	for _, tx := range st.Toxics {
		got[tx.Name+"/"+tx.Stream] = tx.Toxicity
	}
	if got["p-latency-upstream/upstream"] != 0.5 || got["p-timeout-downstream/downstream"] != 1 {
		t.Fatalf("toxics = %v, want latency upstream at 0.5 and timeout downstream at 1", got)
	}
}

// RestoreProxies resets only the proxies it is given: a foreign proxy on
// the same server (disabled, with a toxic) is left exactly as it was.
func TestRestoreProxiesLeavesOtherProxiesAlone(t *testing.T) {
	in, url := setup(t)
	ctx := context.Background()
	foreign, err := in.Client().CreateProxy("compose-foreign", "127.0.0.1:0", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := foreign.AddToxic("foreign-latency", "latency", "downstream", 1, toxiclient.Attributes{"latency": 1000}); err != nil {
		t.Fatal(err)
	}
	if err := foreign.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Down(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Latency(ctx, "p", time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if err := in.RestoreProxies(ctx, "p", "no-such-proxy"); err != nil {
		t.Fatal(err)
	}
	p, err := in.Inspect(ctx, "p")
	if err != nil || !p.Enabled || len(p.Toxics) != 0 {
		t.Fatalf("p after RestoreProxies = %+v, %v; want enabled, no toxics", p, err)
	}
	if d, err := get(url, time.Second); err != nil || d > 500*time.Millisecond {
		t.Fatalf("through p after restore: %v after %v", err, d)
	}
	f, err := in.Inspect(ctx, "compose-foreign")
	if err != nil || f.Enabled || len(f.Toxics) != 1 || f.Toxics[0].Name != "foreign-latency" {
		t.Fatalf("compose-foreign after RestoreProxies = %+v, %v; want still disabled with its toxic", f, err)
	}
}

func TestAllUndoesWhatItAppliedWhenOneFails(t *testing.T) {
	in, _ := setup(t)
	ctx := context.Background()
	_, err := faults.All(ctx,
		func(ctx context.Context) (faults.Undo, error) { return in.Down(ctx, "p") },
		func(ctx context.Context) (faults.Undo, error) { return in.Down(ctx, "no-such-proxy") },
	)
	if err == nil {
		t.Fatal("All succeeded with an unknown proxy")
	}
	p, err := in.Client().Proxy("p")
	if err != nil || !p.Enabled {
		t.Fatalf("proxy p left disabled after a failed All: %+v, %v", p, err)
	}
}

func TestControlCallsHonourTheDeadline(t *testing.T) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(func() { hung.CloseClientConnections(); hung.Close() })
	in := faults.NewInjector(hung.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.Down(ctx, "p")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("Down on a hung control plane: %v after %v, want deadline exceeded at ~200ms", err, time.Since(start))
	}
}

func TestProxyManagementHonoursTheDeadline(t *testing.T) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(func() { hung.CloseClientConnections(); hung.Close() })
	in := faults.NewInjector(hung.URL)
	for name, fn := range map[string]func(context.Context) error{
		"Ping": func(ctx context.Context) error { _, err := in.Ping(ctx); return err },
		"CreateProxy": func(ctx context.Context) error {
			_, err := in.CreateProxy(ctx, "p", "127.0.0.1:0", "127.0.0.1:1")
			return err
		},
		"SetUpstream": func(ctx context.Context) error { return in.SetUpstream(ctx, "p", "127.0.0.1:1") },
		"DeleteProxy": func(ctx context.Context) error { return in.DeleteProxy(ctx, "p") },
		"Reset":       func(ctx context.Context) error { return in.Reset(ctx) },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := fn(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("%s on a hung control plane: %v after %v, want deadline exceeded at ~200ms", name, err, time.Since(start))
		}
	}
}

func TestProxyManagement(t *testing.T) {
	in, url := setup(t)
	ctx := context.Background()
	if v, err := in.Ping(ctx); err != nil || v == "" {
		t.Fatalf("Ping = %q, %v", v, err)
	}
	if _, err := get(url, time.Second); err != nil {
		t.Fatalf("through p: %v", err)
	}
	// Point p at a port nobody listens on: an enabled proxy whose upstream
	// is down accepts and then closes.
	if err := in.SetUpstream(ctx, "p", "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(url, time.Second); err == nil {
		t.Fatal("request succeeded with the upstream moved away")
	}
	p2, err := in.CreateProxy(ctx, "p2", "127.0.0.1:0", "127.0.0.1:1")
	if err != nil || p2.Listen == "127.0.0.1:0" {
		t.Fatalf("CreateProxy = %+v, %v", p2, err)
	}
	if _, err := in.CreateProxy(ctx, "p2", "127.0.0.1:0", "127.0.0.1:1"); err != nil {
		t.Fatalf("CreateProxy replacing p2: %v", err)
	}
	if err := in.DeleteProxy(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if err := in.DeleteProxy(ctx, "p2"); err != nil {
		t.Fatalf("deleting a missing proxy: %v", err)
	}
	if _, err := in.Client().Proxy("p2"); err == nil {
		t.Fatal("p2 still exists")
	}
}
