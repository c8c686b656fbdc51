package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/order"
)

func TestParseConfigEnvThenFlags(t *testing.T) {
	cat := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(cat, []byte(`{"SKU-1": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ORDER_MODE": "sync", "INVENTORY_TIMEOUT": "2s", "KAFKA_BROKERS": "a:1, b:2", "ORDER_CATALOG": cat, "LOG_LEVEL": "debug", "KAFKA_ROUTE": "k:9092=127.0.0.1:1"}
	cfg, level, err := parseConfig([]string{"-inventory-timeout", "300ms", "-db", "x.db"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != order.ModeSync || cfg.InventoryTimeout != 300*time.Millisecond || cfg.DBPath != "x.db" ||
		len(cfg.Kafka.Brokers) != 2 || cfg.Kafka.Route["k:9092"] != "127.0.0.1:1" || cfg.Catalog["SKU-1"] != 5 || level.String() != "DEBUG" || cfg.HTTPAddr != "127.0.0.1:8080" {
		t.Fatalf("config = %+v, level %v", cfg, level)
	}
}

func TestParseConfigBadEnv(t *testing.T) {
	env := map[string]string{"INVENTORY_TIMEOUT": "soon"}
	if _, _, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard); err == nil {
		t.Fatal("bad INVENTORY_TIMEOUT accepted")
	}
}

func TestParseConfigResilience(t *testing.T) {
	env := map[string]string{"ORDER_BREAKER": "true", "ORDER_BREAKER_FAILURES": "3", "ORDER_BULKHEAD": "8",
		"ORDER_RETRY_ATTEMPTS": "3", "ORDER_RETRY_BUDGET": "0.2", "ORDER_MAX_CONCURRENT_REQUESTS": "64"}
	cfg, _, err := parseConfig([]string{"-breaker-open-timeout", "750ms", "-retry-backoff", "10ms"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := order.Resilience{
		Breaker:  order.BreakerConfig{Enabled: true, FailureThreshold: 3, OpenTimeout: 750 * time.Millisecond, HalfOpenProbes: 1},
		Bulkhead: 8,
		Retry:    order.RetryConfig{MaxAttempts: 3, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, BudgetRatio: 0.2, BudgetBurst: 10},
	}
	if cfg.Resilience != want || cfg.MaxConcurrentRequests != 64 {
		t.Fatalf("resilience = %+v, max requests %d; want %+v, 64", cfg.Resilience, cfg.MaxConcurrentRequests, want)
	}
	off, _, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || off.Resilience.Breaker.Enabled || off.Resilience.Bulkhead != 0 || off.Resilience.Retry.MaxAttempts != 1 || off.MaxConcurrentRequests != 0 {
		t.Fatalf("defaults: %+v, %v; want every mitigation off", off.Resilience, err)
	}
	for k, v := range map[string]string{"ORDER_BREAKER": "maybe", "ORDER_RETRY_BUDGET": "lots"} {
		if _, _, err := parseConfig(nil, func(key string) string {
			if key == k {
				return v
			}
			return ""
		}, io.Discard); err == nil {
			t.Errorf("bad %s=%q accepted", k, v)
		}
	}
}

func TestParseConfigRelay(t *testing.T) {
	env := map[string]string{"ORDER_RELAY_MIN_BACKOFF": "20ms"}
	cfg, _, err := parseConfig([]string{"-relay-batch", "64", "-relay-max-backoff", "300ms"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RelayBatch != 64 || cfg.RelayMinBackoff != 20*time.Millisecond || cfg.RelayMaxBackoff != 300*time.Millisecond {
		t.Fatalf("relay batch %d, backoff %v..%v; want 64, 20ms..300ms", cfg.RelayBatch, cfg.RelayMinBackoff, cfg.RelayMaxBackoff)
	}
	def, _, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || def.RelayBatch != order.DefaultRelayBatch || def.RelayMinBackoff != 100*time.Millisecond || def.RelayMaxBackoff != time.Second {
		t.Fatalf("defaults: batch %d, backoff %v..%v, %v; want 256, 100ms..1s", def.RelayBatch, def.RelayMinBackoff, def.RelayMaxBackoff, err)
	}
	for _, args := range [][]string{
		{"-relay-batch=-5"}, {"-relay-batch=0"}, {"-relay-interval=0s"}, {"-relay-min-backoff=-1s"},
		{"-relay-max-backoff=0s"}, {"-relay-min-backoff=2s", "-relay-max-backoff=1s"}, {"-publish-timeout=-1s"},
	} {
		if _, _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), strings.SplitN(strings.TrimPrefix(args[len(args)-1], "-"), "=", 2)[0]) {
			t.Errorf("%v: err %v, want the flag named", args, err)
		}
	}
}

func TestParseConfigHybrid(t *testing.T) {
	env := map[string]string{"ORDER_MODE": "hybrid", "ORDER_HYBRID_ON_READ_FAILURE": "refuse", "ORDER_HYBRID_BREAKER_FAILURES": "3"}
	cfg, _, err := parseConfig([]string{"-hybrid-read-timeout", "150ms"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := order.HybridConfig{ReadTimeout: 150 * time.Millisecond, OnReadFailure: order.RefuseOnReadFailure, BreakerFailures: 3, BreakerOpenTimeout: 2 * time.Second}
	if cfg.Mode != order.ModeHybrid || cfg.Hybrid != want {
		t.Fatalf("mode %q, hybrid = %+v; want hybrid, %+v", cfg.Mode, cfg.Hybrid, want)
	}
	def, _, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || def.Hybrid.ReadTimeout != 200*time.Millisecond || def.Hybrid.OnReadFailure != order.AcceptOnReadFailure {
		t.Fatalf("defaults: %+v, %v; want 200ms, accept", def.Hybrid, err)
	}
}
