// Package inventory is inventory-service: stock per SKU in SQLite, an HTTP
// API to read stock and reserve it, and a Kafka consumer that reserves
// stock for every order-placed event and answers with stock-reserved or
// stock-rejected.
//
// Reservations are idempotent by order ID: the first request decides and
// every later one (an HTTP retry, a redelivered record) gets the stored
// outcome back without touching stock. The stock-movement ledger has no
// unique constraint, so a broken idempotency shows up in Stats.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
	"github.com/faultline-harness/faultline/services/web"
)

// Service wires the store, the HTTP API and the Kafka clients.
type Service struct {
	cfg      Config
	log      *slog.Logger
	store    *Store
	handler  http.Handler
	metrics  *telemetry.Metrics // GET /metrics
	consumer atomic.Pointer[messaging.Consumer]
	// reservationRequests counts POST /reservations received (GET /stats).
	reservationRequests atomic.Int64

	mu  sync.RWMutex
	pub Publisher
}

// New opens (creating and migrating) the SQLite database at cfg.DBPath and
// seeds cfg.Catalog's SKUs that are not yet stored. It touches no network.
// Zero Config fields take their documented defaults; a nil log discards.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := OpenStore(ctx, cfg.DBPath)
	if err != nil {
		return nil, err
	}
	if err := st.Seed(ctx, cfg.Catalog); err != nil {
		st.Close()
		return nil, fmt.Errorf("seed catalog into %s: %w", cfg.DBPath, err)
	}
	s := &Service{cfg: cfg, log: log, store: st, pub: cfg.Publisher}
	s.metrics = telemetry.NewMetrics("inventory-service")
	s.metrics.Consumer(cfg.Group, func() telemetry.ConsumerReport {
		if c := s.consumer.Load(); c != nil {
			return c
		}
		return nil
	})
	s.handler = telemetry.HTTPHandler(cfg.Tracing, "inventory-service", s.metrics.HTTP(s.routes()))
	return s, nil
}

// Handler returns the HTTP API (see the route list on routes in http.go).
func (s *Service) Handler() http.Handler { return s.handler }

// Store returns the service's store.
func (s *Service) Store() *Store { return s.store }

// Close closes the database. Call it after Run returned.
func (s *Service) Close() error { return s.store.Close() }

// setPublisher makes p the outcome publisher unless Config.Publisher is set;
// nil restores Config.Publisher.
func (s *Service) setPublisher(p Publisher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Publisher == nil {
		s.pub = p
	}
}

func (s *Service) publisher() Publisher {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pub
}

// Run serves the HTTP API on ln until ctx ends; it owns ln and closes it.
// With Kafka brokers configured it first creates a producer (outcome events
// unless Config.Publisher is set, and dead letters) and a consumer of
// order-placed in group cfg.Group, and runs the consumer alongside the
// server. It returns nil after a graceful shutdown (in-flight requests get
// ShutdownGrace; the consumer commits its marked offsets; the producer
// flushes), or an error when the Kafka clients cannot be created or
// serving fails. Call Run at most once.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second}
	if len(s.cfg.Kafka.Brokers) == 0 {
		return web.Serve(ctx, srv, ln, s.cfg.ShutdownGrace, s.log)
	}
	prod, err := messaging.NewProducer(s.cfg.Kafka)
	if err != nil {
		ln.Close()
		return fmt.Errorf("inventory producer: %w", err)
	}
	defer prod.Close() // after the consumer stopped: it publishes through prod
	s.setPublisher(prod)
	defer s.setPublisher(nil)
	cons, err := messaging.NewBatchConsumer(messaging.ConsumerConfig{
		Kafka:                   s.cfg.Kafka,
		Group:                   s.cfg.Group,
		Topics:                  []string{events.TopicOrderPlaced},
		DeadLetter:              prod,
		MaxAttempts:             s.cfg.MaxAttempts,
		MaxUnclassifiedAttempts: s.cfg.MaxUnclassifiedAttempts,
	}, telemetry.BatchConsumerHandler(s.cfg.Tracing, messaging.ErrNotAttempted,
		s.metrics.BatchConsumerHandler(messaging.ErrNotAttempted, s.HandleOrderPlacedBatch)), s.log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("inventory consumer: %w", err)
	}
	s.consumer.Store(cons)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := make(chan error, 1)
	go func() { consumed <- cons.Run(ctx) }()
	s.log.Info("consuming", "topic", events.TopicOrderPlaced, "group", s.cfg.Group, "brokers", s.cfg.Kafka.Brokers)
	err = web.Serve(ctx, srv, ln, s.cfg.ShutdownGrace, s.log)
	cancel() // stop the consumer too when serving failed
	return errors.Join(err, <-consumed)
}
