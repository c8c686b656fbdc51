// Package order is order-service: it takes orders over HTTP and gets stock
// for them from inventory-service in one of three modes.
//
//   - sync: POST /orders calls inventory's POST /reservations and answers
//     with the outcome (201 CONFIRMED, 409 REJECTED, 503 FAILED).
//   - async: POST /orders stores the order PENDING together with an
//     order-placed event in a transactional outbox (one SQLite transaction)
//     and answers 202 at once; the outbox Relay publishes the event to Kafka
//     and the stock-outcome consumer moves the order to CONFIRMED or
//     REJECTED when inventory answers with stock-reserved or stock-rejected.
//   - hybrid: POST /orders reads the stock synchronously (GET /stock/{sku},
//     short timeout, its own breaker) and answers from it: 409 at once when
//     the stock is short, else 202 and the reservation goes through the
//     outbox as in async mode. A failed read is accepted as "unverified"
//     or refused with 503, per HybridConfig.OnReadFailure (hybrid.go).
//
// Files: store.go (SQLite orders + outbox), http.go (handlers),
// inventoryclient.go (sync-mode HTTP client), relay.go (outbox relay),
// consumer.go (stock outcomes), hybrid.go (hybrid mode's stock read),
// service.go (config and wiring).
package order

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

	"go.opentelemetry.io/otel/trace"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
	"github.com/faultline-harness/faultline/services/web"
)

// Mode selects how an order gets its stock.
type Mode string

// Modes.
const (
	ModeSync   Mode = "sync"
	ModeAsync  Mode = "async"
	ModeHybrid Mode = "hybrid" // sync stock read, async reservation
)

// Config is order-service's configuration. Zero values take the defaults
// below; cmd/order-service reads it from flags and the environment.
type Config struct {
	HTTPAddr string // env ORDER_HTTP_ADDR, flag -http-addr, default "127.0.0.1:8080"
	Mode     Mode   // env ORDER_MODE, flag -mode, default async
	DBPath   string // env ORDER_DB, flag -db, default "orders.db" (SQLite, WAL)
	// Catalog optionally lists the known SKUs (values ignored). When
	// non-empty, POST /orders with another SKU gets 422 unknown_sku in both
	// modes, with no side effects.
	Catalog          map[string]int
	InventoryURL     string           // sync and hybrid modes; env INVENTORY_URL, default "http://127.0.0.1:8081"
	InventoryTimeout time.Duration    // per sync-mode reservation call; env INVENTORY_TIMEOUT, default 500ms
	Kafka            messaging.Config // async and hybrid modes: Brokers required
	// Hybrid configures hybrid mode's stock read (hybrid.go).
	Hybrid HybridConfig
	Group  string // consumer group for stock outcomes, default "order-service"
	// MaxAttempts is how many times the stock-outcome consumer attempts a
	// record whose handling fails permanently (poison) before
	// dead-lettering it (env ORDER_MAX_ATTEMPTS, flag -max-attempts).
	// Default 3 (messaging.DefaultMaxAttempts); transient failures are
	// retried without limit.
	MaxAttempts     int
	RelayInterval   time.Duration // outbox poll interval, default 50ms (the relay is also woken on each insert)
	RelayBatch      int           // outbox rows per lane send (one SendBatch, one marking transaction), default 256
	PublishTimeout  time.Duration // deadline per outbox SendBatch, default 5s
	RelayMinBackoff time.Duration // a relay lane's first wait after a transient failure, default 100ms
	RelayMaxBackoff time.Duration // cap of a lane's doubling backoff, default 1s
	// RelayMaxUnclassifiedAttempts is how many sends of one outbox row may
	// fail with an unclassified error (messaging.Classify) before the row
	// is parked and its order FAILED (publish_failed) with reason
	// "unclassified_error_after_N_attempts: ..." (env
	// ORDER_RELAY_MAX_UNCLASSIFIED_ATTEMPTS, flag
	// -relay-max-unclassified-attempts). Default 10. Known outages are
	// retried without limit; permanent errors park at once.
	RelayMaxUnclassifiedAttempts int
	ShutdownGrace                time.Duration // HTTP graceful shutdown, default 10s
	// Resilience switches sync mode's mitigations around the inventory
	// calls (circuit breaker, bulkhead, retry budget); the zero value has
	// them all off. See resilience.go.
	Resilience Resilience
	// MaxConcurrentRequests models a server with a fixed worker pool (a
	// thread-per-request server, a bounded executor): at most this many
	// requests are served at once and the others wait in line until a
	// worker frees up or their client gives up. GET /stats bypasses the
	// line so the pile-up stays observable. 0 (default): no cap, Go's
	// net/http serves every request on its own goroutine, and a pile-up
	// shows as goroutines and memory rather than as slow unrelated
	// endpoints. Env ORDER_MAX_CONCURRENT_REQUESTS.
	MaxConcurrentRequests int
	// MaxUnclassifiedAttempts is how many times the stock-outcome consumer
	// attempts a record whose handler error is unclassified (neither
	// permanent nor a known outage, messaging.Classify) before
	// dead-lettering it with reason "unclassified_error_after_N_attempts:
	// ..." (env ORDER_MAX_UNCLASSIFIED_ATTEMPTS, flag
	// -max-unclassified-attempts). Default 10
	// (messaging.DefaultMaxUnclassifiedAttempts). Known outages
	// (messaging.IsTransient) are retried without limit.
	MaxUnclassifiedAttempts int
	// Tracing, when set, traces every order (package telemetry): a server
	// span per HTTP request (W3C traceparent honoured), the outbox row's
	// traceparent, a producer span per outbox record sent, a consumer span
	// per stock outcome, and in sync mode a client span per inventory call.
	// Nil: no spans (trace context is still passed on).
	Tracing trace.TracerProvider
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.Mode == "" {
		c.Mode = ModeAsync
	}
	if c.DBPath == "" {
		c.DBPath = "orders.db"
	}
	if c.InventoryURL == "" {
		c.InventoryURL = "http://127.0.0.1:8081"
	}
	if c.Group == "" {
		c.Group = "order-service"
	}
	if c.RelayBatch <= 0 {
		c.RelayBatch = DefaultRelayBatch
	}
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = "order-service"
	}
	def(&c.InventoryTimeout, 500*time.Millisecond)
	def(&c.RelayInterval, 50*time.Millisecond)
	def(&c.PublishTimeout, 5*time.Second)
	def(&c.RelayMinBackoff, DefaultRelayMinBackoff)
	def(&c.RelayMaxBackoff, max(DefaultRelayMaxBackoff, c.RelayMinBackoff))
	def(&c.ShutdownGrace, 10*time.Second)
	c.Hybrid = c.Hybrid.withDefaults()
	return c
}

// Status is an order's state. PENDING is the only non-final one.
type Status string

// Statuses.
const (
	StatusPending   Status = "PENDING"
	StatusConfirmed Status = "CONFIRMED"
	StatusRejected  Status = "REJECTED" // inventory said no: Reason is "insufficient_stock", "unknown_sku", …
	StatusFailed    Status = "FAILED"   // sync mode: inventory unreachable, timed out or answered 5xx
)

// AllStatuses lists every status, in lifecycle order.
var AllStatuses = []Status{StatusPending, StatusConfirmed, StatusRejected, StatusFailed}

// Order is one order. JSON:
//
//	{"id":"…","sku":"SKU-1","quantity":2,"mode":"async","status":"PENDING",
//	 "reason":"…","created_at":"2026-11-29T10:00:00Z","updated_at":"…"}
//
// Reason is present only for REJECTED and FAILED. StockCheck ("verified"
// or "unverified", see hybrid.go) only for hybrid orders. Times are UTC.
type Order struct {
	ID         string    `json:"id"`
	SKU        string    `json:"sku"`
	Quantity   int       `json:"quantity"`
	Mode       Mode      `json:"mode"`
	Status     Status    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	StockCheck string    `json:"stock_check,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// OrderPlacedEvent builds the order-placed event for o, as stored in the
// outbox and published to Kafka. Turn it into a record with events.Record.
func OrderPlacedEvent(o Order, eventID string, now time.Time) events.Event {
	return events.Event{
		EventID:    eventID,
		Type:       events.OrderPlaced,
		OrderID:    o.ID,
		SKU:        o.SKU,
		Quantity:   o.Quantity,
		OccurredAt: now.UTC(),
	}
}

// Service is a running order-service: store, HTTP handler and, in async
// mode, the outbox relay and the stock-outcome consumer.
type Service struct {
	cfg      Config
	log      *slog.Logger
	store    *Store
	inv      *InventoryClient // sync and hybrid modes
	guard    *inventoryGuard  // sync mode: breaker, bulkhead, retries around inv
	workers  *workerPool      // nil: no MaxConcurrentRequests cap
	inFlight atomic.Int64     // HTTP requests in the handler
	stock    *stockReader     // hybrid mode
	pub      *kafkaPublisher  // async and hybrid modes
	relay    *Relay           // async and hybrid modes
	consumer atomic.Pointer[messaging.Consumer]
	// unknownOutcomes counts stock outcomes for orders this service does
	// not hold (GET /stats stock_outcomes_unknown_order).
	unknownOutcomes atomic.Int64
	handler         http.Handler
	metrics         *telemetry.Metrics // GET /metrics, see metrics.go
	close           sync.Once
	closeErr        error
}

// relayConfig is the relay's part of c.
func (c Config) relayConfig() RelayConfig {
	return RelayConfig{Interval: c.RelayInterval, Batch: c.RelayBatch, PublishTimeout: c.PublishTimeout,
		MinBackoff: c.RelayMinBackoff, MaxBackoff: c.RelayMaxBackoff, MaxUnclassifiedAttempts: c.RelayMaxUnclassifiedAttempts,
		Tracing: c.Tracing}
}

// New validates cfg, opens (or creates) the SQLite database and builds the
// service. It does not connect to Kafka: in async mode the producer and
// the consumer connect in Run and keep retrying while the broker is down,
// so orders are accepted into the outbox meanwhile. It fails on an unknown
// mode, on async mode without Kafka brokers, on invalid relay settings
// (RelayConfig.Check: negative values, max backoff below min), or when the
// database cannot be opened. log may be nil.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.relayConfig().Check(); err != nil {
		return nil, fmt.Errorf("order config: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Mode {
	case ModeSync, ModeAsync, ModeHybrid:
	default:
		return nil, fmt.Errorf("order config: unknown mode %q (want %q, %q or %q)", cfg.Mode, ModeSync, ModeAsync, ModeHybrid)
	}
	if cfg.Mode != ModeSync && len(cfg.Kafka.Brokers) == 0 {
		return nil, fmt.Errorf("order config: %s mode needs Kafka brokers (KAFKA_BROKERS)", cfg.Mode)
	}
	if err := cfg.Hybrid.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := OpenStore(ctx, cfg.DBPath)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, store: st}
	if cfg.Mode == ModeSync {
		s.inv = NewInventoryClient(cfg.InventoryURL, cfg.InventoryTimeout)
		s.inv.HTTP.Transport = telemetry.Transport(cfg.Tracing, s.inv.HTTP.Transport)
		s.guard = newInventoryGuard(s.inv.Reserve, cfg.Resilience, cfg.InventoryTimeout)
		if err := s.failInterrupted(ctx); err != nil {
			st.Close()
			return nil, err
		}
	} else {
		if cfg.Mode == ModeHybrid {
			s.inv = NewInventoryClient(cfg.InventoryURL, cfg.Hybrid.ReadTimeout)
			s.inv.HTTP.Transport = telemetry.Transport(cfg.Tracing, s.inv.HTTP.Transport)
			s.stock = newStockReader(s.inv.Stock, cfg.Hybrid)
		}
		s.pub = &kafkaPublisher{cfg: cfg.Kafka}
		s.relay = NewRelay(st, s.pub, cfg.relayConfig(), log)
	}
	s.metrics = s.newMetrics()
	s.handler = s.routes()
	if cfg.MaxConcurrentRequests > 0 {
		s.workers = newWorkerPool(cfg.MaxConcurrentRequests)
	}
	s.handler = telemetry.HTTPHandler(cfg.Tracing, "order-service", s.metrics.HTTP(s.track(s.handler)))
	return s, nil
}

// Handler returns the HTTP API (see http.go).
func (s *Service) Handler() http.Handler { return s.handler }

// Store returns the order store.
func (s *Service) Store() *Store { return s.store }

// Relay returns the outbox relay; nil in sync mode.
func (s *Service) Relay() *Relay { return s.relay }

// Run serves HTTP on ln until ctx ends; in async and hybrid modes it also runs the
// outbox relay and the stock-outcome consumer. It returns nil after a
// graceful shutdown (in-flight requests get Config.ShutdownGrace), or the
// HTTP server's error. Call Close after Run returns.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if s.cfg.Mode != ModeSync {
		wg.Go(func() { _ = s.relay.Run(ctx) })
		wg.Go(func() { s.runConsumer(ctx) })
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.log.Debug("order-service serving", "addr", ln.Addr().String(), "mode", s.cfg.Mode)
	err := web.Serve(ctx, srv, ln, s.cfg.ShutdownGrace, s.log)
	cancel()
	wg.Wait()
	if s.inv != nil {
		// Pooled connections to inventory would otherwise stay open and
		// hold inventory's own graceful shutdown.
		s.inv.HTTP.CloseIdleConnections()
	}
	return err
}

// Close releases the Kafka producer and the database. Safe to call twice.
func (s *Service) Close() error {
	s.close.Do(func() {
		var errs []error
		if s.pub != nil {
			errs = append(errs, s.pub.Close())
		}
		errs = append(errs, s.store.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// failInterrupted settles sync orders left PENDING by a process that died
// during their inventory call: they become FAILED (outcome unknown), so an
// Idempotency-Key on them replays a 503 instead of "in progress" forever.
func (s *Service) failInterrupted(ctx context.Context) error {
	stuck, err := s.store.pendingSync(ctx)
	if err != nil {
		return err
	}
	for _, o := range stuck {
		err := fmt.Errorf("%w: service restarted during the inventory call, outcome unknown", ErrInventoryUnavailable)
		o, resp := syncOutcome(o, err, time.Now())
		if err := s.store.finish(ctx, o, resp); err != nil {
			return err
		}
		s.log.Warn("interrupted sync order marked FAILED", "order_id", o.ID)
	}
	return nil
}

// kafkaPublisher is the relay's Publisher in async mode. It connects the
// producer and the metadata client on first use and again after a failed
// connect, so the service starts, and fills its outbox, while Kafka is
// down.
type kafkaPublisher struct {
	cfg    messaging.Config
	mu     sync.Mutex
	p      *messaging.Producer
	md     *messaging.Metadata
	closed bool
}

// connect returns the connected producer and metadata client, connecting
// what is missing. A connect attempt is bounded by the Kafka dial/read
// timeouts.
func (k *kafkaPublisher) connect() (*messaging.Producer, *messaging.Metadata, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, nil, messaging.ErrClosed
	}
	if k.p == nil {
		p, err := messaging.NewProducer(k.cfg)
		if err != nil {
			return nil, nil, err
		}
		k.p = p
	}
	if k.md == nil {
		md, err := messaging.NewMetadata(k.cfg)
		if err != nil {
			return nil, nil, err
		}
		k.md = md
	}
	return k.p, k.md, nil
}

// connectCtx is connect but returns ctx.Err() when ctx ends first (the
// connect attempt then finishes in the background and is kept).
func (k *kafkaPublisher) connectCtx(ctx context.Context) (*messaging.Producer, *messaging.Metadata, error) {
	type result struct {
		p   *messaging.Producer
		md  *messaging.Metadata
		err error
	}
	ch := make(chan result, 1)
	go func() { p, md, err := k.connect(); ch <- result{p, md, err} }()
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case r := <-ch:
		return r.p, r.md, r.err
	}
}

// producerCtx returns the connected producer (see connectCtx).
func (k *kafkaPublisher) producerCtx(ctx context.Context) (*messaging.Producer, error) {
	p, _, err := k.connectCtx(ctx)
	return p, err
}

// SendBatch implements Publisher with Producer.SendBatch.
func (k *kafkaPublisher) SendBatch(ctx context.Context, ms []events.Message) []error {
	p, _, err := k.connectCtx(ctx)
	if err != nil {
		errs := make([]error, len(ms))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	return p.SendBatch(ctx, ms)
}

// Partitions implements Publisher with Metadata.Partitions.
func (k *kafkaPublisher) Partitions(ctx context.Context, topic string) (int32, error) {
	_, md, err := k.connectCtx(ctx)
	if err != nil {
		return 0, err
	}
	return md.Partitions(topic)
}

func (k *kafkaPublisher) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	var errs []error
	if k.md != nil {
		errs = append(errs, k.md.Close())
	}
	if k.p != nil {
		errs = append(errs, k.p.Close())
	}
	return errors.Join(errs...)
}
