package main

import (
	"io"
	"os"
	"path/filepath"
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
