// Package negativecontrol switches off one fault or one mitigation of the
// harness on purpose, to prove that the chaos specs depending on it go red
// (a negative control, as the contract mutants are for the Pact tests).
// `make negative-controls` (chaos/negative.mk) drives it.
//
// A neutralisation is a no-op that still reports success: Down returns
// nil without disabling the proxy, the embedded broker's Kill returns nil
// without stopping it, the stack starts order-sync without the breaker it
// was asked for, order-service publishes inside the request instead of
// through the outbox, and so on (see Names).
//
// It exists only in binaries built with the build tag `negativecontrol`
// (`go test -tags negativecontrol`, `ginkgo build --tags negativecontrol`):
// without the tag Compiled is false, Active always returns false and the
// environment is never read, so no normal build can be neutralised by
// accident. With the tag, the environment variable Env names the
// neutralisation (one of Names); an unknown name panics at start, so a
// typo cannot pass as a neutralisation that bites nothing.
package negativecontrol

// Env is the environment variable naming the active neutralisation in a
// binary built with the tag (e.g. FAULTLINE_NEGATIVE_CONTROL=down).
const Env = "FAULTLINE_NEGATIVE_CONTROL"

// Neutralisations, by the fault or mitigation they turn into a no-op.
const (
	Down         = "down"          // faults.Injector.Down: the proxy stays enabled
	Latency      = "latency"       // latency toxics are not added
	Timeout      = "timeout"       // timeout (blackhole) toxics are not added
	ResetPeer    = "reset_peer"    // reset_peer toxics are not added
	Bandwidth    = "bandwidth"     // bandwidth toxics are not added
	BrokerStop   = "broker_stop"   // the stack's BrokerControl.Kill returns without stopping the broker
	Breaker      = "breaker"       // the stack starts order-sync without its circuit breaker
	Bulkhead     = "bulkhead"      // the stack starts order-sync without its bulkhead
	OutboxBypass = "outbox_bypass" // order-service (async) publishes inside the request, no outbox
)

// Names lists every neutralisation, in the order `make negative-controls`
// applies them.
var Names = []string{Down, Latency, Timeout, ResetPeer, Bandwidth, BrokerStop, Breaker, Bulkhead, OutboxBypass}

func known(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}
