package order_test

import (
	"path/filepath"
	"testing"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/order"
)

// A nil logger discards: New and Run (web.Serve logs through it) must not
// panic, and the service serves and shuts down cleanly.
func TestNilLoggerServes(t *testing.T) {
	cfg := order.Config{DBPath: filepath.Join(t.TempDir(), "order.db")}
	cfg.Mode = order.ModeSync // no Kafka: the HTTP API alone
	testkit.NilLoggerServes(t, cfg, order.New)
}
