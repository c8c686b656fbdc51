package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{
		"NOTIFICATION_HTTP_ADDR": "127.0.0.1:9999", "NOTIFICATION_DB": "env.db", "KAFKA_BROKERS": "127.0.0.1:1, 127.0.0.1:2",
		"KAFKA_ROUTE": "a:1=b:2", "NOTIFICATION_GROUP": "g-env", "NOTIFICATION_SHUTDOWN_GRACE": "3s", "LOG_LEVEL": "debug",
	}
	getenv := func(k string) string { return env[k] }
	only := func(k, v string) func(string) string {
		return func(key string) string {
			if key == k {
				return v
			}
			return ""
		}
	}

	t.Run("defaults", func(t *testing.T) {
		cfg, level, err := parseConfig(nil, only("KAFKA_BROKERS", "k:9092"), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Config{HTTPAddr: "127.0.0.1:8082", DBPath: "notification.db", Group: "notification-service", ShutdownGrace: 10 * time.Second,
			Kafka: messaging.Config{Brokers: []string{"k:9092"}, ClientID: "notification-service"}}
		if !reflect.DeepEqual(cfg, want) || level != slog.LevelInfo {
			t.Errorf("defaults: %+v level %v\nwant %+v", cfg, level, want)
		}
	})
	t.Run("env", func(t *testing.T) {
		cfg, level, err := parseConfig(nil, getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Config{HTTPAddr: "127.0.0.1:9999", DBPath: "env.db", Group: "g-env", ShutdownGrace: 3 * time.Second,
			Kafka: messaging.Config{Brokers: []string{"127.0.0.1:1", "127.0.0.1:2"}, ClientID: "notification-service", Route: map[string]string{"a:1": "b:2"}}}
		if !reflect.DeepEqual(cfg, want) || level != slog.LevelDebug {
			t.Errorf("env: %+v level %v\nwant %+v", cfg, level, want)
		}
	})
	t.Run("flags win over env", func(t *testing.T) {
		cfg, level, err := parseConfig([]string{"-http-addr", "127.0.0.1:1234", "-db", "flag.db", "-group", "g-flag", "-kafka-brokers", "f:1",
			"-kafka-route", "", "-shutdown-grace", "250ms", "-log-level", "warn"}, getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Config{HTTPAddr: "127.0.0.1:1234", DBPath: "flag.db", Group: "g-flag", ShutdownGrace: 250 * time.Millisecond,
			Kafka: messaging.Config{Brokers: []string{"f:1"}, ClientID: "notification-service"}}
		if !reflect.DeepEqual(cfg, want) || level != slog.LevelWarn {
			t.Errorf("flags: %+v level %v\nwant %+v", cfg, level, want)
		}
	})
	t.Run("help", func(t *testing.T) {
		var usage strings.Builder
		if _, _, err := parseConfig([]string{"-h"}, getenv, &usage); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("-h: %v, want flag.ErrHelp", err)
		}
		for _, f := range []string{"-http-addr", "NOTIFICATION_HTTP_ADDR", "-db", "NOTIFICATION_DB", "-kafka-brokers", "KAFKA_BROKERS", "-kafka-route", "KAFKA_ROUTE",
			"-group", "NOTIFICATION_GROUP", "-shutdown-grace", "NOTIFICATION_SHUTDOWN_GRACE", "-log-level", "LOG_LEVEL"} {
			if !strings.Contains(usage.String(), f) {
				t.Errorf("usage does not mention %s:\n%s", f, usage.String())
			}
		}
	})
	for name, tc := range map[string]struct {
		args []string
		env  func(string) string
		want string
	}{
		"no brokers":     {nil, func(string) string { return "" }, "no Kafka brokers"},
		"blank brokers":  {[]string{"-kafka-brokers", " , "}, getenv, "no Kafka brokers"},
		"bad log level":  {[]string{"-log-level", "loud"}, getenv, "log level"},
		"bad env level":  {nil, func(k string) string { return map[string]string{"KAFKA_BROKERS": "k:1", "LOG_LEVEL": "loud"}[k] }, "log level"},
		"bad grace":      {[]string{"-shutdown-grace", "soon"}, getenv, "shutdown grace"},
		"negative grace": {[]string{"-shutdown-grace", "-1s"}, getenv, "shutdown grace"},
		"bad env grace": {nil, func(k string) string {
			return map[string]string{"KAFKA_BROKERS": "k:1", "NOTIFICATION_SHUTDOWN_GRACE": "x"}[k]
		}, "shutdown grace"},
		"bad route":      {[]string{"-kafka-route", "nonsense"}, getenv, "kafka route"},
		"empty group":    {[]string{"-group", ""}, getenv, "must not be empty"},
		"unknown flag":   {[]string{"-nope"}, getenv, "not defined"},
		"extra argument": {[]string{"extra"}, getenv, "unexpected arguments"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := parseConfig(tc.args, tc.env, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseConfig(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
