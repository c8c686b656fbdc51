// Package mutants is the catalogue of deliberate provider and consumer
// changes that `make mutants` runs against the Pact contracts: breaking
// changes (each must make verification, or the consumer test, fail) and
// harmless ones (each must pass).
//
// Mutants are semantic: an HTTP response or a Kafka record is decoded,
// changed and encoded again (Doc keeps the member order, so a re-indented
// or reordered body is the same document), and a consumer-code mutant edits
// one struct tag in the Go syntax tree and builds the consumer tests with
// `go test -overlay`. No mutant replaces bytes.
//
// Layers:
//
//   - LayerHTTP: inventory-service's HTTP answer (status, headers, JSON
//     body), applied by Switch.Handler around the real handler;
//   - LayerMessage: a provider's Kafka record (topic, key, headers, JSON
//     value), applied by Switch.Record to the record the real provider
//     code built;
//   - LayerWire: a record order-service's producer puts on a real
//     (embedded) Kafka broker, read back and verified;
//   - LayerConsumer: the consumer's own code reads a field under another
//     name (a struct tag edited in the source).
//
// The catalogue is plain Go; contracts/provider (build tag pact) runs it
// (TestMutants) and contracts/README.md lists it (kept in sync by
// TestREADMETable).
package mutants
