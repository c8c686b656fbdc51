// Package provider is the provider side of the project's Pact contracts.
// Its tests (build tag `pact`: they need cgo and libpact_ffi) verify the
// pact files the consumer phase wrote against the real providers:
//
//   - TestInventoryProvider: inventory-service's real HTTP handler on a
//     real SQLite store, and its real outcome events (HandleOrderPlaced ->
//     OutcomeEvent/UnknownSKUEvent -> events.Record), in one verification;
//   - TestOrderProvider: order-service's order-placed record as its real
//     outbox relay publishes it;
//   - TestOrderPlacedOnTheWire: the record the relay really wrote to an
//     embedded Kafka broker, read back with sarama, against the same pact;
//   - TestMutantsFailVerification: broken providers (a renamed JSON field,
//     a dropped event field, a producer sending wrong bytes or headers),
//     each verified in a child process that must fail and name the
//     mismatch.
//
// Pact files come from PACT_DIR (default contracts/pacts), or from a Pact
// Broker when PACT_BROKER_BASE_URL is set (see contracts/README.md).
package provider
