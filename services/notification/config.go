package notification

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/faultline-harness/faultline/services/messaging"
)

// ChannelEmail is the channel every notification is recorded for. Sending
// is simulated: the service records what it would send and sends nothing.
const ChannelEmail = "email"

// Config is notification-service's configuration. cmd/notification-service
// fills it from flags and environment; nothing in this package reads the
// environment.
type Config struct {
	// HTTPAddr is the listen address, host:port (env NOTIFICATION_HTTP_ADDR,
	// flag -http-addr). Default "127.0.0.1:8082". Run serves on the listener
	// it is given; HTTPAddr is for whoever creates that listener.
	HTTPAddr string
	// DBPath is the SQLite file (env NOTIFICATION_DB, flag -db), opened in
	// WAL mode and created when missing. Default "notification.db".
	DBPath string
	// Kafka configures the broker clients (env KAFKA_BROKERS, KAFKA_ROUTE).
	// With no Brokers the service is HTTP only: no consumer, no producer.
	Kafka messaging.Config
	// Group is the consumer group of the order-placed consumer (env
	// NOTIFICATION_GROUP, flag -group; Kafka group.id). Default
	// "notification-service". It must differ from every other consumer's
	// group (inventory-service uses "inventory-service"): two services in
	// one group would split the topic's partitions between them and each
	// would see only part of the orders.
	Group string
	// MaxAttempts is how many times the order-placed consumer attempts a
	// record whose handling fails permanently (poison) before
	// dead-lettering it (env NOTIFICATION_MAX_ATTEMPTS, flag
	// -max-attempts). Default 3 (messaging.DefaultMaxAttempts); known
	// outages (the database busy, the broker unreachable:
	// messaging.IsTransient) are retried without limit.
	MaxAttempts int
	// MaxUnclassifiedAttempts is how many times the consumer attempts a
	// record whose handler error is unclassified (neither permanent nor a
	// known outage, messaging.Classify) before dead-lettering it with
	// reason "unclassified_error_after_N_attempts: ..." (env NOTIFICATION_MAX_UNCLASSIFIED_ATTEMPTS, flag
	// -max-unclassified-attempts). Default 10
	// (messaging.DefaultMaxUnclassifiedAttempts).
	MaxUnclassifiedAttempts int
	// ShutdownGrace bounds the wait for in-flight HTTP requests after the
	// run context ends. Default 10s.
	ShutdownGrace time.Duration
	// Now is the service's clock for a notification's created_at. Default
	// time.Now; tests set a fixed clock.
	Now func() time.Time
	// Tracing, when set, traces the service (package telemetry): a server
	// span per HTTP request and a consumer span per order-placed record,
	// continuing the trace of the record's traceparent header. Nil: no
	// spans.
	Tracing trace.TracerProvider
}

func (c Config) withDefaults() Config {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8082"
	}
	if c.DBPath == "" {
		c.DBPath = "notification.db"
	}
	if c.Group == "" {
		c.Group = "notification-service"
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = "notification-service"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
