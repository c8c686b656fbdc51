package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// Config is inventory-service's configuration. cmd/inventory-service fills
// it from flags and environment; nothing in this package reads the
// environment.
type Config struct {
	// HTTPAddr is the listen address, host:port (env INVENTORY_HTTP_ADDR,
	// flag -http-addr). Default "127.0.0.1:8081". Run itself serves on the
	// listener it is given; HTTPAddr is for whoever creates that listener.
	HTTPAddr string
	// DBPath is the SQLite file (env INVENTORY_DB, flag -db), opened in WAL
	// mode and created when missing. Default "inventory.db".
	DBPath string
	// Catalog is the initial stock per SKU (units). New seeds only SKUs not
	// yet in the database, so a restart keeps the stock left. Nil seeds
	// nothing; cmd/inventory-service passes DefaultCatalog when no catalog
	// file is given.
	Catalog map[string]int
	// Kafka configures the broker clients. With no Brokers the service is
	// HTTP only: no consumer, no producer.
	Kafka messaging.Config
	// Group is the consumer group of the order-placed consumer (env
	// INVENTORY_GROUP, flag -group). Default "inventory-service".
	Group string
	// MaxAttempts is how many times the order-placed consumer attempts a
	// record whose handling fails permanently (poison, order_id reused,
	// outcome too large to publish) before dead-lettering it (env
	// INVENTORY_MAX_ATTEMPTS, flag -max-attempts). Default 3
	// (messaging.DefaultMaxAttempts); known outages (messaging.IsTransient)
	// are retried without limit.
	MaxAttempts int
	// MaxUnclassifiedAttempts is how many times the consumer attempts a
	// record whose handler error is unclassified (neither permanent nor a
	// known outage, messaging.Classify) before dead-lettering it with
	// reason "unclassified_error_after_N_attempts: ..." (env INVENTORY_MAX_UNCLASSIFIED_ATTEMPTS, flag
	// -max-unclassified-attempts). Default 10
	// (messaging.DefaultMaxUnclassifiedAttempts).
	MaxUnclassifiedAttempts int
	// ShutdownGrace bounds the wait for in-flight HTTP requests after the
	// run context ends. Default 10s.
	ShutdownGrace time.Duration
	// Publisher, when set, receives the outcome events instead of the Kafka
	// producer Run creates (tests inject a recorder here). Dead letters
	// still go through Run's producer.
	Publisher Publisher
	// Tracing, when set, traces the service (package telemetry): a server
	// span per HTTP request, a consumer span per order-placed record and a
	// producer span per outcome record (header traceparent), continuing the trace of the record's traceparent header. Nil: no
	// spans.
	Tracing trace.TracerProvider
}

func (c Config) withDefaults() Config {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8081"
	}
	if c.DBPath == "" {
		c.DBPath = "inventory.db"
	}
	if c.Group == "" {
		c.Group = "inventory-service"
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = "inventory-service"
	}
	return c
}

// DefaultCatalog returns the demo catalog: SKU-1 … SKU-5 with 1,000,000
// units each (so load tests never run out) and SKU-LOW with 5 units (to
// provoke insufficient_stock). It returns a new map on every call.
func DefaultCatalog() map[string]int {
	return map[string]int{
		"SKU-1": 1_000_000, "SKU-2": 1_000_000, "SKU-3": 1_000_000,
		"SKU-4": 1_000_000, "SKU-5": 1_000_000, "SKU-LOW": 5,
	}
}

// LoadCatalog reads a JSON object mapping SKU to initial stock in units,
// e.g. {"SKU-1": 100, "SKU-2": 0}. It fails when the file cannot be read,
// is not exactly one such object, is empty, or holds a blank SKU, a SKU
// outside events.CheckSKU's bounds, or a negative or non-integer stock.
func LoadCatalog(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var cat map[string]int
	if err := dec.Decode(&cat); err != nil {
		return nil, fmt.Errorf("parse catalog %s: want a JSON object of SKU to non-negative integer stock: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse catalog %s: data after the JSON object", path)
	}
	if len(cat) == 0 {
		return nil, fmt.Errorf("catalog %s: no SKUs", path)
	}
	for sku, n := range cat {
		if strings.TrimSpace(sku) == "" {
			return nil, fmt.Errorf("catalog %s: blank SKU", path)
		}
		if err := events.CheckSKU(sku); err != nil { // it could never be ordered
			return nil, fmt.Errorf("catalog %s: %w", path, err)
		}
		if n < 0 {
			return nil, fmt.Errorf("catalog %s: SKU %q has negative stock %d", path, sku, n)
		}
	}
	return cat, nil
}
