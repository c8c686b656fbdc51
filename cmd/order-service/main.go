// Command order-service runs the order service (package services/order).
//
// Every setting is a flag whose default comes from an environment variable:
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
//	-relay-interval     ORDER_RELAY_INTERVAL    50ms (poll interval of new rows and idle lanes)
//	-relay-batch        ORDER_RELAY_BATCH       256 (rows per lane send and per marking transaction, >= 1)
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
// Invalid values (a relay batch below 1, a duration <= 0, a max backoff
// below the min) exit 2 with the setting named.
//
// Hybrid mode's stock read (order.HybridConfig; its breaker is always on):
//
//	-hybrid-read-timeout         ORDER_HYBRID_READ_TIMEOUT         200ms (each GET /stock read)
//	-hybrid-on-read-failure      ORDER_HYBRID_ON_READ_FAILURE      accept (accept: 202 "unverified"; refuse: 503 stock_unavailable)
//	-hybrid-breaker-failures     ORDER_HYBRID_BREAKER_FAILURES     5 (consecutive failed reads that open it)
//	-hybrid-breaker-open-timeout ORDER_HYBRID_BREAKER_OPEN_TIMEOUT 2s
//
// It logs JSON to stderr and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
)

func main() {
	cfg, level, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "order-service:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, log)
	stop()
	if err != nil {
		log.Error("order-service failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, cfg order.Config, log *slog.Logger) error {
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

// parseConfig reads flags from args with defaults from getenv. A bad
// environment value is an error, not silently ignored.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (order.Config, slog.Level, error) {
	fs := flag.NewFlagSet("order-service", flag.ContinueOnError)
	fs.SetOutput(out)
	var envErrs []error
	str := func(name, env, def, usage string) *string {
		if v := getenv(env); v != "" {
			def = v
		}
		return fs.String(name, def, usage+" (env "+env+")")
	}
	dur := func(name, env string, def time.Duration, usage string) *time.Duration {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
			def = d
		}
		return fs.Duration(name, def, usage+" (env "+env+")")
	}
	num := func(name, env string, def int, usage string) *int {
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
			def = n
		}
		return fs.Int(name, def, usage+" (env "+env+")")
	}
	boolean := func(name, env string, def bool, usage string) *bool {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
			def = b
		}
		return fs.Bool(name, def, usage+" (env "+env+")")
	}
	float := func(name, env string, def float64, usage string) *float64 {
		if v := getenv(env); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
			def = f
		}
		return fs.Float64(name, def, usage+" (env "+env+")")
	}
	var (
		httpAddr   = str("http-addr", "ORDER_HTTP_ADDR", "127.0.0.1:8080", "HTTP listen address")
		mode       = str("mode", "ORDER_MODE", string(order.ModeAsync), "sync (HTTP reservation), async (outbox + Kafka) or hybrid (HTTP stock read, then outbox + Kafka)")
		db         = str("db", "ORDER_DB", "orders.db", "SQLite database file")
		catalog    = str("catalog", "ORDER_CATALOG", "", `optional JSON file {"SKU": n} of known SKUs`)
		invURL     = str("inventory-url", "INVENTORY_URL", "http://127.0.0.1:8081", "inventory-service base URL (sync mode)")
		invTimeout = dur("inventory-timeout", "INVENTORY_TIMEOUT", 500*time.Millisecond, "timeout of each inventory call")
		brokers    = str("kafka-brokers", "KAFKA_BROKERS", "", "comma-separated Kafka brokers (async mode)")
		route      = str("kafka-route", "KAFKA_ROUTE", "", "broker address rewrites advertised=dial,… (e.g. through Toxiproxy)")
		group      = str("group", "ORDER_GROUP", "order-service", "consumer group for stock outcomes")
		relayEvery = dur("relay-interval", "ORDER_RELAY_INTERVAL", 50*time.Millisecond, "outbox poll interval (new rows, idle lanes)")
		relayBatch = num("relay-batch", "ORDER_RELAY_BATCH", order.DefaultRelayBatch, "outbox rows per lane send and per marking transaction")
		relayMinBo = dur("relay-min-backoff", "ORDER_RELAY_MIN_BACKOFF", order.DefaultRelayMinBackoff, "a relay lane's first wait after a transient publish failure")
		relayMaxBo = dur("relay-max-backoff", "ORDER_RELAY_MAX_BACKOFF", order.DefaultRelayMaxBackoff, "cap of a relay lane's doubling backoff")
		pubTimeout = dur("publish-timeout", "ORDER_PUBLISH_TIMEOUT", 5*time.Second, "deadline of each outbox lane send")
		grace      = dur("shutdown-grace", "ORDER_SHUTDOWN_GRACE", 10*time.Second, "graceful shutdown time")
		logLevel   = str("log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
		maxReqs    = num("max-concurrent-requests", "ORDER_MAX_CONCURRENT_REQUESTS", 0, "requests served at once, the rest wait (a worker-pool model); 0: no cap")

		breaker       = boolean("breaker", "ORDER_BREAKER", false, "circuit breaker around inventory calls (sync mode)")
		breakerFails  = num("breaker-failures", "ORDER_BREAKER_FAILURES", 5, "consecutive inventory failures that open the breaker")
		breakerOpen   = dur("breaker-open-timeout", "ORDER_BREAKER_OPEN_TIMEOUT", 2*time.Second, "how long the breaker stays open before a probe")
		breakerProbes = num("breaker-half-open-probes", "ORDER_BREAKER_HALF_OPEN_PROBES", 1, "calls let through while half-open")
		bulkhead      = num("bulkhead", "ORDER_BULKHEAD", 0, "max concurrent inventory calls, over it 503 bulkhead_full; 0: no cap")
		retries       = num("retry-attempts", "ORDER_RETRY_ATTEMPTS", 1, "attempts per reservation, first included; 1: no retries")
		retryBackoff  = dur("retry-backoff", "ORDER_RETRY_BACKOFF", 50*time.Millisecond, "first retry backoff (doubles, jittered)")
		retryMax      = dur("retry-max-backoff", "ORDER_RETRY_MAX_BACKOFF", 500*time.Millisecond, "retry backoff cap")
		retryBudget   = float("retry-budget", "ORDER_RETRY_BUDGET", 0.1, "retries allowed per first attempt, over time")
		retryBurst    = num("retry-budget-burst", "ORDER_RETRY_BUDGET_BURST", 10, "retry budget reserve")

		hybridTimeout = dur("hybrid-read-timeout", "ORDER_HYBRID_READ_TIMEOUT", 200*time.Millisecond, "timeout of each stock read (hybrid mode)")
		hybridPolicy  = str("hybrid-on-read-failure", "ORDER_HYBRID_ON_READ_FAILURE", string(order.AcceptOnReadFailure), `when the stock read fails (hybrid mode): "accept" (202, stock_check "unverified") or "refuse" (503 stock_unavailable)`)
		hybridFails   = num("hybrid-breaker-failures", "ORDER_HYBRID_BREAKER_FAILURES", 5, "consecutive failed stock reads that open the stock-read breaker (hybrid mode)")
		hybridOpen    = dur("hybrid-breaker-open-timeout", "ORDER_HYBRID_BREAKER_OPEN_TIMEOUT", 2*time.Second, "how long the stock-read breaker stays open before a probe (hybrid mode)")
	)
	if err := fs.Parse(args); err != nil {
		return order.Config{}, 0, err
	}
	if err := errors.Join(envErrs...); err != nil {
		return order.Config{}, 0, err
	}
	if fs.NArg() > 0 {
		return order.Config{}, 0, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := checkRelay(*relayEvery, *relayBatch, *relayMinBo, *relayMaxBo, *pubTimeout); err != nil {
		return order.Config{}, 0, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return order.Config{}, 0, fmt.Errorf("log level: %w", err)
	}
	kafkaRoute, err := messaging.ParseRoute(*route)
	if err != nil {
		return order.Config{}, 0, err
	}
	cfg := order.Config{
		HTTPAddr:         *httpAddr,
		Mode:             order.Mode(*mode),
		DBPath:           *db,
		InventoryURL:     *invURL,
		InventoryTimeout: *invTimeout,
		Kafka:            messaging.Config{Brokers: messaging.ParseBrokers(*brokers), ClientID: "order-service", Route: kafkaRoute},
		Group:            *group,
		RelayInterval:    *relayEvery,
		RelayBatch:       *relayBatch,
		RelayMinBackoff:  *relayMinBo,
		RelayMaxBackoff:  *relayMaxBo,
		PublishTimeout:   *pubTimeout,
		ShutdownGrace:    *grace,
		Resilience: order.Resilience{
			Breaker:  order.BreakerConfig{Enabled: *breaker, FailureThreshold: *breakerFails, OpenTimeout: *breakerOpen, HalfOpenProbes: *breakerProbes},
			Bulkhead: *bulkhead,
			Retry: order.RetryConfig{MaxAttempts: *retries, BaseBackoff: *retryBackoff, MaxBackoff: *retryMax,
				BudgetRatio: *retryBudget, BudgetBurst: *retryBurst},
		},
		MaxConcurrentRequests: *maxReqs,
		Hybrid: order.HybridConfig{ReadTimeout: *hybridTimeout, OnReadFailure: order.ReadFailurePolicy(*hybridPolicy),
			BreakerFailures: *hybridFails, BreakerOpenTimeout: *hybridOpen},
	}
	if *catalog != "" {
		data, err := os.ReadFile(*catalog)
		if err != nil {
			return order.Config{}, 0, fmt.Errorf("read catalog: %w", err)
		}
		if err := json.Unmarshal(data, &cfg.Catalog); err != nil {
			return order.Config{}, 0, fmt.Errorf("parse catalog %s: %w", *catalog, err)
		}
	}
	return cfg, level, nil
}

// checkRelay refuses relay settings the relay would otherwise replace by
// its defaults: the flags must mean what they say.
func checkRelay(interval time.Duration, batch int, minBackoff, maxBackoff, publishTimeout time.Duration) error {
	switch {
	case batch < 1:
		return fmt.Errorf("-relay-batch %d: want at least 1 row", batch)
	case interval <= 0:
		return fmt.Errorf("-relay-interval %v: want a positive duration", interval)
	case minBackoff <= 0:
		return fmt.Errorf("-relay-min-backoff %v: want a positive duration", minBackoff)
	case maxBackoff <= 0:
		return fmt.Errorf("-relay-max-backoff %v: want a positive duration", maxBackoff)
	case maxBackoff < minBackoff:
		return fmt.Errorf("-relay-max-backoff %v is below -relay-min-backoff %v", maxBackoff, minBackoff)
	case publishTimeout <= 0:
		return fmt.Errorf("-publish-timeout %v: want a positive duration", publishTimeout)
	}
	return nil
}
