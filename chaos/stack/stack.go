// Package stack starts the system under test in one process: a Kafka
// broker, a Toxiproxy server, inventory-service, three order-service
// instances (one per placement mode: sync, async, hybrid) and
// notification-service (a second,
// independent consumer of order-placed), with every hop behind its own
// proxy:
//
//	order-sync   --HTTP-->  [inventory-http]     --> inventory-service
//	order-async  --Kafka--> [order-kafka]        --> broker
//	order-hybrid --HTTP-->  [inventory-http] (stock reads), --Kafka--> [order-kafka]
//	inventory    --Kafka--> [inventory-kafka]    --> broker
//	notification --Kafka--> [notification-kafka] --> broker
//	anyone else  --Kafka--> [kafka]              --> broker (the advertised address)
//
// Kafka clients connect to the address the broker advertises in metadata,
// so a proxy in front of the bootstrap address alone would be bypassed.
// The embedded broker therefore advertises the "kafka" proxy's address, and
// each service's client rewrites that address to its own proxy
// (messaging.Config.Route). Cutting a service's Kafka proxy really cuts
// that service off the broker (see TestKafkaProxyCannotBeBypassed).
//
// Lanes: with Config.KafkaBrokers and Config.ToxiproxyURL empty, the broker
// is kfake (github.com/twmb/franz-go/pkg/kfake) and Toxiproxy runs
// in-process ("embedded" lane; Config.Brokers kfake brokers, each behind
// its own proxies). When given (env KAFKA_BROKERS, TOXIPROXY_URL) the stack
// uses them instead ("real" lane, e.g. `make kafka-local`): every broker
// must advertise the listen address of a proxy on that Toxiproxy, or Start
// fails with ErrBypass. On both lanes the stack reads the brokers from
// metadata, creates per-service proxies per broker (names "order-kafka",
// "inventory-kafka", "notification-kafka" for one broker,
// "order-kafka-<id>"... for several),
// creates missing topics (3 partitions), and names this run's consumer
// groups "<service>-<RunID>", committed at the end of every partition
// before the services start: a real broker keeps earlier runs' events,
// and they must not be replayed into this run's fresh databases.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/internal/negativecontrol"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// Proxy names, one per hop.
const (
	ProxyInventoryHTTP  = "inventory-http"  // order-sync and order-hybrid -> inventory HTTP
	ProxyOrderKafka     = "order-kafka"     // order-async and order-hybrid -> broker
	ProxyInventoryKafka = "inventory-kafka" // inventory -> broker
	// ProxyNotificationKafka carries notification-service's connections
	// to the broker (its consumer of order-placed and its dead letters).
	ProxyNotificationKafka = "notification-kafka"
	ProxyKafka             = "kafka" // the broker's advertised address (embedded lane)
)

// Protocols a hop carries (ProxyProtocol).
const (
	ProtocolHTTP  = "http"
	ProtocolKafka = "kafka"
)

// ProxyProtocol returns what the named proxy carries: ProtocolHTTP for
// the inventory HTTP hop, ProtocolKafka for every other proxy (the
// per-service and advertised Kafka proxies, per broker too).
func ProxyProtocol(name string) string {
	if name == ProxyInventoryHTTP {
		return ProtocolHTTP
	}
	return ProtocolKafka
}

// Lanes.
const (
	LaneEmbedded = "embedded"
	LaneReal     = "real"
)

// Config configures a stack. The zero value is the embedded lane.
type Config struct {
	// KafkaBrokers: bootstrap addresses of a real Kafka cluster (env
	// KAFKA_BROKERS, comma-separated). Empty starts an embedded kfake
	// broker. Today one broker is routed through per-service proxies.
	KafkaBrokers []string
	// ToxiproxyURL: API address of a running Toxiproxy server (env
	// TOXIPROXY_URL, e.g. http://127.0.0.1:8474). Empty starts one
	// in-process. Proxies listen on 127.0.0.1 with a free port.
	ToxiproxyURL string
	// DataDir holds the services' SQLite files. Empty: a temp dir that
	// Close removes.
	DataDir string
	// Catalog seeds inventory stock; nil uses inventory.DefaultCatalog.
	Catalog map[string]int
	// InventoryTimeout is order-sync's client timeout towards inventory
	// (default 500ms).
	InventoryTimeout time.Duration
	// Log receives the services' logs; nil discards them.
	Log *slog.Logger
	// Brokers is the number of embedded kfake brokers (default 1). The
	// real lane has the brokers its cluster has.
	Brokers int
	// BrokerControl kills and restarts the real lane's broker (the
	// kafka-broker-restart scenario); nil: the real broker cannot be
	// restarted by the harness. ConfigFromEnv sets it from
	// KAFKA_LOCAL_DIR. The embedded lane always has its own.
	BrokerControl BrokerControl
	// RunID names this run's consumer groups; default: time + random.
	RunID string
	// SyncResilience switches order-sync's mitigations around its
	// inventory calls (circuit breaker, bulkhead, retry budget); the zero
	// value has them all off.
	SyncResilience order.Resilience
	// SyncMaxConcurrentRequests caps the requests order-sync serves at once
	// (order.Config.MaxConcurrentRequests, a worker-pool model); 0: no cap.
	SyncMaxConcurrentRequests int
	// Hybrid configures order-hybrid's stock read (read timeout, policy
	// on a failed read); zero values take order.HybridConfig's defaults
	// (200ms, accept).
	Hybrid order.HybridConfig
}

// ConfigFromEnv reads KAFKA_BROKERS and TOXIPROXY_URL, and KAFKA_LOCAL_DIR
// (the state folder of a broker started by `make kafka-local`, which the
// harness may then kill and restart).
func ConfigFromEnv() Config {
	cfg := Config{
		KafkaBrokers: messaging.ParseBrokers(os.Getenv("KAFKA_BROKERS")),
		ToxiproxyURL: strings.TrimSpace(os.Getenv("TOXIPROXY_URL")),
	}
	if dir := strings.TrimSpace(os.Getenv("KAFKA_LOCAL_DIR")); dir != "" && len(cfg.KafkaBrokers) > 0 {
		cfg.BrokerControl = localBroker(dir)
	}
	return cfg
}

// Stack is a running system under test. Its URLs are direct (unproxied)
// base URLs, for load and for reading the services' state.
type Stack struct {
	Lane          string
	OrderSyncURL  string // POST /orders here places synchronously
	OrderAsyncURL string // POST /orders here places asynchronously
	// OrderHybridURL: POST /orders here reads the stock synchronously and
	// reserves asynchronously (order.ModeHybrid).
	OrderHybridURL string
	InventoryURL   string
	KafkaBrokers   []string // addresses the harness itself may use (through the "kafka" proxy on the embedded lane)
	ToxiproxyURL   string
	Faults         *faults.Injector

	Inventory  *inventory.Service
	OrderSync  *order.Service
	OrderAsync *order.Service
	// OrderHybrid shares order-sync's inventory-http hop (its stock reads)
	// and order-async's order-kafka hop, with its own SQLite file and
	// consumer group OrderHybridGroup.
	OrderHybrid *order.Service
	// Notification is notification-service, the second consumer of
	// order-placed (its own group NotificationGroup, its own SQLite file
	// and Kafka proxy ProxyNotificationKafka).
	Notification *notification.Service

	// OrderKafkaRoute and InventoryKafkaRoute are the services' broker
	// address rewrites, exposed for tests that build extra clients on a
	// service's path.
	OrderKafkaRoute, InventoryKafkaRoute map[string]string
	// NotificationKafkaRoute is notification-service's rewrite, through
	// its own proxies.
	NotificationKafkaRoute map[string]string
	// Brokers are the Kafka brokers, by ID, with their proxies.
	Brokers []BrokerInfo
	// DirectRoute rewrites each advertised address to the broker's own
	// listener: for harness observers that must see around the faults.
	DirectRoute map[string]string
	// RunID names this run's consumer groups InventoryGroup and OrderGroup.
	RunID                      string
	InventoryGroup, OrderGroup string
	// OrderHybridGroup is order-hybrid's consumer group of the stock
	// outcomes, "order-hybrid-<RunID>": each order-service instance sees
	// every outcome and applies its own orders'.
	OrderHybridGroup string
	// NotificationGroup is notification-service's consumer group of
	// order-placed, "notification-service-<RunID>": independent of
	// InventoryGroup, so both receive every record.
	NotificationGroup string
	// Spans collects the finished spans of every service of the stack
	// (package telemetry: one trace per order, across HTTP, the outbox and
	// Kafka). The services run in-process on both lanes, so both lanes
	// have them; it stays readable after Close.
	Spans *telemetry.Collector

	groups                             map[string][]string // ConsumerGroups
	brokerCtl                          BrokerControl
	syncResilience                     order.Resilience
	orderBootstrap, inventoryBootstrap []string
	notificationBootstrap              []string
	notificationURL                    string

	proxies []string
	closers []func() error
	running []*running // in start order; stopped in reverse
	errMu   sync.Mutex
	runErrs []error
}

// running is one service's Run goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start brings the stack up and returns when every service answers
// /healthz. On error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (st *Stack, err error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Stack{Spans: telemetry.NewCollector(0)}
	neutralise(&cfg)
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "faultline-stack-")
		if err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		cfg.DataDir = dir
		s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
	}

	// Toxiproxy.
	s.ToxiproxyURL = cfg.ToxiproxyURL
	if s.ToxiproxyURL == "" {
		url, stop, err := ServeToxiproxy()
		if err != nil {
			return nil, err
		}
		s.ToxiproxyURL = url
		s.closers = append(s.closers, stop)
	}
	s.Faults = faults.NewInjector(s.ToxiproxyURL)
	if _, err := s.Faults.Ping(ctx); err != nil {
		return nil, fmt.Errorf("toxiproxy at %s does not answer: %w", s.ToxiproxyURL, err)
	}

	// Kafka.
	if err := s.startKafka(ctx, cfg); err != nil {
		return nil, err
	}

	catalog := cfg.Catalog
	if catalog == nil {
		catalog = inventory.DefaultCatalog()
	}

	invTracer, err := s.tracer("inventory-service")
	if err != nil {
		return nil, err
	}

	// inventory-service.
	invLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for inventory: %w", err)
	}
	s.Inventory, err = inventory.New(inventory.Config{
		DBPath:  cfg.DataDir + "/inventory.db",
		Catalog: catalog,
		Kafka: messaging.Config{
			Brokers: s.inventoryBootstrap, ClientID: "inventory-service", Route: s.InventoryKafkaRoute,
		},
		Group:         s.InventoryGroup,
		ShutdownGrace: 5 * time.Second,
		Tracing:       invTracer,
	}, log.With("service", "inventory"))
	if err != nil {
		invLn.Close()
		return nil, fmt.Errorf("create inventory-service: %w", err)
	}
	s.closers = append(s.closers, s.Inventory.Close)
	s.InventoryURL = "http://" + invLn.Addr().String()
	invHTTP, err := s.createProxy(ProxyInventoryHTTP, invLn.Addr().String())
	if err != nil {
		invLn.Close()
		return nil, err
	}
	s.run("inventory-service", func(ctx context.Context) error { return s.Inventory.Run(ctx, invLn) })

	// order-service, one instance per mode.
	start := func(mode order.Mode) (*order.Service, string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", fmt.Errorf("listen for order-%s: %w", mode, err)
		}
		oc := order.Config{
			Mode:             mode,
			DBPath:           fmt.Sprintf("%s/orders-%s.db", cfg.DataDir, mode),
			Catalog:          catalog,
			InventoryURL:     "http://" + invHTTP.String(),
			InventoryTimeout: cfg.InventoryTimeout,
			Group:            s.OrderGroup,
			ShutdownGrace:    5 * time.Second,
		}
		if mode == order.ModeHybrid {
			oc.Group, oc.Hybrid = s.OrderHybridGroup, cfg.Hybrid
		}
		if oc.Tracing, err = s.tracer("order-service"); err != nil {
			ln.Close()
			return nil, "", err
		}
		if mode == order.ModeSync {
			s.syncResilience = cfg.SyncResilience
			oc.Resilience = cfg.SyncResilience
			oc.MaxConcurrentRequests = cfg.SyncMaxConcurrentRequests
		}
		if mode != order.ModeSync {
			oc.Kafka = messaging.Config{Brokers: s.orderBootstrap, ClientID: "order-service", Route: s.OrderKafkaRoute}
		}
		svc, err := order.New(oc, log.With("service", "order-"+string(mode)))
		if err != nil {
			ln.Close()
			return nil, "", fmt.Errorf("create order-service (%s): %w", mode, err)
		}
		s.closers = append(s.closers, svc.Close)
		s.run("order-"+string(mode), func(ctx context.Context) error { return svc.Run(ctx, ln) })
		return svc, "http://" + ln.Addr().String(), nil
	}
	if s.OrderSync, s.OrderSyncURL, err = start(order.ModeSync); err != nil {
		return nil, err
	}
	if s.OrderAsync, s.OrderAsyncURL, err = start(order.ModeAsync); err != nil {
		return nil, err
	}
	if s.OrderHybrid, s.OrderHybridURL, err = start(order.ModeHybrid); err != nil {
		return nil, err
	}
	if err := s.startNotification(cfg, log); err != nil {
		return nil, err
	}

	if err := s.waitHealthy(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// advertisedListener reports the proxy's address as its own, so the
// broker advertises the proxy in metadata.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

// ServeToxiproxy starts an in-process Toxiproxy server (logging errors
// only) with its API on a free loopback port, and returns the API's URL
// and a stop function that closes the API and removes every proxy of this
// server. The stack uses it on the embedded lane; tests use it as a
// "shared" server to start stacks on.
func ServeToxiproxy() (url string, stop func() error, err error) {
	logger := zerolog.New(io.Discard).Level(zerolog.ErrorLevel)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen for toxiproxy: %w", err)
	}
	hs := &http.Server{Handler: srv.Routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() error {
		err := hs.Close()
		return errors.Join(err, srv.Collection.Clear())
	}, nil
}

// controlTimeout bounds each Toxiproxy control call the stack makes
// (the Toxiproxy client itself takes no context).
const controlTimeout = faults.DefaultTimeout

// createProxy creates (or replaces) a proxy listening on a free loopback
// port and returns its listen address.
func (s *Stack) createProxy(name, upstream string) (net.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	p, err := s.Faults.CreateProxy(ctx, name, "127.0.0.1:0", upstream)
	if err != nil {
		return nil, err
	}
	s.proxies = append(s.proxies, name)
	addr, err := net.ResolveTCPAddr("tcp", p.Listen)
	if err != nil {
		return nil, fmt.Errorf("proxy %s listens on %q: %w", name, p.Listen, err)
	}
	return addr, nil
}

func (s *Stack) setUpstream(name, upstream string) error {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	return s.Faults.SetUpstream(ctx, name, upstream)
}

// run starts a service's Run in its own goroutine, with its own context so
// Close can stop the services one by one.
func (s *Stack) run(name string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	s.running = append(s.running, r)
	go func() {
		defer close(r.done)
		if err := fn(ctx); err != nil {
			s.errMu.Lock()
			s.runErrs = append(s.runErrs, fmt.Errorf("%s: %w", name, err))
			s.errMu.Unlock()
		}
	}()
}

// Err returns the errors of services that stopped on their own, if any.
func (s *Stack) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return errors.Join(s.runErrs...)
}

func (s *Stack) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for _, u := range []string{s.InventoryURL, s.OrderSyncURL, s.OrderAsyncURL, s.OrderHybridURL, s.notificationURL} {
		for {
			if err := s.Err(); err != nil {
				return fmt.Errorf("service failed at start: %w", err)
			}
			resp, err := client.Get(u + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s/healthz did not answer 200 within 20s (last error: %v)", u, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Restore enables every proxy this stack created and removes all their
// toxics, leaving any other proxy on the Toxiproxy server alone (on a
// shared server, others' proxies keep their faults). Specs and the
// scenario owner call it in cleanup. The call is bounded by ctx's
// deadline, or faults.DefaultTimeout when ctx has none.
func (s *Stack) Restore(ctx context.Context) error {
	return s.Faults.RestoreProxies(ctx, s.proxies...)
}

// CheckRestored reads every proxy this stack created from the Toxiproxy
// API and returns an error naming each one that is disabled or still
// carries a toxic; nil when all are clean.
func (s *Stack) CheckRestored(ctx context.Context) error {
	proxies, err := s.Faults.Proxies(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range s.proxies {
		p, ok := proxies[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("proxy %s is gone", name))
		case !p.Enabled:
			errs = append(errs, fmt.Errorf("proxy %s is disabled", name))
		case len(p.ActiveToxics) > 0:
			errs = append(errs, fmt.Errorf("proxy %s still has %d toxic(s), first %s", name, len(p.ActiveToxics), p.ActiveToxics[0].Name))
		}
	}
	return errors.Join(errs...)
}

// tracer returns a TracerProvider for service feeding s.Spans, shut down
// by Close (after the services stopped).
func (s *Stack) tracer(service string) (*sdktrace.TracerProvider, error) {
	tp, err := telemetry.NewProvider(context.Background(), telemetry.Config{Service: service, Collector: s.Spans})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { return tp.Shutdown(context.Background()) })
	return tp, nil
}

// startNotification starts notification-service on a free loopback port,
// consuming order-placed through its own proxies in NotificationGroup,
// with its SQLite file in the data dir.
func (s *Stack) startNotification(cfg Config, log *slog.Logger) error {
	tp, err := s.tracer("notification-service")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for notification-service: %w", err)
	}
	s.Notification, err = notification.New(notification.Config{
		DBPath: cfg.DataDir + "/notification.db",
		Kafka: messaging.Config{
			Brokers: s.notificationBootstrap, ClientID: "notification-service", Route: s.NotificationKafkaRoute,
		},
		Group:         s.NotificationGroup,
		ShutdownGrace: 5 * time.Second,
		Tracing:       tp,
	}, log.With("service", "notification"))
	if err != nil {
		ln.Close()
		return fmt.Errorf("create notification-service: %w", err)
	}
	s.closers = append(s.closers, s.Notification.Close)
	s.notificationURL = "http://" + ln.Addr().String()
	s.run("notification-service", func(ctx context.Context) error { return s.Notification.Run(ctx, ln) })
	return nil
}

// NotificationURL is notification-service's direct (unproxied) base URL:
// GET /notifications/{order_id}, GET /stats.
func (s *Stack) NotificationURL() string { return s.notificationURL }

// Proxies lists the names of the proxies this stack created.
func (s *Stack) Proxies() []string { return append([]string(nil), s.proxies...) }

// SyncResilience is order-sync's mitigations around its inventory calls, as
// configured at Start (after any negative control): what a scenario's
// setup asked for, for the result to show what really ran.
func (s *Stack) SyncResilience() order.Resilience { return s.syncResilience }

// Close stops the services (graceful shutdown), then the broker and
// Toxiproxy, and removes a temporary data dir. It returns the services'
// run errors joined with close errors.
func (s *Stack) Close() error {
	// Downstream first: the order services stop (and drop their
	// connections to inventory) before inventory shuts down, so its
	// graceful shutdown has no connection left to wait for. The Kafka
	// proxies stay until every service has stopped, so consumers commit
	// their offsets.
	stop := func(r *running) { r.cancel(); <-r.done }
	for i := len(s.running) - 1; i >= 1; i-- {
		stop(s.running[i]) // notification-service, then the order services
	}
	s.deleteProxies(ProxyInventoryHTTP)
	if len(s.running) > 0 {
		stop(s.running[0]) // inventory-service, started first
	}
	errs := []error{s.Err()}
	s.deleteProxies(s.proxies...)
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

func (s *Stack) deleteProxies(names ...string) {
	if s.Faults == nil {
		return
	}
	for _, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
		_ = s.Faults.DeleteProxy(ctx, name) // best effort: the server may be gone
		cancel()
	}
}

// neutralise applies the negative control named in the environment of a
// binary built with the negativecontrol tag (internal/negativecontrol):
// the breaker or the bulkhead asked for is silently left out, as a
// misconfigured deployment would. A no-op in every normal build.
func neutralise(cfg *Config) {
	if negativecontrol.Active(negativecontrol.Breaker) {
		cfg.SyncResilience.Breaker = order.BreakerConfig{}
	}
	if negativecontrol.Active(negativecontrol.Bulkhead) {
		cfg.SyncResilience.Bulkhead = 0
	}
}
