// Command inventory-service runs the inventory service: the HTTP API on
// -http-addr and, when -kafka-brokers is set, the order-placed consumer.
//
// Every setting is a flag and an environment variable (internal/config:
// default, then environment, then flag); `inventory-service -h` lists
// them with their defaults:
//
//	-http-addr       INVENTORY_HTTP_ADDR       listen address, host:port (127.0.0.1:8081)
//	-db              INVENTORY_DB              SQLite file (inventory.db)
//	-catalog         INVENTORY_CATALOG         JSON catalog file {"SKU": units}; empty = built-in demo catalog
//	-kafka-brokers   KAFKA_BROKERS             comma-separated host:port; empty = HTTP only
//	-kafka-route     KAFKA_ROUTE               advertised=dial,… broker address rewrites (Toxiproxy)
//	-group           INVENTORY_GROUP           Kafka consumer group (group.id) of the order-placed consumer (inventory-service)
//	-kafka-fetch-min-bytes KAFKA_FETCH_MIN_BYTES bytes a fetch waits for, >= 1 (16384; Kafka fetch.min.bytes)
//	-kafka-fetch-max-wait  KAFKA_FETCH_MAX_WAIT  the most a fetch waits for them, 1ms-1s (20ms; fetch.max.wait.ms)
//	-max-attempts    INVENTORY_MAX_ATTEMPTS    attempts of a record failing permanently before it is dead-lettered, >= 1 (3)
//	-max-unclassified-attempts INVENTORY_MAX_UNCLASSIFIED_ATTEMPTS attempts of a record failing with an unclassified error before it is dead-lettered, >= 1 (10)
//	-shutdown-grace  INVENTORY_SHUTDOWN_GRACE  wait for in-flight requests on shutdown, a duration (10s)
//	-log-level       LOG_LEVEL                 debug|info|warn|error (info)
//
// Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: spans then go over OTLP/HTTP
// to that collector (telemetry.ForBinary; the standard OTEL_EXPORTER_OTLP_*
// variables apply). GET /metrics serves Prometheus metrics.
//
// It logs JSON to stderr, the effective configuration first, and stops
// gracefully on SIGINT or SIGTERM. Exit status: 0 after a clean stop, -h or
// --version; 1 when the service failed; 2 on a bad flag or environment
// value (the message names the flag and the variable).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ardanlabs/conf/v3"

	"github.com/faultline-harness/faultline/internal/buildinfo"
	"github.com/faultline-harness/faultline/internal/config"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// settings are inventory-service's flags and environment variables.
type settings struct {
	conf.Version
	HTTPAddr     string `conf:"default:127.0.0.1:8081,flag:http-addr,env:INVENTORY_HTTP_ADDR,help:HTTP listen address (host:port)"`
	DB           string `conf:"default:inventory.db,flag:db,env:INVENTORY_DB,help:SQLite database file"`
	Catalog      string `conf:"flag:catalog,env:INVENTORY_CATALOG,help:JSON catalog file {\"SKU\": units}; empty = built-in demo catalog"`
	KafkaBrokers string `conf:"flag:kafka-brokers,env:KAFKA_BROKERS,help:Kafka brokers host:port separated by commas; empty = HTTP only"`
	KafkaRoute   string `conf:"flag:kafka-route,env:KAFKA_ROUTE,help:broker address rewrites advertised=dial separated by commas (through Toxiproxy)"`
	Group        string `conf:"default:inventory-service,flag:group,env:INVENTORY_GROUP,help:Kafka consumer group (group.id) of the order-placed consumer"`
	config.KafkaFetch
	MaxAttempts     int           `conf:"default:3,flag:max-attempts,env:INVENTORY_MAX_ATTEMPTS,help:attempts of an order-placed record failing permanently (poison) before it is dead-lettered; >= 1"`
	MaxUnclassified int           `conf:"default:10,flag:max-unclassified-attempts,env:INVENTORY_MAX_UNCLASSIFIED_ATTEMPTS,help:attempts of an order-placed record failing with an unclassified error (neither poison nor a known outage) before it is dead-lettered; >= 1"`
	ShutdownGrace   time.Duration `conf:"default:10s,flag:shutdown-grace,env:INVENTORY_SHUTDOWN_GRACE,help:wait for in-flight HTTP requests on shutdown"`
	LogLevel        slog.Level    `conf:"default:info,flag:log-level,env:LOG_LEVEL,help:minimum 'level': debug|info|warn|error"`
	Args            conf.Args
}

func main() {
	os.Exit(config.Main("inventory-service", func(args []string, out io.Writer) (inventory.Config, config.Startup, error) {
		cfg, s, err := parseConfig(args, out)
		return cfg, config.Startup{Settings: &s, Version: s.Build, LogLevel: s.LogLevel}, err
	}, run))
}

// parseConfig reads the settings from the environment and args (flags win)
// and checks them. -h writes the usage to out and returns config.ErrHelp;
// a bad or invalid value is a *config.Error naming the flag and the
// variable, never replaced by a default.
func parseConfig(args []string, out io.Writer) (inventory.Config, settings, error) {
	s := settings{Version: conf.Version{Build: buildinfo.String(), Desc: "inventory-service: stock reservations over HTTP and Kafka"}}
	if err := config.Parse("inventory-service", args, &s, out); err != nil {
		return inventory.Config{}, s, err
	}
	switch {
	case s.HTTPAddr == "":
		return inventory.Config{}, s, config.Invalid(&s, "http-addr", "must not be empty")
	case s.DB == "":
		return inventory.Config{}, s, config.Invalid(&s, "db", "must not be empty")
	case s.Group == "":
		return inventory.Config{}, s, config.Invalid(&s, "group", "must not be empty")
	case s.MaxAttempts < 1:
		return inventory.Config{}, s, config.Invalid(&s, "max-attempts", "must be a whole number >= 1")
	case s.MaxUnclassified < 1:
		return inventory.Config{}, s, config.Invalid(&s, "max-unclassified-attempts", "must be a whole number >= 1")
	case s.ShutdownGrace <= 0:
		return inventory.Config{}, s, config.Invalid(&s, "shutdown-grace", "must be a positive duration such as 10s")
	}
	if err := s.KafkaFetch.Check(&s); err != nil {
		return inventory.Config{}, s, err
	}
	route, err := messaging.ParseRoute(s.KafkaRoute)
	if err != nil {
		return inventory.Config{}, s, config.Invalid(&s, "kafka-route", err.Error())
	}
	cfg := inventory.Config{
		HTTPAddr: s.HTTPAddr,
		DBPath:   s.DB,
		Catalog:  inventory.DefaultCatalog(),
		Kafka: messaging.Config{Brokers: messaging.ParseBrokers(s.KafkaBrokers), ClientID: "inventory-service", Route: route,
			FetchMinBytes: s.FetchMinBytes, FetchMaxWait: s.FetchMaxWait},
		Group:                   s.Group,
		MaxAttempts:             s.MaxAttempts,
		MaxUnclassifiedAttempts: s.MaxUnclassified,
		ShutdownGrace:           s.ShutdownGrace,
	}
	if s.Catalog != "" {
		if cfg.Catalog, err = inventory.LoadCatalog(s.Catalog); err != nil {
			return inventory.Config{}, s, config.Invalid(&s, "catalog", err.Error())
		}
	}
	return cfg, s, nil
}

// run serves until ctx ends and returns nil after a clean shutdown.
func run(ctx context.Context, cfg inventory.Config, log *slog.Logger) error {
	tp, stopTracing, err := telemetry.ForBinary(ctx, "inventory-service")
	if err != nil {
		return err
	}
	defer stopTracing()
	cfg.Tracing = tp
	svc, err := inventory.New(cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("inventory-service listening", "addr", ln.Addr().String(), "db", cfg.DBPath, "kafka_brokers", cfg.Kafka.Brokers, "group", cfg.Group)
	if err := svc.Run(ctx, ln); err != nil {
		return err
	}
	log.Info("inventory-service stopped")
	return nil
}
