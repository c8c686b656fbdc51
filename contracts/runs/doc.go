// Package runs tests the contract runs themselves (scripts/pact-contracts.sh):
// two runs in one checkout at once must not interfere. Each run writes and
// reads a pact folder of its own and installs it into PACT_DIR in one step,
// under a lock, so PACT_DIR always holds one whole run.
//
// Its test carries the build tag pact: it needs libpact_ffi (make tools),
// and make contracts runs it in its tooling phase.
package runs
