// Command notification-service runs the notification service (package
// services/notification): a second, independent consumer of order-placed
// that records one simulated notification per order, and its HTTP API.
//
// Every setting is a flag and an environment variable (internal/config:
// default, then environment, then flag); `notification-service -h` lists
// them with their defaults:
//
//	-http-addr       NOTIFICATION_HTTP_ADDR       127.0.0.1:8082
//	-db              NOTIFICATION_DB              notification.db (SQLite)
//	-kafka-brokers   KAFKA_BROKERS                comma-separated host:port; required
//	-kafka-route     KAFKA_ROUTE                  advertised=dial,… broker address rewrites (Toxiproxy, messaging.Config.Route)
//	-group           NOTIFICATION_GROUP           notification-service (Kafka group.id; must differ from inventory's)
//	-kafka-fetch-min-bytes KAFKA_FETCH_MIN_BYTES  16384 (>= 1; Kafka fetch.min.bytes)
//	-kafka-fetch-max-wait  KAFKA_FETCH_MAX_WAIT   20ms (1ms-1s; fetch.max.wait.ms: the most a lone record waits)
//	-max-attempts    NOTIFICATION_MAX_ATTEMPTS    3 (>= 1; attempts of a poison record before it is dead-lettered)
//	-max-unclassified-attempts NOTIFICATION_MAX_UNCLASSIFIED_ATTEMPTS 10 (>= 1; attempts of a record failing with an unclassified error before it is dead-lettered)
//	-shutdown-grace  NOTIFICATION_SHUTDOWN_GRACE  10s (wait for in-flight requests)
//	-log-level       LOG_LEVEL                    info (debug|info|warn|error)
//
// Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: spans then go over OTLP/HTTP
// to that collector (telemetry.ForBinary; the standard OTEL_EXPORTER_OTLP_*
// variables apply). GET /metrics serves Prometheus metrics.
//
// It logs JSON to stderr, the effective configuration first, and stops
// gracefully on SIGINT or SIGTERM (the consumer commits what it
// processed). Exit status: 0 after a clean stop, -h or --version; 1 when
// the service failed; 2 on a bad flag or environment value (the message
// names the flag and the variable).
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
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// settings are notification-service's flags and environment variables.
type settings struct {
	conf.Version
	HTTPAddr     string `conf:"default:127.0.0.1:8082,flag:http-addr,env:NOTIFICATION_HTTP_ADDR,help:HTTP listen address (host:port)"`
	DB           string `conf:"default:notification.db,flag:db,env:NOTIFICATION_DB,help:SQLite database file"`
	KafkaBrokers string `conf:"flag:kafka-brokers,env:KAFKA_BROKERS,help:Kafka brokers host:port separated by commas (required)"`
	KafkaRoute   string `conf:"flag:kafka-route,env:KAFKA_ROUTE,help:broker address rewrites advertised=dial separated by commas (through Toxiproxy)"`
	Group        string `conf:"default:notification-service,flag:group,env:NOTIFICATION_GROUP,help:Kafka consumer group (group.id) of the order-placed consumer; must differ from the other consumer groups"`
	config.KafkaFetch
	MaxAttempts     int           `conf:"default:3,flag:max-attempts,env:NOTIFICATION_MAX_ATTEMPTS,help:attempts of an order-placed record failing permanently (poison) before it is dead-lettered; >= 1"`
	MaxUnclassified int           `conf:"default:10,flag:max-unclassified-attempts,env:NOTIFICATION_MAX_UNCLASSIFIED_ATTEMPTS,help:attempts of an order-placed record failing with an unclassified error (neither poison nor a known outage) before it is dead-lettered; >= 1"`
	ShutdownGrace   time.Duration `conf:"default:10s,flag:shutdown-grace,env:NOTIFICATION_SHUTDOWN_GRACE,help:wait for in-flight HTTP requests on shutdown"`
	LogLevel        slog.Level    `conf:"default:info,flag:log-level,env:LOG_LEVEL,help:minimum 'level': debug|info|warn|error"`
	Args            conf.Args
}

func main() {
	os.Exit(config.Main("notification-service", func(args []string, out io.Writer) (notification.Config, config.Startup, error) {
		cfg, s, err := parseConfig(args, out)
		return cfg, config.Startup{Settings: &s, Version: s.Build, LogLevel: s.LogLevel}, err
	}, run))
}

// run serves until ctx ends and returns nil after a clean shutdown.
func run(ctx context.Context, cfg notification.Config, log *slog.Logger) error {
	tp, stopTracing, err := telemetry.ForBinary(ctx, "notification-service")
	if err != nil {
		return err
	}
	defer stopTracing()
	cfg.Tracing = tp
	svc, err := notification.New(cfg, log)
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
	log.Info("notification-service listening", "addr", ln.Addr().String(), "db", cfg.DBPath,
		"kafka_brokers", cfg.Kafka.Brokers, "kafka_route", cfg.Kafka.Route, "group", cfg.Group, "shutdown_grace", cfg.ShutdownGrace.String())
	if err := svc.Run(ctx, ln); err != nil {
		return err
	}
	log.Info("notification-service stopped")
	return nil
}

// parseConfig reads the settings from the environment and args (flags win)
// and checks them. -h writes the usage to out and returns config.ErrHelp;
// a bad or invalid value is a *config.Error naming the flag and the
// variable, never replaced by a default. All configuration parsing lives
// here.
func parseConfig(args []string, out io.Writer) (notification.Config, settings, error) {
	s := settings{Version: conf.Version{Build: buildinfo.String(), Desc: "notification-service: one simulated notification per placed order"}}
	if err := config.Parse("notification-service", args, &s, out); err != nil {
		return notification.Config{}, s, err
	}
	fail := func(flag, reason string) (notification.Config, settings, error) {
		return notification.Config{}, s, config.Invalid(&s, flag, reason)
	}
	switch {
	case s.HTTPAddr == "":
		return fail("http-addr", "must not be empty")
	case s.DB == "":
		return fail("db", "must not be empty")
	case s.Group == "":
		return fail("group", "must not be empty")
	case s.MaxAttempts < 1:
		return fail("max-attempts", "must be a whole number >= 1")
	case s.MaxUnclassified < 1:
		return fail("max-unclassified-attempts", "must be a whole number >= 1")
	case s.ShutdownGrace <= 0:
		return fail("shutdown-grace", "must be a positive duration such as 10s")
	}
	if err := s.KafkaFetch.Check(&s); err != nil {
		return notification.Config{}, s, err
	}
	route, err := messaging.ParseRoute(s.KafkaRoute)
	if err != nil {
		return fail("kafka-route", err.Error())
	}
	bs := messaging.ParseBrokers(s.KafkaBrokers)
	if len(bs) == 0 {
		return fail("kafka-brokers", "no Kafka brokers: notification-service consumes order-placed")
	}
	return notification.Config{
		HTTPAddr: s.HTTPAddr,
		DBPath:   s.DB,
		Kafka: messaging.Config{Brokers: bs, ClientID: "notification-service", Route: route,
			FetchMinBytes: s.FetchMinBytes, FetchMaxWait: s.FetchMaxWait},
		Group:                   s.Group,
		MaxAttempts:             s.MaxAttempts,
		MaxUnclassifiedAttempts: s.MaxUnclassified,
		ShutdownGrace:           s.ShutdownGrace,
	}, s, nil
}
