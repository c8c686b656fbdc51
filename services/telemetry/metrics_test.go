package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// TestMetricsRoutesOutcomesAndBreaker: an unrouted path counts under
// route "unmatched" (no path as a label value), handler attempts count by
// outcome, and sync mode with a breaker exports its state.
func TestMetricsRoutesOutcomesAndBreaker(t *testing.T) {
	dir := t.TempDir()
	inv, err := inventory.New(inventory.Config{DBPath: filepath.Join(dir, "inv.db"), Catalog: inventory.DefaultCatalog()}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	invURL := serve(t, inv.Run)
	ord, err := order.New(order.Config{Mode: order.ModeSync, DBPath: filepath.Join(dir, "orders.db"), InventoryURL: invURL,
		Resilience: order.Resilience{Breaker: order.BreakerConfig{Enabled: true}}}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ord.Close() })
	base := serve(t, ord.Run)
	postOrder(t, base)
	for _, path := range []string{"/no/such/path/1", "/no/such/path/2"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	m := scrape(t, base)
	for series, want := range map[string]float64{
		`faultline_http_requests_total{code="201",route="POST /orders",service="order-service"}`:   1,
		`faultline_http_requests_total{code="404",route="unmatched",service="order-service"}`:      2,
		`faultline_breaker_state{breaker="inventory-reservations",service="order-service"}`:        0,
		`faultline_breaker_opened_total{breaker="inventory-reservations",service="order-service"}`: 0,
		`faultline_outbox_backlog_rows{service="order-service"}`:                                   0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	im := scrape(t, invURL)
	if got := im[`faultline_http_requests_total{code="201",route="POST /reservations",service="inventory-service"}`]; got != 1 {
		t.Errorf("inventory POST /reservations 201 = %v, want 1", got)
	}

	met := telemetry.NewMetrics("test-service")
	results := []error{nil, fmt.Errorf("bad record: %w", events.ErrInvalid), errors.New("broker down"), errors.New("broker down")}
	h := met.ConsumerHandler(func(context.Context, events.Message) error { r := results[0]; results = results[1:]; return r })
	for range 4 {
		_ = h(t.Context(), events.Message{Topic: "order-placed"})
	}
	srv := serve(t, func(ctx context.Context, ln net.Listener) error {
		s := &http.Server{Handler: met.Handler()}
		go func() { <-ctx.Done(); _ = s.Close() }()
		if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	mm := scrape(t, srv)
	for outcome, want := range map[string]float64{"ok": 1, "invalid": 1, "error": 2} {
		series := `faultline_consumer_handler_attempts_total{outcome="` + outcome + `",service="test-service",topic="order-placed"}`
		if mm[series] != want {
			t.Errorf("%s = %v, want %v", series, mm[series], want)
		}
	}
}
