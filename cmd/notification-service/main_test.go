package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/config"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

// setEnv replaces every variable the binary reads with env's, for the test.
func setEnv(t *testing.T, env map[string]string) {
	testkit.SetEnv(t, config.EnvNames(&settings{}), env)
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{
		"NOTIFICATION_HTTP_ADDR": "127.0.0.1:9999", "NOTIFICATION_DB": "env.db", "KAFKA_BROKERS": "127.0.0.1:1, 127.0.0.1:2",
		"KAFKA_ROUTE": "a:1=b:2", "NOTIFICATION_GROUP": "g-env", "NOTIFICATION_SHUTDOWN_GRACE": "3s", "LOG_LEVEL": "debug",
		"KAFKA_FETCH_MIN_BYTES": "1", "KAFKA_FETCH_MAX_WAIT": "5ms",
	}

	t.Run("defaults", func(t *testing.T) {
		setEnv(t, map[string]string{"KAFKA_BROKERS": "k:9092"})
		cfg, s, err := parseConfig(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Config{HTTPAddr: "127.0.0.1:8082", DBPath: "notification.db", Group: "notification-service", ShutdownGrace: 10 * time.Second, MaxAttempts: 3, MaxUnclassifiedAttempts: 10,
			Kafka: messaging.Config{Brokers: []string{"k:9092"}, ClientID: "notification-service", FetchMinBytes: 16384, FetchMaxWait: 20 * time.Millisecond}}
		if !reflect.DeepEqual(cfg, want) || s.LogLevel != slog.LevelInfo {
			t.Errorf("defaults: %+v level %v\nwant %+v", cfg, s.LogLevel, want)
		}
	})
	t.Run("env", func(t *testing.T) {
		setEnv(t, env)
		cfg, s, err := parseConfig(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Config{HTTPAddr: "127.0.0.1:9999", DBPath: "env.db", Group: "g-env", ShutdownGrace: 3 * time.Second, MaxAttempts: 3, MaxUnclassifiedAttempts: 10,
			Kafka: messaging.Config{Brokers: []string{"127.0.0.1:1", "127.0.0.1:2"}, ClientID: "notification-service", Route: map[string]string{"a:1": "b:2"},
				FetchMinBytes: 1, FetchMaxWait: 5 * time.Millisecond}}
		if !reflect.DeepEqual(cfg, want) || s.LogLevel != slog.LevelDebug {
			t.Errorf("env: %+v level %v\nwant %+v", cfg, s.LogLevel, want)
		}
	})
	t.Run("flags win over env", func(t *testing.T) {
		setEnv(t, env)
		cfg, s, err := parseConfig([]string{"-http-addr", "127.0.0.1:1234", "-db", "flag.db", "-group", "g-flag", "-kafka-brokers", "f:1",
			"-kafka-route", "", "-shutdown-grace", "250ms", "-log-level", "warn", "-max-attempts", "7", "-max-unclassified-attempts", "4",
			"-kafka-fetch-min-bytes", "65536", "-kafka-fetch-max-wait", "100ms"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Config{HTTPAddr: "127.0.0.1:1234", DBPath: "flag.db", Group: "g-flag", ShutdownGrace: 250 * time.Millisecond, MaxAttempts: 7, MaxUnclassifiedAttempts: 4,
			Kafka: messaging.Config{Brokers: []string{"f:1"}, ClientID: "notification-service", FetchMinBytes: 65536, FetchMaxWait: 100 * time.Millisecond}}
		if !reflect.DeepEqual(cfg, want) || s.LogLevel != slog.LevelWarn {
			t.Errorf("flags: %+v level %v\nwant %+v", cfg, s.LogLevel, want)
		}
	})
	t.Run("help", func(t *testing.T) {
		setEnv(t, env)
		var usage strings.Builder
		if _, _, err := parseConfig([]string{"-h"}, &usage); !errors.Is(err, config.ErrHelp) || config.ExitCode(err) != 0 {
			t.Fatalf("-h: %v, want config.ErrHelp (exit 0)", err)
		}
		for _, f := range []string{"--http-addr", "NOTIFICATION_HTTP_ADDR", "--db", "NOTIFICATION_DB", "--kafka-brokers", "KAFKA_BROKERS", "--kafka-route", "KAFKA_ROUTE",
			"--group", "NOTIFICATION_GROUP", "--shutdown-grace", "NOTIFICATION_SHUTDOWN_GRACE", "--log-level", "LOG_LEVEL"} {
			if !strings.Contains(usage.String(), f) {
				t.Errorf("usage does not mention %s:\n%s", f, usage.String())
			}
		}
	})
	withBroker := func(k, v string) map[string]string { return map[string]string{"KAFKA_BROKERS": "k:1", k: v} }
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"no brokers":     {nil, nil, "-kafka-brokers (env KAFKA_BROKERS): no Kafka brokers"},
		"blank brokers":  {[]string{"-kafka-brokers", " , "}, env, "no Kafka brokers"},
		"bad log level":  {[]string{"-log-level", "loud"}, env, "-log-level (env LOG_LEVEL)"},
		"bad env level":  {nil, withBroker("LOG_LEVEL", "loud"), `invalid value "loud" for -log-level`},
		"bad grace":      {[]string{"-shutdown-grace", "soon"}, env, "-shutdown-grace (env NOTIFICATION_SHUTDOWN_GRACE)"},
		"negative grace": {[]string{"-shutdown-grace=-1s"}, env, "must be a positive duration"},
		"zero attempts":  {[]string{"-max-attempts", "0"}, env, "-max-attempts (env NOTIFICATION_MAX_ATTEMPTS): must be a whole number >= 1"},
		"bad attempts":   {[]string{"-max-attempts", "many"}, env, "-max-attempts"},
		"zero unclassified attempts": {[]string{"-max-unclassified-attempts", "0"}, env,
			"-max-unclassified-attempts (env NOTIFICATION_MAX_UNCLASSIFIED_ATTEMPTS): must be a whole number >= 1"},
		"bad env unclassified attempts": {nil, withBroker("NOTIFICATION_MAX_UNCLASSIFIED_ATTEMPTS", "lots"), "-max-unclassified-attempts"},
		"bad env grace":                 {nil, withBroker("NOTIFICATION_SHUTDOWN_GRACE", "x"), `invalid value "x" for -shutdown-grace`},
		"bad route":                     {[]string{"-kafka-route", "nonsense"}, env, "-kafka-route (env KAFKA_ROUTE)"},
		"empty group":                   {[]string{"-group", ""}, env, "-group (env NOTIFICATION_GROUP): must not be empty"},
		"unknown flag":                  {[]string{"-nope"}, env, "unknown flag -nope"},
		"extra argument":                {[]string{"extra"}, env, "unexpected argument"},
	} {
		t.Run(name, func(t *testing.T) {
			setEnv(t, tc.env)
			_, _, err := parseConfig(tc.args, io.Discard)
			if config.ExitCode(err) != config.ExitUsage || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("parseConfig(%q) = %v, want a usage error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
