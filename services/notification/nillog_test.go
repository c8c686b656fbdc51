package notification_test

import (
	"path/filepath"
	"testing"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/notification"
)

// A nil logger discards: New and Run (web.Serve logs through it) must not
// panic, and the service serves and shuts down cleanly.
func TestNilLoggerServes(t *testing.T) {
	cfg := notification.Config{DBPath: filepath.Join(t.TempDir(), "notification.db")}
	testkit.NilLoggerServes(t, cfg, notification.New)
}
