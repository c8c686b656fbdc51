package messaging_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: every
// producer, consumer, broker and proxy a test starts must be gone once it
// is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakIgnores...)
}

// leakIgnores are goroutines that outlive every client by design:
// go-metrics (used by sarama) starts one process-wide meter ticker on first
// use and never stops it.
var leakIgnores = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
}
