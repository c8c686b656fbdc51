package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
)

// newService opens a service on a fresh database in t.TempDir() seeded
// with catalog; cfg may carry more settings. It is closed on cleanup.
func newService(t testing.TB, catalog map[string]int, cfg inventory.Config) *inventory.Service {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "inventory.db")
	}
	cfg.Catalog = catalog
	svc, err := inventory.New(cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close service: %v", err)
		}
	})
	return svc
}

// call sends one request to h and returns the status and the raw body.
func call(t testing.TB, h http.Handler, method, path string, body io.Reader) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q, want application/json", method, path, ct)
	}
	return rec.Code, rec.Body.Bytes()
}

// errCode returns the code of a web.ErrorBody, failing when body is not one.
func errCode(t testing.TB, body []byte) string {
	t.Helper()
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not an error body (err %v): %s", err, body)
	}
	return eb.Error.Code
}

func available(t testing.TB, st *inventory.Store, sku string) int {
	t.Helper()
	n, err := st.Available(context.Background(), sku)
	if err != nil {
		t.Fatalf("available %s: %v", sku, err)
	}
	return n
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// recorder is a Publisher that records what it is sent; it fails every
// send while fail is set. Safe for concurrent use.
type recorder struct {
	mu   sync.Mutex
	msgs []events.Message
	fail error
}

func (r *recorder) Send(ctx context.Context, m events.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("publish without a deadline")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) sent() []events.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Message(nil), r.msgs...)
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// listen opens a loopback listener on a free port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// waitRun waits for Service.Run to return after its context was cancelled
// and fails unless it returned nil within 20s.
func waitRun(t testing.TB, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of cancellation")
	}
}

// serve runs svc on a loopback listener until the test ends (Run must then
// return nil within 20 s: waitRun) and returns its base URL
// ("http://127.0.0.1:port") and the context Run got.
func serve(t testing.TB, svc *inventory.Service) (base string, ctx context.Context) {
	t.Helper()
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, ln) }()
	t.Cleanup(func() { cancel(); waitRun(t, done) })
	return "http://" + ln.Addr().String(), ctx
}

// newProducer returns a producer on kafka, closed on cleanup.
func newProducer(t testing.TB, kafka messaging.Config) *messaging.Producer {
	t.Helper()
	p, err := messaging.NewProducer(kafka)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}
