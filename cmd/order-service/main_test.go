package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/config"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/order"
)

// setEnv replaces every variable the binary reads with env's, for the test.
func setEnv(t *testing.T, env map[string]string) {
	testkit.SetEnv(t, config.EnvNames(&settings{}), env)
}

func TestParseConfigEnvThenFlags(t *testing.T) {
	cat := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(cat, []byte(`{"SKU-1": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"ORDER_MODE": "sync", "INVENTORY_TIMEOUT": "2s", "KAFKA_BROKERS": "a:1, b:2", "ORDER_CATALOG": cat, "LOG_LEVEL": "debug", "KAFKA_ROUTE": "k:9092=127.0.0.1:1"})
	cfg, s, err := parseConfig([]string{"-inventory-timeout", "300ms", "-db", "x.db"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != order.ModeSync || cfg.InventoryTimeout != 300*time.Millisecond || cfg.DBPath != "x.db" ||
		len(cfg.Kafka.Brokers) != 2 || cfg.Kafka.Route["k:9092"] != "127.0.0.1:1" || cfg.Catalog["SKU-1"] != 5 || s.LogLevel.String() != "DEBUG" || cfg.HTTPAddr != "127.0.0.1:8080" {
		t.Fatalf("config = %+v, level %v", cfg, s.LogLevel)
	}
	if cfg.RelayBatch != order.DefaultRelayBatch || cfg.RelayInterval != 50*time.Millisecond || cfg.PublishTimeout != 5*time.Second || cfg.ShutdownGrace != 10*time.Second {
		t.Errorf("relay defaults: %+v", cfg)
	}
	if cfg.Kafka.FetchMinBytes != 16384 || cfg.Kafka.FetchMaxWait != 20*time.Millisecond {
		t.Errorf("fetch defaults: %d bytes, %v; want 16384 bytes, 20ms", cfg.Kafka.FetchMinBytes, cfg.Kafka.FetchMaxWait)
	}
}

// The stock-outcome consumer's fetch batching: environment, then flag;
// out-of-range values refused.
func TestParseConfigKafkaFetch(t *testing.T) {
	setEnv(t, map[string]string{"KAFKA_BROKERS": "k:1", "KAFKA_FETCH_MIN_BYTES": "1", "KAFKA_FETCH_MAX_WAIT": "5ms"})
	cfg, _, err := parseConfig([]string{"-kafka-fetch-max-wait", "50ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.FetchMinBytes != 1 || cfg.Kafka.FetchMaxWait != 50*time.Millisecond {
		t.Errorf("fetch %d bytes, %v; want 1 byte (env), 50ms (flag)", cfg.Kafka.FetchMinBytes, cfg.Kafka.FetchMaxWait)
	}
	_, _, err = parseConfig([]string{"-kafka-fetch-min-bytes", "0"}, io.Discard)
	if config.ExitCode(err) != config.ExitUsage || !strings.Contains(fmt.Sprint(err), "-kafka-fetch-min-bytes (env KAFKA_FETCH_MIN_BYTES)") {
		t.Errorf("-kafka-fetch-min-bytes 0: %v, want a usage error naming it", err)
	}
}

func TestParseConfigRelay(t *testing.T) {
	setEnv(t, map[string]string{"ORDER_RELAY_MIN_BACKOFF": "20ms", "KAFKA_BROKERS": "k:1"})
	cfg, _, err := parseConfig([]string{"-relay-batch", "64", "-relay-max-backoff", "300ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RelayBatch != 64 || cfg.RelayMinBackoff != 20*time.Millisecond || cfg.RelayMaxBackoff != 300*time.Millisecond {
		t.Fatalf("relay batch %d, backoff %v..%v; want 64, 20ms..300ms", cfg.RelayBatch, cfg.RelayMinBackoff, cfg.RelayMaxBackoff)
	}
	setEnv(t, map[string]string{"KAFKA_BROKERS": "k:1"})
	def, _, err := parseConfig(nil, io.Discard)
	if err != nil || def.RelayBatch != order.DefaultRelayBatch || def.RelayMinBackoff != order.DefaultRelayMinBackoff || def.RelayMaxBackoff != order.DefaultRelayMaxBackoff {
		t.Fatalf("defaults: batch %d, backoff %v..%v, %v; want the order package's defaults", def.RelayBatch, def.RelayMinBackoff, def.RelayMaxBackoff, err)
	}
}

func TestParseConfigResilience(t *testing.T) {
	setEnv(t, map[string]string{"ORDER_BREAKER": "true", "ORDER_BREAKER_FAILURES": "3", "ORDER_BULKHEAD": "8",
		"ORDER_RETRY_ATTEMPTS": "3", "ORDER_RETRY_BUDGET": "0.2", "ORDER_MAX_CONCURRENT_REQUESTS": "64", "KAFKA_BROKERS": "k:1"})
	cfg, _, err := parseConfig([]string{"-breaker-open-timeout", "750ms", "-retry-backoff", "10ms"}, io.Discard)
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
	setEnv(t, map[string]string{"KAFKA_BROKERS": "k:1"})
	off, _, err := parseConfig(nil, io.Discard)
	if err != nil || off.Resilience.Breaker.Enabled || off.Resilience.Bulkhead != 0 || off.Resilience.Retry.MaxAttempts != 1 || off.MaxConcurrentRequests != 0 {
		t.Fatalf("defaults: %+v, %v; want every mitigation off", off.Resilience, err)
	}
}

// Bad and invalid values exit 2 with the setting named; none is replaced
// by its default.
func TestParseConfigRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad env duration":      {nil, map[string]string{"INVENTORY_TIMEOUT": "soon"}, `invalid value "soon" for -inventory-timeout (env INVENTORY_TIMEOUT)`},
		"bad env bool":          {nil, map[string]string{"ORDER_BREAKER": "maybe"}, "-breaker (env ORDER_BREAKER)"},
		"bad env float":         {nil, map[string]string{"ORDER_RETRY_BUDGET": "lots"}, "-retry-budget (env ORDER_RETRY_BUDGET)"},
		"negative relay batch":  {[]string{"-relay-batch=-5"}, nil, `invalid value "-5" for -relay-batch (env ORDER_RELAY_BATCH): must be at least 1`},
		"zero relay batch":      {nil, map[string]string{"ORDER_RELAY_BATCH": "0"}, "-relay-batch (env ORDER_RELAY_BATCH): must be at least 1"},
		"zero breaker failures": {[]string{"-breaker-failures=0"}, nil, "-breaker-failures (env ORDER_BREAKER_FAILURES): must be at least 1"},
		"zero half-open probes": {[]string{"-breaker-half-open-probes=0"}, nil, "must be at least 1"},
		"zero retry attempts":   {[]string{"-retry-attempts=0"}, nil, "-retry-attempts"},
		"negative bulkhead":     {[]string{"-bulkhead=-1"}, nil, "-bulkhead (env ORDER_BULKHEAD): must be at least 0"},
		"negative duration":     {[]string{"-publish-timeout=-1s"}, nil, "-publish-timeout (env ORDER_PUBLISH_TIMEOUT): must be a positive duration"},
		"zero relay interval":   {[]string{"-relay-interval=0s"}, nil, "-relay-interval"},
		"negative min backoff":  {[]string{"-relay-min-backoff=-1s"}, nil, "-relay-min-backoff (env ORDER_RELAY_MIN_BACKOFF): must be a positive duration"},
		"zero max backoff":      {[]string{"-relay-max-backoff=0s"}, nil, "-relay-max-backoff"},
		"relay max below min":   {[]string{"-relay-min-backoff=2s", "-relay-max-backoff=1s"}, nil, "-relay-max-backoff (env ORDER_RELAY_MAX_BACKOFF): must be at least -relay-min-backoff"},
		"max below backoff":     {[]string{"-retry-backoff=1s", "-retry-max-backoff=500ms"}, nil, "-retry-max-backoff (env ORDER_RETRY_MAX_BACKOFF): must be at least -retry-backoff"},
		"negative retry budget": {[]string{"-retry-budget=-0.5"}, nil, "-retry-budget"},
		"unknown mode":          {[]string{"-mode", "eventual"}, nil, "-mode (env ORDER_MODE): want sync, async or hybrid"},
		"async without brokers": {[]string{"-mode", "async", "-kafka-brokers", ""}, nil, "-kafka-brokers (env KAFKA_BROKERS): async mode needs Kafka brokers"},
		"bad inventory url":     {[]string{"-inventory-url", "127.0.0.1:8081"}, nil, "-inventory-url"},
		"bad catalog":           {[]string{"-catalog", filepath.Join(t.TempDir(), "nope.json")}, nil, "-catalog (env ORDER_CATALOG)"},
		"unknown flag":          {[]string{"-frobnicate"}, nil, "unknown flag -frobnicate"},
		"extra argument":        {[]string{"extra"}, nil, "unexpected argument"},
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"KAFKA_BROKERS": "k:1"}
			for k, v := range tc.env {
				env[k] = v
			}
			setEnv(t, env)
			_, _, err := parseConfig(tc.args, io.Discard)
			if config.ExitCode(err) != config.ExitUsage || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("parseConfig(%q) = %v, want a usage error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	setEnv(t, nil)
	var out strings.Builder
	if _, _, err := parseConfig([]string{"-h"}, &out); !errors.Is(err, config.ErrHelp) || config.ExitCode(err) != 0 {
		t.Fatalf("-h: %v, want config.ErrHelp (exit 0)", err)
	}
	for _, w := range []string{"--relay-batch", "ORDER_RELAY_BATCH", "--breaker-failures", "ORDER_BREAKER_FAILURES", "--inventory-url", "INVENTORY_URL", "--log-level", "LOG_LEVEL"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("usage lacks %s", w)
		}
	}
}

func TestParseConfigMaxAttempts(t *testing.T) {
	setEnv(t, map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092"})
	cfg, _, err := parseConfig(nil, io.Discard)
	if err != nil || cfg.MaxAttempts != 3 {
		t.Fatalf("default max attempts %d (%v), want 3", cfg.MaxAttempts, err)
	}
	t.Setenv("ORDER_MAX_ATTEMPTS", "5")
	if cfg, _, err = parseConfig(nil, io.Discard); err != nil || cfg.MaxAttempts != 5 {
		t.Fatalf("ORDER_MAX_ATTEMPTS=5 gave %d (%v)", cfg.MaxAttempts, err)
	}
	if cfg, _, err = parseConfig([]string{"-max-attempts", "1"}, io.Discard); err != nil || cfg.MaxAttempts != 1 {
		t.Fatalf("-max-attempts 1 gave %d (%v)", cfg.MaxAttempts, err)
	}
	for _, bad := range []string{"0", "-2", "three"} {
		if _, _, err := parseConfig([]string{"-max-attempts", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "max-attempts") {
			t.Errorf("-max-attempts %s: %v, want an error naming max-attempts", bad, err)
		}
	}
}

func TestParseConfigMaxUnclassifiedAttempts(t *testing.T) {
	setEnv(t, map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092"})
	cfg, _, err := parseConfig(nil, io.Discard)
	if err != nil || cfg.MaxUnclassifiedAttempts != 10 {
		t.Fatalf("default max unclassified attempts %d (%v), want 10", cfg.MaxUnclassifiedAttempts, err)
	}
	t.Setenv("ORDER_MAX_UNCLASSIFIED_ATTEMPTS", "6")
	if cfg, _, err = parseConfig(nil, io.Discard); err != nil || cfg.MaxUnclassifiedAttempts != 6 {
		t.Fatalf("ORDER_MAX_UNCLASSIFIED_ATTEMPTS=6 gave %d (%v)", cfg.MaxUnclassifiedAttempts, err)
	}
	if cfg, _, err = parseConfig([]string{"-max-unclassified-attempts", "2"}, io.Discard); err != nil || cfg.MaxUnclassifiedAttempts != 2 {
		t.Fatalf("-max-unclassified-attempts 2 gave %d (%v)", cfg.MaxUnclassifiedAttempts, err)
	}
	for _, bad := range []string{"0", "-2", "ten"} {
		if _, _, err := parseConfig([]string{"-max-unclassified-attempts", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "max-unclassified-attempts") {
			t.Errorf("-max-unclassified-attempts %s: %v, want an error naming max-unclassified-attempts", bad, err)
		}
	}
}

func TestParseConfigHybrid(t *testing.T) {
	setEnv(t, map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092", "ORDER_MODE": "hybrid", "ORDER_HYBRID_ON_READ_FAILURE": "refuse", "ORDER_HYBRID_BREAKER_FAILURES": "3"})
	cfg, _, err := parseConfig([]string{"-hybrid-read-timeout", "150ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := order.HybridConfig{ReadTimeout: 150 * time.Millisecond, OnReadFailure: order.RefuseOnReadFailure, BreakerFailures: 3, BreakerOpenTimeout: 2 * time.Second}
	if cfg.Mode != order.ModeHybrid || cfg.Hybrid != want {
		t.Fatalf("mode %q, hybrid = %+v; want hybrid, %+v", cfg.Mode, cfg.Hybrid, want)
	}
	setEnv(t, map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092"})
	def, _, err := parseConfig(nil, io.Discard)
	if err != nil || def.Hybrid.ReadTimeout != 200*time.Millisecond || def.Hybrid.OnReadFailure != order.AcceptOnReadFailure {
		t.Fatalf("defaults: %+v, %v; want 200ms, accept", def.Hybrid, err)
	}
	for _, bad := range [][]string{{"-hybrid-on-read-failure", "maybe"}, {"-hybrid-read-timeout", "0s"}, {"-hybrid-breaker-failures", "0"}} {
		if _, _, err := parseConfig(bad, io.Discard); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "-")) {
			t.Errorf("%v: %v, want an error naming the flag", bad, err)
		}
	}
}
