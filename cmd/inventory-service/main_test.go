package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(catalog, []byte(`{"SKU-X": 7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"INVENTORY_HTTP_ADDR": "127.0.0.1:9999", "INVENTORY_DB": "env.db", "INVENTORY_CATALOG": catalog,
		"KAFKA_BROKERS": "127.0.0.1:1, 127.0.0.1:2", "KAFKA_ROUTE": "a:1=b:2", "INVENTORY_GROUP": "g-env",
		"INVENTORY_SHUTDOWN_GRACE": "3s", "LOG_LEVEL": "debug",
	}
	getenv := func(k string) string { return env[k] }

	t.Run("defaults", func(t *testing.T) {
		cfg, level, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != "127.0.0.1:8081" || cfg.DBPath != "inventory.db" || cfg.Group != "inventory-service" ||
			cfg.ShutdownGrace != 10*time.Second || len(cfg.Kafka.Brokers) != 0 || cfg.Catalog["SKU-LOW"] != 5 || level != slog.LevelInfo {
			t.Errorf("defaults: %+v level %v", cfg, level)
		}
	})
	t.Run("env", func(t *testing.T) {
		cfg, level, err := parseConfig(nil, getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != "127.0.0.1:9999" || cfg.DBPath != "env.db" || cfg.Group != "g-env" || cfg.ShutdownGrace != 3*time.Second ||
			!reflect.DeepEqual(cfg.Kafka.Brokers, []string{"127.0.0.1:1", "127.0.0.1:2"}) ||
			!reflect.DeepEqual(cfg.Kafka.Route, map[string]string{"a:1": "b:2"}) ||
			!reflect.DeepEqual(cfg.Catalog, map[string]int{"SKU-X": 7}) || level != slog.LevelDebug {
			t.Errorf("env: %+v level %v", cfg, level)
		}
	})
	t.Run("flags win over env", func(t *testing.T) {
		cfg, _, err := parseConfig([]string{"-http-addr", "127.0.0.1:1234", "-db", "flag.db", "-group", "g-flag", "-kafka-brokers", ""}, getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != "127.0.0.1:1234" || cfg.DBPath != "flag.db" || cfg.Group != "g-flag" || len(cfg.Kafka.Brokers) != 0 {
			t.Errorf("flags: %+v", cfg)
		}
	})
	for name, args := range map[string][]string{
		"bad log level":   {"-log-level", "loud"},
		"bad grace":       {"-shutdown-grace", "soon"},
		"missing catalog": {"-catalog", filepath.Join(t.TempDir(), "nope.json")},
		"bad route":       {"-kafka-route", "nonsense"},
		"unknown flag":    {"-nope"},
		"extra argument":  {"extra"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
				t.Errorf("parseConfig(%q): no error", args)
			}
		})
	}
}
