package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/faultline-harness/faultline/internal/config"
	"github.com/faultline-harness/faultline/internal/testkit"
)

// clearEnv unsets every variable the binary reads, for the test.
func clearEnv(t *testing.T) {
	testkit.SetEnv(t, config.EnvNames(&settings{}), nil)
}

func TestParseConfig(t *testing.T) {
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(catalog, []byte(`{"SKU-X": 7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"INVENTORY_HTTP_ADDR": "127.0.0.1:9999", "INVENTORY_DB": "env.db", "INVENTORY_CATALOG": catalog,
		"KAFKA_BROKERS": "127.0.0.1:1, 127.0.0.1:2", "KAFKA_ROUTE": "a:1=b:2", "INVENTORY_GROUP": "g-env",
		"INVENTORY_SHUTDOWN_GRACE": "3s", "LOG_LEVEL": "debug", "INVENTORY_MAX_ATTEMPTS": "5",
		"KAFKA_FETCH_MIN_BYTES": "1", "KAFKA_FETCH_MAX_WAIT": "5ms",
	}
	setEnv := func(t *testing.T) {
		clearEnv(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
	}

	t.Run("defaults", func(t *testing.T) {
		clearEnv(t)
		cfg, s, err := parseConfig(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != "127.0.0.1:8081" || cfg.DBPath != "inventory.db" || cfg.Group != "inventory-service" ||
			cfg.ShutdownGrace != 10*time.Second || len(cfg.Kafka.Brokers) != 0 || cfg.Catalog["SKU-LOW"] != 5 || s.LogLevel != slog.LevelInfo ||
			cfg.MaxAttempts != 3 || cfg.MaxUnclassifiedAttempts != 10 || cfg.Kafka.FetchMinBytes != 16384 || cfg.Kafka.FetchMaxWait != 20*time.Millisecond {
			t.Errorf("defaults: %+v level %v", cfg, s.LogLevel)
		}
	})
	t.Run("env", func(t *testing.T) {
		setEnv(t)
		cfg, s, err := parseConfig(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != "127.0.0.1:9999" || cfg.DBPath != "env.db" || cfg.Group != "g-env" || cfg.ShutdownGrace != 3*time.Second || cfg.MaxAttempts != 5 ||
			!reflect.DeepEqual(cfg.Kafka.Brokers, []string{"127.0.0.1:1", "127.0.0.1:2"}) ||
			!reflect.DeepEqual(cfg.Kafka.Route, map[string]string{"a:1": "b:2"}) ||
			!reflect.DeepEqual(cfg.Catalog, map[string]int{"SKU-X": 7}) || s.LogLevel != slog.LevelDebug ||
			cfg.Kafka.FetchMinBytes != 1 || cfg.Kafka.FetchMaxWait != 5*time.Millisecond {
			t.Errorf("env: %+v level %v", cfg, s.LogLevel)
		}
	})
	t.Run("flags win over env", func(t *testing.T) {
		setEnv(t)
		cfg, _, err := parseConfig([]string{"-http-addr", "127.0.0.1:1234", "-db", "flag.db", "-group", "g-flag", "-kafka-brokers", "", "-max-attempts", "1", "-max-unclassified-attempts", "2"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != "127.0.0.1:1234" || cfg.DBPath != "flag.db" || cfg.Group != "g-flag" || len(cfg.Kafka.Brokers) != 0 || cfg.MaxAttempts != 1 || cfg.MaxUnclassifiedAttempts != 2 {
			t.Errorf("flags: %+v", cfg)
		}
	})
	t.Run("help", func(t *testing.T) {
		clearEnv(t)
		var out strings.Builder
		if _, _, err := parseConfig([]string{"-h"}, &out); !errors.Is(err, config.ErrHelp) {
			t.Fatalf("-h: %v", err)
		}
		for _, w := range []string{"--http-addr", "INVENTORY_HTTP_ADDR", "--kafka-brokers", "KAFKA_BROKERS", "--shutdown-grace", "INVENTORY_SHUTDOWN_GRACE", "LOG_LEVEL"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("usage lacks %s:\n%s", w, out.String())
			}
		}
	})
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad log level":      {[]string{"-log-level", "loud"}, nil, "-log-level (env LOG_LEVEL)"},
		"bad grace":          {[]string{"-shutdown-grace", "soon"}, nil, "-shutdown-grace (env INVENTORY_SHUTDOWN_GRACE)"},
		"negative grace":     {[]string{"-shutdown-grace=-1s"}, nil, "must be a positive duration"},
		"bad env grace":      {nil, map[string]string{"INVENTORY_SHUTDOWN_GRACE": "x"}, `invalid value "x" for -shutdown-grace`},
		"empty env db":       {nil, map[string]string{"INVENTORY_DB": ""}, "-db (env INVENTORY_DB): must not be empty"},
		"missing catalog":    {[]string{"-catalog", filepath.Join(t.TempDir(), "nope.json")}, nil, "-catalog (env INVENTORY_CATALOG)"},
		"bad route":          {[]string{"-kafka-route", "nonsense"}, nil, "-kafka-route (env KAFKA_ROUTE)"},
		"zero fetch bytes":   {[]string{"-kafka-fetch-min-bytes", "0"}, nil, "-kafka-fetch-min-bytes (env KAFKA_FETCH_MIN_BYTES): must be a whole number of bytes >= 1"},
		"bad env fetch wait": {nil, map[string]string{"KAFKA_FETCH_MAX_WAIT": "1h"}, "-kafka-fetch-max-wait (env KAFKA_FETCH_MAX_WAIT): must be a duration from 1ms to 1s"},
		"zero attempts":      {[]string{"-max-attempts", "0"}, nil, "-max-attempts (env INVENTORY_MAX_ATTEMPTS): must be a whole number >= 1"},
		"bad attempts":       {nil, map[string]string{"INVENTORY_MAX_ATTEMPTS": "three"}, "-max-attempts"},
		"zero unclassified attempts": {[]string{"-max-unclassified-attempts", "0"}, nil,
			"-max-unclassified-attempts (env INVENTORY_MAX_UNCLASSIFIED_ATTEMPTS): must be a whole number >= 1"},
		"bad env unclassified attempts": {nil, map[string]string{"INVENTORY_MAX_UNCLASSIFIED_ATTEMPTS": "lots"}, "-max-unclassified-attempts"},
		"unknown flag":                  {[]string{"-nope"}, nil, "unknown flag -nope"},
		"extra argument":                {[]string{"extra"}, nil, "unexpected argument"},
	} {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, _, err := parseConfig(tc.args, io.Discard)
			if config.ExitCode(err) != config.ExitUsage || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("parseConfig(%q) = %v, want a usage error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestBinary: -h exits 0, a bad value exits 2 naming the setting, an
// environment variable is honoured and the effective configuration is
// logged at start; SIGTERM stops it with 0.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testkit.BuildBinary(t, "inventory-service")
	testkit.CheckExits(t, bin, []testkit.ExitCase{
		{Args: []string{"-h"}, Code: 0, Want: "INVENTORY_SHUTDOWN_GRACE"},
		{Args: []string{"--version"}, Code: 0, Want: "inventory-service"},
		{Args: []string{"-shutdown-grace=-1s"}, Code: 2, Want: "-shutdown-grace (env INVENTORY_SHUTDOWN_GRACE): must be a positive duration"},
		{Args: []string{"-nope"}, Code: 2, Want: "unknown flag -nope"},
	})
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := testkit.StartProcessEnv(t, bin, []string{"INVENTORY_GROUP=g-from-env", "INVENTORY_HTTP_ADDR=" + addr},
		"-db", filepath.Join(t.TempDir(), "inventory.db"), "-log-level", "info")
	p.WaitHealthy(t, "http://"+addr+"/healthz", 20*time.Second)
	p.CheckOutput(t, `"msg":"inventory-service starting"`, `"group":"g-from-env"`, `"http-addr":"`+addr+`"`, `"shutdown-grace":"10s"`, `"version":`)
	testkit.StopClean(t, 20*time.Second, p)
}
