// Command inventory-service runs the inventory service: the HTTP API on
// -http-addr and, when -kafka-brokers is set, the order-placed consumer.
//
// Every flag defaults to its environment variable:
//
//	-http-addr       INVENTORY_HTTP_ADDR       listen address (127.0.0.1:8081)
//	-db              INVENTORY_DB              SQLite file (inventory.db)
//	-catalog         INVENTORY_CATALOG         JSON catalog file; empty = built-in demo catalog
//	-kafka-brokers   KAFKA_BROKERS             comma-separated brokers; empty = HTTP only
//	-kafka-route     KAFKA_ROUTE               advertised=dial,… broker address rewrites (Toxiproxy)
//	-group           INVENTORY_GROUP           consumer group (inventory-service)
//	-shutdown-grace  INVENTORY_SHUTDOWN_GRACE  wait for in-flight requests (10s)
//	-log-level       LOG_LEVEL                 debug|info|warn|error (info)
//
// It stops gracefully on SIGINT or SIGTERM.
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

	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
)

func main() {
	cfg, level, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if err == nil {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = run(ctx, cfg, log)
		stop()
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "inventory-service:", err)
		os.Exit(1)
	}
}

// parseConfig reads flags from args; each flag's default comes from its
// environment variable (via getenv), then from the built-in default.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (inventory.Config, slog.Level, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("inventory-service", flag.ContinueOnError)
	fs.SetOutput(usage)
	httpAddr := fs.String("http-addr", env("INVENTORY_HTTP_ADDR", "127.0.0.1:8081"), "HTTP listen address (env INVENTORY_HTTP_ADDR)")
	db := fs.String("db", env("INVENTORY_DB", "inventory.db"), "SQLite database file (env INVENTORY_DB)")
	catalog := fs.String("catalog", env("INVENTORY_CATALOG", ""), "JSON catalog file {\"SKU\": stock}; empty = built-in demo catalog (env INVENTORY_CATALOG)")
	brokers := fs.String("kafka-brokers", env("KAFKA_BROKERS", ""), "comma-separated Kafka brokers; empty = HTTP only (env KAFKA_BROKERS)")
	route := fs.String("kafka-route", env("KAFKA_ROUTE", ""), "broker address rewrites advertised=dial,… e.g. through Toxiproxy (env KAFKA_ROUTE)")
	group := fs.String("group", env("INVENTORY_GROUP", "inventory-service"), "Kafka consumer group (env INVENTORY_GROUP)")
	grace := fs.String("shutdown-grace", env("INVENTORY_SHUTDOWN_GRACE", "10s"), "wait for in-flight requests on shutdown (env INVENTORY_SHUTDOWN_GRACE)")
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), "debug|info|warn|error (env LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return inventory.Config{}, 0, err
	}
	if fs.NArg() > 0 {
		return inventory.Config{}, 0, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return inventory.Config{}, 0, fmt.Errorf("log level %q: %w", *logLevel, err)
	}
	d, err := time.ParseDuration(*grace)
	if err != nil || d <= 0 {
		return inventory.Config{}, 0, fmt.Errorf("shutdown grace %q: want a positive duration such as 10s", *grace)
	}
	kafkaRoute, err := messaging.ParseRoute(*route)
	if err != nil {
		return inventory.Config{}, 0, err
	}
	cfg := inventory.Config{
		HTTPAddr:      *httpAddr,
		DBPath:        *db,
		Catalog:       inventory.DefaultCatalog(),
		Kafka:         messaging.Config{Brokers: messaging.ParseBrokers(*brokers), ClientID: "inventory-service", Route: kafkaRoute},
		Group:         *group,
		ShutdownGrace: d,
	}
	if *catalog != "" {
		if cfg.Catalog, err = inventory.LoadCatalog(*catalog); err != nil {
			return inventory.Config{}, 0, err
		}
	}
	return cfg, level, nil
}

// run serves until ctx ends and returns nil after a clean shutdown.
func run(ctx context.Context, cfg inventory.Config, log *slog.Logger) error {
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
