// Package brokerwire tests the project's Pact Broker wiring: it runs
// scripts/pact-broker.sh, and through it the pinned Pact CLI, against a
// recording HTTP server that answers like a Pact Broker, and checks what the
// CLI sends (publish bodies, auth headers, can-i-deploy queries, recorded
// deployments). No broker can run here; the recorder stands in for one.
//
// The tests need the Pact CLI in .tools/pact/bin (make tools). Set
// FAULTLINE_SKIP_PACT_CLI=1 to skip the ones that run it.
package brokerwire
