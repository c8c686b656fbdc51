package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/internal/negativecontrol"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
)

// ErrBypass means a Kafka broker advertises an address that is not the
// listen address of a proxy on the stack's Toxiproxy: clients following
// metadata would reach it directly, and no fault could cut them off.
var ErrBypass = errors.New("kafka broker reachable without a proxy")

// ErrNoBrokerControl is returned by the broker-restart hook when the stack
// cannot kill and start its broker (a real broker not started by
// kafka-local: set KAFKA_LOCAL_DIR).
var ErrNoBrokerControl = errors.New("no broker control on this stack")

// Partitions is the partition count of every topic the stack creates.
const Partitions = 3

// BrokerInfo is one Kafka broker as the stack routes it.
type BrokerInfo struct {
	ID int32
	// Advertised is the address the broker advertises in metadata: the
	// listen address of AdvertisedProxy on the stack's Toxiproxy.
	Advertised      string
	AdvertisedProxy string
	// Upstream is the broker's own listener (the proxies' upstream).
	Upstream string
	// OrderProxy and InventoryProxy carry order-service's and
	// inventory-service's connections to this broker.
	OrderProxy, InventoryProxy string
	// NotificationProxy carries notification-service's.
	NotificationProxy string
}

// Proxies lists every proxy that leads to this broker: disabling them all
// takes the broker off the network for everyone.
func (b BrokerInfo) Proxies() []string {
	return []string{b.AdvertisedProxy, b.OrderProxy, b.InventoryProxy, b.NotificationProxy}
}

// BrokerControl crashes and restarts the Kafka broker(s) of a stack, for
// the kafka-broker-restart scenario. Kill returns once the broker process
// is gone (no clean shutdown: SIGKILL on the real lane); Start returns once
// the broker answers again, on the same data. Both honour ctx. Calls must
// alternate (Kill, Start, Kill, ...) and never overlap.
//
// *kafkalocal.Broker implements it for the real lane; the embedded lane
// emulates it by closing the kfake cluster and starting a new one on the
// same ports and data directory.
type BrokerControl interface {
	Kill(ctx context.Context) error
	Start(ctx context.Context) error
}

// ProxyName is the name of a per-broker proxy: base itself for a single
// broker, base-ID with several.
func ProxyName(base string, id int32, brokers int) string {
	if brokers <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(int(id))
}

// Broker returns the broker control of this stack, or nil when it has
// none: the embedded lane always has one; the real lane has one when
// Config.BrokerControl was set (KAFKA_LOCAL_DIR).
func (s *Stack) BrokerControl() BrokerControl { return s.brokerCtl }

// startKafka starts (embedded) or finds (real) the brokers, checks that
// every advertised address is a proxy, creates the topics, the per-service
// proxies and routes, and this run's consumer groups.
func (s *Stack) startKafka(ctx context.Context, cfg Config) error {
	var bootstrap []string
	if len(cfg.KafkaBrokers) == 0 {
		s.Lane = LaneEmbedded
		n := max(cfg.Brokers, 1)
		e, err := s.startEmbedded(n, filepath.Join(cfg.DataDir, "kafka"))
		if err != nil {
			return err
		}
		s.brokerCtl = e
		bootstrap = e.advertised()
	} else {
		s.Lane = LaneReal
		bootstrap = cfg.KafkaBrokers
		s.brokerCtl = cfg.BrokerControl
	}
	if s.brokerCtl != nil && negativecontrol.Active(negativecontrol.BrokerStop) {
		s.brokerCtl = noKill{s.brokerCtl}
	}

	client, err := s.harnessClient(ctx, bootstrap, nil)
	if err != nil {
		hint := ""
		if s.Lane == LaneReal {
			hint = fmt.Sprintf(" (is the broker up, and is the proxy it advertises on %s? `make kafka-local` starts both)", s.ToxiproxyURL)
		}
		return fmt.Errorf("connect to kafka at %v: %w%s", bootstrap, err, hint)
	}
	defer client.Close()
	if err := s.discover(ctx, client); err != nil {
		return err
	}
	if s.Lane == LaneReal && cfg.BrokerControl != nil {
		if a, ok := cfg.BrokerControl.(interface{ AdvertisedAddr() string }); ok && !s.advertises(a.AdvertisedAddr()) {
			return fmt.Errorf("the broker control (KAFKA_LOCAL_DIR) drives the broker advertised at %s, but KAFKA_BROKERS leads to %v: point both at the same broker", a.AdvertisedAddr(), s.KafkaBrokers)
		}
	}
	if err := ensureTopics(ctx, client, events.AllTopics, len(s.Brokers)); err != nil {
		return err
	}

	// Per-service proxies, one per broker, and the routes that send the
	// advertised (and the real) address of each broker to them.
	n := len(s.Brokers)
	s.OrderKafkaRoute, s.InventoryKafkaRoute, s.DirectRoute = map[string]string{}, map[string]string{}, map[string]string{}
	s.NotificationKafkaRoute = map[string]string{}
	for i := range s.Brokers {
		b := &s.Brokers[i]
		b.OrderProxy = ProxyName(ProxyOrderKafka, b.ID, n)
		b.InventoryProxy = ProxyName(ProxyInventoryKafka, b.ID, n)
		op, err := s.createProxy(b.OrderProxy, b.Upstream)
		if err != nil {
			return err
		}
		ip, err := s.createProxy(b.InventoryProxy, b.Upstream)
		if err != nil {
			return err
		}
		b.NotificationProxy = ProxyName(ProxyNotificationKafka, b.ID, n)
		np, err := s.createProxy(b.NotificationProxy, b.Upstream)
		if err != nil {
			return err
		}
		for _, addr := range []string{b.Advertised, b.Upstream} {
			s.OrderKafkaRoute[addr] = op.String()
			s.InventoryKafkaRoute[addr] = ip.String()
			s.NotificationKafkaRoute[addr] = np.String()
		}
		s.DirectRoute[b.Advertised] = b.Upstream
		s.orderBootstrap = append(s.orderBootstrap, op.String())
		s.inventoryBootstrap = append(s.inventoryBootstrap, ip.String())
		s.notificationBootstrap = append(s.notificationBootstrap, np.String())
	}

	// This run's consumer groups, starting at the end of every partition:
	// a real broker keeps the events of earlier runs, which must not be
	// replayed into this run's fresh databases.
	s.RunID = cfg.RunID
	if s.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		s.RunID = time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
	}
	s.InventoryGroup = "inventory-service-" + s.RunID
	s.OrderGroup = "order-service-" + s.RunID
	s.OrderHybridGroup = "order-hybrid-" + s.RunID
	s.NotificationGroup = "notification-service-" + s.RunID
	s.groups = map[string][]string{
		s.InventoryGroup:    {events.TopicOrderPlaced},
		s.OrderGroup:        append([]string(nil), order.StockOutcomeTopics...),
		s.OrderHybridGroup:  append([]string(nil), order.StockOutcomeTopics...),
		s.NotificationGroup: {events.TopicOrderPlaced},
	}
	for _, g := range sortedKeys(s.groups) {
		if err := startGroupAtEnd(ctx, client, g, s.groups[g]); err != nil {
			return err
		}
	}
	return nil
}

// ConsumerGroups returns the consumer groups this stack's services run,
// each with the topics it consumes (group -> topics): what a lag reader
// (chaos/lag) describes. The map is a copy; nil before the stack started
// Kafka.
func (s *Stack) ConsumerGroups() map[string][]string {
	if s.groups == nil {
		return nil
	}
	out := make(map[string][]string, len(s.groups))
	for g, ts := range s.groups {
		out[g] = append([]string(nil), ts...)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// advertises reports whether addr is one of the brokers' advertised
// addresses.
func (s *Stack) advertises(addr string) bool {
	for _, b := range s.Brokers {
		if b.Advertised == addr {
			return true
		}
	}
	return false
}

// HarnessKafkaConfig is the sarama configuration of the harness's own
// clients (admin, probes): the services' settings, bounded timeouts.
func HarnessKafkaConfig(brokers []string, route map[string]string) (*sarama.Config, error) {
	sc, err := messaging.SaramaConfig(messaging.Config{
		Brokers: brokers, ClientID: "faultline-harness", Route: route,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	sc.Metadata.Retry.Max = 5
	return sc, nil
}

// harnessClient connects a sarama client, bounded by ctx.
func (s *Stack) harnessClient(ctx context.Context, bootstrap []string, route map[string]string) (sarama.Client, error) {
	sc, err := HarnessKafkaConfig(bootstrap, route)
	if err != nil {
		return nil, err
	}
	return faults.RunWithContext(ctx, func() (sarama.Client, error) { return sarama.NewClient(bootstrap, sc) })
}

// NewHarnessClient returns a sarama client for the harness's own
// observations. direct=true dials each broker's own listener (around the
// proxies, so it keeps seeing a broker whose proxies are cut); false goes
// through the advertised proxies like any client. The caller closes it.
func (s *Stack) NewHarnessClient(ctx context.Context, direct bool) (sarama.Client, error) {
	var route map[string]string
	if direct {
		route = s.DirectRoute
	}
	return s.harnessClient(ctx, s.KafkaBrokers, route)
}

// discover reads the brokers from metadata and finds, for each, the
// Toxiproxy proxy listening on its advertised address. A broker whose
// advertised address no proxy listens on is a bypass: an error.
func (s *Stack) discover(ctx context.Context, client sarama.Client) error {
	proxies, err := s.Faults.Proxies(ctx)
	if err != nil {
		return fmt.Errorf("list toxiproxy proxies at %s: %w", s.ToxiproxyURL, err)
	}
	brokers := client.Brokers()
	if len(brokers) == 0 {
		return fmt.Errorf("kafka metadata lists no broker")
	}
	s.Brokers = s.Brokers[:0]
	s.KafkaBrokers = nil
	for _, b := range brokers {
		p := proxyListeningOn(proxies, b.Addr())
		if p == nil {
			return fmt.Errorf("%w: broker %d advertises %s, which is not the listen address of any proxy on toxiproxy %s, "+
				"so clients following metadata would reach it directly and faults could not cut them off; "+
				"set the broker's advertised.listeners to a Toxiproxy proxy whose upstream is the broker (one proxy per broker)",
				ErrBypass, b.ID(), b.Addr(), s.ToxiproxyURL)
		}
		s.Brokers = append(s.Brokers, BrokerInfo{ID: b.ID(), Advertised: b.Addr(), AdvertisedProxy: p.Name, Upstream: p.Upstream})
	}
	sort.Slice(s.Brokers, func(i, j int) bool { return s.Brokers[i].ID < s.Brokers[j].ID })
	for _, b := range s.Brokers {
		s.KafkaBrokers = append(s.KafkaBrokers, b.Advertised)
	}
	return nil
}

// proxyListeningOn finds the proxy whose listen address is addr: the same
// port, and the same host or a wildcard host (0.0.0.0, ::, empty).
func proxyListeningOn(proxies map[string]*toxiclient.Proxy, addr string) *toxiclient.Proxy {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(proxies))
	for name := range proxies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := proxies[name]
		lh, lp, err := net.SplitHostPort(p.Listen)
		if err != nil || lp != port {
			continue
		}
		if lh == host || lh == "" || lh == "0.0.0.0" || lh == "::" {
			return p
		}
	}
	return nil
}

// ensureTopics creates the missing topics (Partitions partitions,
// replication min(3, brokers)) and waits until every partition has a
// leader.
func ensureTopics(ctx context.Context, client sarama.Client, topics []string, brokers int) error {
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return fmt.Errorf("kafka admin: %w", err)
	}
	// Not closed: closing it would close the shared client.
	existing, err := faults.RunWithContext(ctx, admin.ListTopics)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	for _, t := range topics {
		if _, ok := existing[t]; ok {
			continue
		}
		detail := &sarama.TopicDetail{NumPartitions: Partitions, ReplicationFactor: int16(min(3, brokers))}
		_, err := faults.RunWithContext(ctx, func() (struct{}, error) { return struct{}{}, admin.CreateTopic(t, detail, false) })
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := ""
		if err := client.RefreshMetadata(topics...); err != nil {
			missing = err.Error()
		}
		for _, t := range topics {
			if missing != "" {
				break
			}
			parts, err := client.Partitions(t)
			if err != nil || len(parts) == 0 {
				missing = fmt.Sprintf("topic %s has no partitions yet (%v)", t, err)
				break
			}
			for _, p := range parts {
				if _, err := client.Leader(t, p); err != nil {
					missing = fmt.Sprintf("%s/%d has no leader yet (%v)", t, p, err)
					break
				}
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics not ready within 30s: %s", missing)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics not ready: %w (%s)", ctx.Err(), missing)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startGroupAtEnd commits, for a group that has no members yet, the
// current end offset of every partition of topics, so the group's first
// member starts there instead of at the oldest record
// (Consumer.Offsets.Initial) and never replays earlier runs' events.
func startGroupAtEnd(ctx context.Context, client sarama.Client, group string, topics []string) error {
	req := &sarama.OffsetCommitRequest{Version: 2, ConsumerGroup: group, ConsumerGroupGeneration: sarama.GroupGenerationUndefined, RetentionTime: -1}
	for _, t := range topics {
		parts, err := client.Partitions(t)
		if err != nil {
			return fmt.Errorf("partitions of %s: %w", t, err)
		}
		for _, p := range parts {
			end, err := faults.RunWithContext(ctx, func() (int64, error) { return client.GetOffset(t, p, sarama.OffsetNewest) })
			if err != nil {
				return fmt.Errorf("end offset of %s/%d: %w", t, p, err)
			}
			req.AddBlock(t, p, end, 0, "faultline: start of run")
		}
	}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		lastErr = func() error {
			coord, err := faults.RunWithContext(ctx, func() (*sarama.Broker, error) { return client.Coordinator(group) })
			if err != nil {
				return err
			}
			resp, err := faults.RunWithContext(ctx, func() (*sarama.OffsetCommitResponse, error) { return coord.CommitOffset(req) })
			if err != nil {
				_ = client.RefreshCoordinator(group)
				return err
			}
			for t, ps := range resp.Errors {
				for p, kerr := range ps {
					if kerr != sarama.ErrNoError {
						_ = client.RefreshCoordinator(group)
						return fmt.Errorf("%s/%d: %w", t, p, kerr)
					}
				}
			}
			return nil
		}()
		if lastErr == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return fmt.Errorf("start consumer group %s at the end of %v: %w", group, topics, lastErr)
	}
	return nil
}

// embedded is the embedded lane's kfake cluster: n brokers on loopback
// ports, each advertising its own proxy, persisting to dir so a restart
// (Kill, Start) keeps records and committed offsets on the same ports.
type embedded struct {
	advs  []net.Addr // by broker: the advertised proxy address
	ports []int      // by broker: the port it listens on, known after the first start
	dir   string

	mu      sync.Mutex
	cluster *kfake.Cluster
}

// startEmbedded creates the advertised proxies, then the cluster, then
// points each proxy at its broker.
func (s *Stack) startEmbedded(n int, dir string) (*embedded, error) {
	e := &embedded{dir: dir}
	names := make([]string, n)
	for i := range n {
		// kfake numbers its brokers 0..n-1 in the order it creates them.
		names[i] = ProxyName(ProxyKafka, int32(i), n)
		adv, err := s.createProxy(names[i], "127.0.0.1:1") // upstream set once the broker listens
		if err != nil {
			return nil, err
		}
		e.advs = append(e.advs, adv)
	}
	if err := e.start(); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, e.close)
	for i, port := range e.ports {
		if err := s.setUpstream(names[i], net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *embedded) advertised() []string {
	out := make([]string, 0, len(e.advs))
	for _, a := range e.advs {
		out = append(out, a.String())
	}
	return out
}

// start starts the cluster. The first time, each broker listens on a port
// the kernel gives it (127.0.0.1:0), which start records: a port chosen
// beforehand (listen, close, listen again) can be taken in between by
// another stack or by an outgoing connection's source port, and was, with
// four suite processes on one machine (2026-12-03: "bind: address already
// in use"). A restart listens on the recorded ports again.
func (e *embedded) start() error {
	first := e.ports == nil
	opts := []kfake.Opt{kfake.NumBrokers(len(e.advs))}
	if !first {
		opts = []kfake.Opt{kfake.Ports(e.ports...)}
	}
	var ports []int
	c, err := kfake.NewCluster(append(opts,
		kfake.SeedTopics(Partitions, events.AllTopics...),
		kfake.DataDir(e.dir),
		// kfake creates its brokers one after the other, 0..n-1, each
		// calling this once.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			i := len(ports)
			if i >= len(e.advs) {
				return nil, fmt.Errorf("embedded kafka: broker %d listens on %s, want %d brokers", i, address, len(e.advs))
			}
			ln, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
			return advertisedListener{Listener: ln, addr: e.advs[i]}, nil
		}),
	)...)
	if err != nil {
		return fmt.Errorf("start embedded kafka: %w", err)
	}
	if first {
		e.ports = ports
	}
	// Spread the leaders evenly and predictably: partition p of the i-th
	// topic on broker (p+i) mod n, so cutting one broker stops some
	// partitions of every topic and leaves the others.
	if n := len(e.advs); n > 1 {
		for i, t := range events.AllTopics {
			for p := range int32(Partitions) {
				if err := c.MoveTopicPartition(t, p, (p+int32(i))%int32(n)); err != nil {
					c.Close()
					return fmt.Errorf("embedded kafka: place %s/%d: %w", t, p, err)
				}
			}
		}
	}
	e.mu.Lock()
	e.cluster = c
	e.mu.Unlock()
	return nil
}

// Kill closes every broker of the cluster: listeners and connections go
// away at once (kfake writes its state on close, unlike a crashed broker).
func (e *embedded) Kill(ctx context.Context) error {
	e.mu.Lock()
	c := e.cluster
	e.cluster = nil
	e.mu.Unlock()
	if c != nil {
		c.Close()
	}
	return nil
}

// Start brings a new cluster up on the same ports and data directory.
func (e *embedded) Start(ctx context.Context) error {
	e.mu.Lock()
	running := e.cluster != nil
	e.mu.Unlock()
	if running {
		return nil
	}
	var err error
	for attempt := 0; attempt < 50; attempt++ { // a port can take a moment to be free again
		if err = e.start(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("restart embedded kafka: %w (last error %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

func (e *embedded) close() error { return e.Kill(context.Background()) }

// noKill is the broker_stop negative control (internal/negativecontrol):
// Kill reports success and leaves the broker running.
type noKill struct{ BrokerControl }

func (noKill) Kill(context.Context) error { return nil }
