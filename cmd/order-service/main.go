// Command order-service runs the order service (package services/order).
//
// Every setting is a flag and an environment variable (internal/config:
// default, then environment, then flag); `order-service -h` lists them
// with their defaults:
//
//	-http-addr          ORDER_HTTP_ADDR         127.0.0.1:8080
//	-mode               ORDER_MODE              async (sync|async|hybrid)
//	-db                 ORDER_DB                orders.db
//	-catalog            ORDER_CATALOG           JSON file {"SKU-1": 10, …}; optional
//	-inventory-url      INVENTORY_URL           http://127.0.0.1:8081 (sync and hybrid modes)
//	-inventory-timeout  INVENTORY_TIMEOUT       500ms
//	-kafka-brokers      KAFKA_BROKERS           comma-separated host:port (async and hybrid modes)
//	-kafka-route        KAFKA_ROUTE             advertised=dial,… (Toxiproxy routing, messaging.Config.Route)
//	-group              ORDER_GROUP             order-service
//	-kafka-fetch-min-bytes KAFKA_FETCH_MIN_BYTES 16384 (>= 1; Kafka fetch.min.bytes of the stock-outcome consumer)
//	-kafka-fetch-max-wait  KAFKA_FETCH_MAX_WAIT  20ms (1ms-1s; fetch.max.wait.ms: the most a lone outcome waits)
//	-relay-interval     ORDER_RELAY_INTERVAL    50ms (poll interval of new rows and idle lanes)
//	-relay-batch        ORDER_RELAY_BATCH       256 (rows per lane send and per marking transaction, >= 1)
//	-max-attempts       ORDER_MAX_ATTEMPTS      3 (>= 1): attempts of a poison stock outcome before it is dead-lettered
//	-max-unclassified-attempts ORDER_MAX_UNCLASSIFIED_ATTEMPTS 10 (>= 1): attempts of a stock outcome failing with an unclassified error before it is dead-lettered
//	-relay-min-backoff  ORDER_RELAY_MIN_BACKOFF 100ms (a lane's first wait after a transient failure)
//	-relay-max-backoff  ORDER_RELAY_MAX_BACKOFF 1s (cap of a lane's doubling backoff, >= min)
//	-publish-timeout    ORDER_PUBLISH_TIMEOUT   5s (deadline of each lane send)
//	-shutdown-grace     ORDER_SHUTDOWN_GRACE    10s
//	-max-concurrent-requests ORDER_MAX_CONCURRENT_REQUESTS 0 (no cap; a worker-pool model)
//
// Sync-mode mitigations around the inventory calls (order.Resilience), all
// off by default:
//
//	-breaker                  ORDER_BREAKER                  false
//	-breaker-failures         ORDER_BREAKER_FAILURES         5 (consecutive failures that open it)
//	-breaker-open-timeout     ORDER_BREAKER_OPEN_TIMEOUT     2s (open -> half-open)
//	-breaker-half-open-probes ORDER_BREAKER_HALF_OPEN_PROBES 1
//	-bulkhead                 ORDER_BULKHEAD                 0 (max concurrent inventory calls; 0: no cap)
//	-retry-attempts           ORDER_RETRY_ATTEMPTS           1 (first try included; 1: no retries)
//	-retry-backoff            ORDER_RETRY_BACKOFF            50ms
//	-retry-max-backoff        ORDER_RETRY_MAX_BACKOFF        500ms
//	-retry-budget             ORDER_RETRY_BUDGET             0.1 (retries per first attempt)
//	-retry-budget-burst       ORDER_RETRY_BUDGET_BURST       10
//	-log-level          LOG_LEVEL               info (debug|info|warn|error)
//
// Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: spans then go over OTLP/HTTP
// to that collector (telemetry.ForBinary; the standard OTEL_EXPORTER_OTLP_*
// variables apply). GET /metrics serves Prometheus metrics.
//
// Invalid values (a relay batch below 1, a breaker opening after 0
// failures, a duration <= 0, a max backoff below its min) are refused with
// the setting named (exit 2), not replaced by defaults.
//
// Hybrid mode's stock read (order.HybridConfig; its breaker is always on):
//
//	-hybrid-read-timeout         ORDER_HYBRID_READ_TIMEOUT         200ms (each GET /stock read)
//	-hybrid-on-read-failure      ORDER_HYBRID_ON_READ_FAILURE      accept (accept: 202 "unverified"; refuse: 503 stock_unavailable)
//	-hybrid-breaker-failures     ORDER_HYBRID_BREAKER_FAILURES     5 (consecutive failed reads that open it)
//	-hybrid-breaker-open-timeout ORDER_HYBRID_BREAKER_OPEN_TIMEOUT 2s
//
// It logs JSON to stderr, the effective configuration first, and stops
// gracefully on SIGINT or SIGTERM. Exit status: 0 after a clean stop, -h or
// --version; 1 when the service failed; 2 on a bad flag or environment
// value (the message names the flag and the variable).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/ardanlabs/conf/v3"

	"github.com/faultline-harness/faultline/internal/buildinfo"
	"github.com/faultline-harness/faultline/internal/config"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// settings are order-service's flags and environment variables.
type settings struct {
	conf.Version
	HTTPAddr         string        `conf:"default:127.0.0.1:8080,flag:http-addr,env:ORDER_HTTP_ADDR,help:HTTP listen address (host:port)"`
	Mode             string        `conf:"default:async,flag:mode,env:ORDER_MODE,help:sync (HTTP reservation) or async (outbox + Kafka) or hybrid (HTTP stock read then outbox + Kafka)"`
	DB               string        `conf:"default:orders.db,flag:db,env:ORDER_DB,help:SQLite database file"`
	Catalog          string        `conf:"flag:catalog,env:ORDER_CATALOG,help:optional JSON file {\"SKU\": units} of known SKUs"`
	InventoryURL     string        `conf:"default:http://127.0.0.1:8081,flag:inventory-url,env:INVENTORY_URL,help:inventory-service base URL (sync and hybrid modes)"`
	InventoryTimeout time.Duration `conf:"default:500ms,flag:inventory-timeout,env:INVENTORY_TIMEOUT,help:timeout of each inventory call"`
	KafkaBrokers     string        `conf:"flag:kafka-brokers,env:KAFKA_BROKERS,help:Kafka brokers host:port separated by commas (async and hybrid modes)"`
	KafkaRoute       string        `conf:"flag:kafka-route,env:KAFKA_ROUTE,help:broker address rewrites advertised=dial separated by commas (through Toxiproxy)"`
	Group            string        `conf:"default:order-service,flag:group,env:ORDER_GROUP,help:Kafka consumer group (group.id) of the stock-outcome consumer"`
	config.KafkaFetch
	MaxAttempts       int           `conf:"default:3,flag:max-attempts,env:ORDER_MAX_ATTEMPTS,help:attempts of a stock outcome failing permanently before it is dead-lettered (at least 1)"`
	MaxUnclassified   int           `conf:"default:10,flag:max-unclassified-attempts,env:ORDER_MAX_UNCLASSIFIED_ATTEMPTS,help:attempts of a stock outcome failing with an unclassified error (neither poison nor a known outage) before it is dead-lettered (at least 1)"`
	RelayInterval     time.Duration `conf:"default:50ms,flag:relay-interval,env:ORDER_RELAY_INTERVAL,help:outbox poll interval (new rows and idle lanes)"`
	RelayBatch        int           `conf:"default:256,flag:relay-batch,env:ORDER_RELAY_BATCH,help:outbox rows per lane send and per marking transaction (at least 1)"`
	RelayMinBackoff   time.Duration `conf:"default:100ms,flag:relay-min-backoff,env:ORDER_RELAY_MIN_BACKOFF,help:first wait of a relay lane after a transient publish failure"`
	RelayMaxBackoff   time.Duration `conf:"default:1s,flag:relay-max-backoff,env:ORDER_RELAY_MAX_BACKOFF,help:cap of the doubling backoff of a relay lane (at least -relay-min-backoff)"`
	RelayUnclassified int           `conf:"default:10,flag:relay-max-unclassified-attempts,env:ORDER_RELAY_MAX_UNCLASSIFIED_ATTEMPTS,help:sends of one outbox row failing with an unclassified error (neither permanent nor a known outage) before the row is parked and its order FAILED (at least 1)"`
	PublishTimeout    time.Duration `conf:"default:5s,flag:publish-timeout,env:ORDER_PUBLISH_TIMEOUT,help:deadline of each outbox lane send"`
	ShutdownGrace     time.Duration `conf:"default:10s,flag:shutdown-grace,env:ORDER_SHUTDOWN_GRACE,help:graceful shutdown time"`
	MaxRequests       int           `conf:"default:0,flag:max-concurrent-requests,env:ORDER_MAX_CONCURRENT_REQUESTS,help:requests served at once; the rest wait (a worker-pool model); 0: no cap"`

	HybridReadTimeout    time.Duration `conf:"default:200ms,flag:hybrid-read-timeout,env:ORDER_HYBRID_READ_TIMEOUT,help:timeout of each stock read (hybrid mode)"`
	HybridOnReadFailure  string        `conf:"default:accept,flag:hybrid-on-read-failure,env:ORDER_HYBRID_ON_READ_FAILURE,help:when the stock read fails (hybrid mode): accept (202 with stock_check unverified) or refuse (503 stock_unavailable)"`
	HybridBreakerFails   int           `conf:"default:5,flag:hybrid-breaker-failures,env:ORDER_HYBRID_BREAKER_FAILURES,help:consecutive failed stock reads that open the stock-read breaker (hybrid mode; at least 1)"`
	HybridBreakerTimeout time.Duration `conf:"default:2s,flag:hybrid-breaker-open-timeout,env:ORDER_HYBRID_BREAKER_OPEN_TIMEOUT,help:how long the stock-read breaker stays open before a probe (hybrid mode)"`

	Breaker            bool          `conf:"default:false,flag:breaker,env:ORDER_BREAKER,help:circuit breaker around inventory calls (sync mode)"`
	BreakerFailures    int           `conf:"default:5,flag:breaker-failures,env:ORDER_BREAKER_FAILURES,help:consecutive inventory failures that open the breaker (at least 1)"`
	BreakerOpenTimeout time.Duration `conf:"default:2s,flag:breaker-open-timeout,env:ORDER_BREAKER_OPEN_TIMEOUT,help:how long the breaker stays open before a probe"`
	BreakerHalfOpen    int           `conf:"default:1,flag:breaker-half-open-probes,env:ORDER_BREAKER_HALF_OPEN_PROBES,help:calls let through while half-open (at least 1)"`
	Bulkhead           int           `conf:"default:0,flag:bulkhead,env:ORDER_BULKHEAD,help:max concurrent inventory calls; over it 503 bulkhead_full; 0: no cap"`
	RetryAttempts      int           `conf:"default:1,flag:retry-attempts,env:ORDER_RETRY_ATTEMPTS,help:attempts per reservation with the first included; 1: no retries"`
	RetryBackoff       time.Duration `conf:"default:50ms,flag:retry-backoff,env:ORDER_RETRY_BACKOFF,help:first retry backoff (doubles; jittered)"`
	RetryMaxBackoff    time.Duration `conf:"default:500ms,flag:retry-max-backoff,env:ORDER_RETRY_MAX_BACKOFF,help:retry backoff cap (at least -retry-backoff)"`
	RetryBudget        float64       `conf:"default:0.1,flag:retry-budget,env:ORDER_RETRY_BUDGET,help:retries allowed per first attempt over time"`
	RetryBudgetBurst   int           `conf:"default:10,flag:retry-budget-burst,env:ORDER_RETRY_BUDGET_BURST,help:retry budget reserve"`
	LogLevel           slog.Level    `conf:"default:info,flag:log-level,env:LOG_LEVEL,help:minimum 'level': debug|info|warn|error"`
	Args               conf.Args
}

func main() {
	os.Exit(config.Main("order-service", func(args []string, out io.Writer) (order.Config, config.Startup, error) {
		cfg, s, err := parseConfig(args, out)
		return cfg, config.Startup{Settings: &s, Version: s.Build, LogLevel: s.LogLevel}, err
	}, run))
}

// run serves until ctx ends.
func run(ctx context.Context, cfg order.Config, log *slog.Logger) error {
	tp, stopTracing, err := telemetry.ForBinary(ctx, "order-service")
	if err != nil {
		return err
	}
	defer stopTracing()
	cfg.Tracing = tp
	svc, err := order.New(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Close(); err != nil {
			log.Warn("close", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("order-service listening", "addr", ln.Addr().String(), "mode", cfg.Mode, "db", cfg.DBPath)
	if err := svc.Run(ctx, ln); err != nil {
		return err
	}
	log.Info("order-service stopped")
	return nil
}

// parseConfig reads the settings from the environment and args (flags win)
// and checks them. -h writes the usage to out and returns config.ErrHelp;
// a bad or invalid value is a *config.Error naming the flag and the
// variable, never replaced by a default.
func parseConfig(args []string, out io.Writer) (order.Config, settings, error) {
	s := settings{Version: conf.Version{Build: buildinfo.String(), Desc: "order-service: order placement, sync over HTTP or async through an outbox and Kafka"}}
	if err := config.Parse("order-service", args, &s, out); err != nil {
		return order.Config{}, s, err
	}
	if err := validate(&s); err != nil {
		return order.Config{}, s, err
	}
	if err := s.KafkaFetch.Check(&s); err != nil {
		return order.Config{}, s, err
	}
	route, err := messaging.ParseRoute(s.KafkaRoute)
	if err != nil {
		return order.Config{}, s, config.Invalid(&s, "kafka-route", err.Error())
	}
	cfg := order.Config{
		HTTPAddr:         s.HTTPAddr,
		Mode:             order.Mode(s.Mode),
		DBPath:           s.DB,
		InventoryURL:     s.InventoryURL,
		InventoryTimeout: s.InventoryTimeout,
		Kafka: messaging.Config{Brokers: messaging.ParseBrokers(s.KafkaBrokers), ClientID: "order-service", Route: route,
			FetchMinBytes: s.FetchMinBytes, FetchMaxWait: s.FetchMaxWait},
		Group:                        s.Group,
		MaxAttempts:                  s.MaxAttempts,
		RelayInterval:                s.RelayInterval,
		RelayBatch:                   s.RelayBatch,
		RelayMinBackoff:              s.RelayMinBackoff,
		RelayMaxBackoff:              s.RelayMaxBackoff,
		RelayMaxUnclassifiedAttempts: s.RelayUnclassified,
		PublishTimeout:               s.PublishTimeout,
		ShutdownGrace:                s.ShutdownGrace,
		Resilience: order.Resilience{
			Breaker: order.BreakerConfig{Enabled: s.Breaker, FailureThreshold: s.BreakerFailures, OpenTimeout: s.BreakerOpenTimeout,
				HalfOpenProbes: s.BreakerHalfOpen},
			Bulkhead: s.Bulkhead,
			Retry: order.RetryConfig{MaxAttempts: s.RetryAttempts, BaseBackoff: s.RetryBackoff, MaxBackoff: s.RetryMaxBackoff,
				BudgetRatio: s.RetryBudget, BudgetBurst: s.RetryBudgetBurst},
		},
		MaxConcurrentRequests: s.MaxRequests,
		Hybrid: order.HybridConfig{ReadTimeout: s.HybridReadTimeout, OnReadFailure: order.ReadFailurePolicy(s.HybridOnReadFailure),
			BreakerFailures: s.HybridBreakerFails, BreakerOpenTimeout: s.HybridBreakerTimeout},
	}
	cfg.MaxUnclassifiedAttempts = s.MaxUnclassified
	if cfg.Mode != order.ModeSync && len(cfg.Kafka.Brokers) == 0 {
		return order.Config{}, s, config.Invalid(&s, "kafka-brokers", s.Mode+" mode needs Kafka brokers")
	}
	if s.Catalog != "" {
		data, err := os.ReadFile(s.Catalog)
		if err != nil {
			return order.Config{}, s, config.Invalid(&s, "catalog", err.Error())
		}
		if err := json.Unmarshal(data, &cfg.Catalog); err != nil {
			return order.Config{}, s, config.Invalid(&s, "catalog", "not a JSON object of SKU to units: "+err.Error())
		}
	}
	return cfg, s, nil
}

// validate refuses values the service would otherwise replace by its
// defaults or misuse: every flag must mean what it says.
func validate(s *settings) error {
	positive := map[string]time.Duration{
		"inventory-timeout": s.InventoryTimeout, "relay-interval": s.RelayInterval, "publish-timeout": s.PublishTimeout,
		"shutdown-grace": s.ShutdownGrace, "breaker-open-timeout": s.BreakerOpenTimeout, "retry-backoff": s.RetryBackoff,
		"retry-max-backoff": s.RetryMaxBackoff, "relay-min-backoff": s.RelayMinBackoff, "relay-max-backoff": s.RelayMaxBackoff,
		"hybrid-read-timeout": s.HybridReadTimeout, "hybrid-breaker-open-timeout": s.HybridBreakerTimeout,
	}
	for _, f := range []string{"inventory-timeout", "relay-interval", "relay-min-backoff", "relay-max-backoff", "publish-timeout", "shutdown-grace",
		"breaker-open-timeout", "retry-backoff", "retry-max-backoff", "hybrid-read-timeout", "hybrid-breaker-open-timeout"} {
		if positive[f] <= 0 {
			return config.Invalid(s, f, "must be a positive duration")
		}
	}
	atLeast := []struct {
		flag string
		v    int
		min  int
	}{
		{"relay-batch", s.RelayBatch, 1}, {"max-attempts", s.MaxAttempts, 1}, {"max-unclassified-attempts", s.MaxUnclassified, 1},
		{"relay-max-unclassified-attempts", s.RelayUnclassified, 1},
		{"breaker-failures", s.BreakerFailures, 1}, {"breaker-half-open-probes", s.BreakerHalfOpen, 1},
		{"retry-attempts", s.RetryAttempts, 1}, {"max-concurrent-requests", s.MaxRequests, 0}, {"bulkhead", s.Bulkhead, 0},
		{"retry-budget-burst", s.RetryBudgetBurst, 0}, {"hybrid-breaker-failures", s.HybridBreakerFails, 1},
	}
	for _, c := range atLeast {
		if c.v < c.min {
			return config.Invalid(s, c.flag, fmt.Sprintf("must be at least %d", c.min))
		}
	}
	switch {
	case s.Mode != string(order.ModeSync) && s.Mode != string(order.ModeAsync) && s.Mode != string(order.ModeHybrid):
		return config.Invalid(s, "mode", "want sync, async or hybrid")
	case s.HybridOnReadFailure != string(order.AcceptOnReadFailure) && s.HybridOnReadFailure != string(order.RefuseOnReadFailure):
		return config.Invalid(s, "hybrid-on-read-failure", "want accept or refuse")
	case s.HTTPAddr == "":
		return config.Invalid(s, "http-addr", "must not be empty")
	case s.DB == "":
		return config.Invalid(s, "db", "must not be empty")
	case s.Group == "":
		return config.Invalid(s, "group", "must not be empty")
	case s.RelayMaxBackoff < s.RelayMinBackoff:
		return config.Invalid(s, "relay-max-backoff", "must be at least -relay-min-backoff ("+s.RelayMinBackoff.String()+")")
	case s.RetryMaxBackoff < s.RetryBackoff:
		return config.Invalid(s, "retry-max-backoff", "must be at least -retry-backoff ("+s.RetryBackoff.String()+")")
	case s.RetryBudget < 0 || math.IsNaN(s.RetryBudget) || math.IsInf(s.RetryBudget, 0):
		return config.Invalid(s, "retry-budget", "must be a finite number >= 0")
	}
	if u, err := url.Parse(s.InventoryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config.Invalid(s, "inventory-url", "want an http:// or https:// base URL")
	}
	return nil
}
