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
// use and never stops it. sarama's partition producers hold a
// go-resiliency breaker whose open period (10 s) is slept out in its own
// goroutine, which outlives a closed producer by up to 10 s.
var leakIgnores = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
}
