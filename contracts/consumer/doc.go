// Package consumer is the consumer side of the project's Pact contracts.
// Its tests (build tag `pact`: they need cgo and libpact_ffi) drive the
// real code of each consumer against what it expects from its provider and
// write the pact files:
//
//   - order-service's InventoryClient against the Pact mock server
//     (order-service -> inventory-service, HTTP): the reservations
//     directly, the stock reads through hybrid mode's POST /orders, their
//     only caller;
//   - order-service's HandleStockOutcome with stock-reserved and
//     stock-rejected messages (order-service -> inventory-service);
//   - inventory-service's HandleOrderPlaced with an order-placed message
//     (inventory-service -> order-service).
//
// Descriptions and provider states come from package contracts. Pact
// files go to PACT_DIR (default contracts/pacts). Run them in one process
// (one `go test` of this package): several processes writing one pact
// file lose interactions.
//
//	make contracts        # or, for this phase alone:
//	. scripts/pact-env.sh && go test -tags pact -count=1 ./contracts/consumer
package consumer
