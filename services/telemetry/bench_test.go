package telemetry_test

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// BenchmarkSyncOrderTracing measures one sync POST /orders (order-service
// -> inventory over HTTP, both SQLite writes included) untraced and traced
// into a Collector: the cost of the spans on the request path.
func BenchmarkSyncOrderTracing(b *testing.B) {
	for _, traced := range []bool{false, true} {
		name := "untraced"
		if traced {
			name = "traced"
		}
		b.Run(name, func(b *testing.B) {
			col := telemetry.NewCollector(0)
			dir := b.TempDir()
			icfg := inventory.Config{DBPath: filepath.Join(dir, "inv.db"), Catalog: inventory.DefaultCatalog()}
			ocfg := order.Config{Mode: order.ModeSync, DBPath: filepath.Join(dir, "orders.db")}
			if traced {
				icfg.Tracing = provider(b, "inventory-service", col)
				ocfg.Tracing = provider(b, "order-service", col)
			}
			inv, err := inventory.New(icfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = inv.Close() })
			ocfg.InventoryURL = serve(b, inv.Run)
			ord, err := order.New(ocfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = ord.Close() })
			base := serve(b, ord.Run)
			c := &http.Client{}
			b.ResetTimer()
			for range b.N {
				resp, err := c.Post(base+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("POST /orders = %d", resp.StatusCode)
				}
			}
			b.StopTimer()
			if traced && len(col.Spans()) < 3*b.N {
				b.Fatalf("%d spans for %d orders, want 3 each", len(col.Spans()), b.N)
			}
		})
	}
}
