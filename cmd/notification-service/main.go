// Command notification-service runs the notification service (package
// services/notification): a second, independent consumer of order-placed
// that records one simulated notification per order, and its HTTP API.
//
// Every setting is a flag whose default comes from an environment variable:
//
//	-http-addr       NOTIFICATION_HTTP_ADDR       127.0.0.1:8082
//	-db              NOTIFICATION_DB              notification.db (SQLite)
//	-kafka-brokers   KAFKA_BROKERS                comma-separated host:port; required
//	-kafka-route     KAFKA_ROUTE                  advertised=dial,… broker address rewrites (Toxiproxy, messaging.Config.Route)
//	-group           NOTIFICATION_GROUP           notification-service (Kafka group.id; must differ from inventory's)
//	-shutdown-grace  NOTIFICATION_SHUTDOWN_GRACE  10s (wait for in-flight requests)
//	-log-level       LOG_LEVEL                    info (debug|info|warn|error)
//
// It logs JSON to stderr and stops gracefully on SIGINT or SIGTERM (the
// consumer commits what it processed). Exit status: 0 after a clean stop
// or -h, 1 when the service failed, 2 on a bad flag or environment value.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

func main() {
	cfg, level, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notification-service:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, log)
	stop()
	if err != nil {
		log.Error("notification-service failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends and returns nil after a clean shutdown.
func run(ctx context.Context, cfg notification.Config, log *slog.Logger) error {
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

// parseConfig reads flags from args; each flag's default comes from its
// environment variable (via getenv), then from the built-in default. A bad
// value, flag or environment, is an error (flag.ErrHelp for -h), never a
// silent default. All configuration parsing lives here.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (notification.Config, slog.Level, error) {
	fs := flag.NewFlagSet("notification-service", flag.ContinueOnError)
	fs.SetOutput(out)
	str := func(name, env, def, usage string) *string {
		if v := getenv(env); v != "" {
			def = v
		}
		return fs.String(name, def, usage+" (env "+env+")")
	}
	httpAddr := str("http-addr", "NOTIFICATION_HTTP_ADDR", "127.0.0.1:8082", "HTTP listen address")
	db := str("db", "NOTIFICATION_DB", "notification.db", "SQLite database file")
	brokers := str("kafka-brokers", "KAFKA_BROKERS", "", "comma-separated Kafka brokers (required)")
	route := str("kafka-route", "KAFKA_ROUTE", "", "broker address rewrites advertised=dial,… e.g. through Toxiproxy")
	group := str("group", "NOTIFICATION_GROUP", "notification-service", "Kafka consumer group of the order-placed consumer; must differ from other consumers'")
	grace := str("shutdown-grace", "NOTIFICATION_SHUTDOWN_GRACE", "10s", "wait for in-flight HTTP requests on shutdown")
	logLevel := str("log-level", "LOG_LEVEL", "info", "debug|info|warn|error")
	if err := fs.Parse(args); err != nil {
		return notification.Config{}, 0, err
	}
	fail := func(format string, a ...any) (notification.Config, slog.Level, error) {
		return notification.Config{}, 0, fmt.Errorf(format, a...)
	}
	if fs.NArg() > 0 {
		return fail("unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fail("log level %q: want debug, info, warn or error", *logLevel)
	}
	d, err := time.ParseDuration(*grace)
	if err != nil || d <= 0 {
		return fail("shutdown grace %q: want a positive duration such as 10s", *grace)
	}
	kafkaRoute, err := messaging.ParseRoute(*route)
	if err != nil {
		return fail("%w", err)
	}
	bs := messaging.ParseBrokers(*brokers)
	if len(bs) == 0 {
		return fail("no Kafka brokers: set -kafka-brokers or KAFKA_BROKERS (notification-service consumes order-placed)")
	}
	if *group == "" || *httpAddr == "" || *db == "" {
		return fail("-group, -http-addr and -db must not be empty")
	}
	return notification.Config{
		HTTPAddr:      *httpAddr,
		DBPath:        *db,
		Kafka:         messaging.Config{Brokers: bs, ClientID: "notification-service", Route: kafkaRoute},
		Group:         *group,
		ShutdownGrace: d,
	}, level, nil
}
