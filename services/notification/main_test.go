package notification_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: once a
// service's Run has returned and it is closed, nothing of it may still run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-metrics (used by sarama) starts one process-wide meter ticker
		// on first use and never stops it.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	)
}
