// Package messaging is the Kafka wiring both services share: one sarama
// configuration with deadlines on every network call, a synchronous
// producer that takes a context, a consumer-group loop that keeps going
// through broker loss and rebalances and sends poison messages to the
// dead-letter topic, and an address-rewriting dialer that routes a client's
// broker connections through its own Toxiproxy proxy.
//
// Kafka client: github.com/IBM/sarama. Protocol version: 3.6 (works with
// Apache Kafka 3.x/4.x and the embedded kfake broker).
package messaging

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/net/proxy"
)

// Config is the Kafka part of a service's configuration.
type Config struct {
	// Brokers are bootstrap addresses, host:port (env KAFKA_BROKERS,
	// comma-separated). Required.
	Brokers []string
	// ClientID maps to sarama Config.ClientID (Kafka client.id).
	ClientID string
	// Route, when non-empty, rewrites broker addresses before dialing:
	// key = address the broker advertises, value = address to dial instead
	// (a Toxiproxy listen address). Addresses not in the map are dialed
	// as they are. This gives each client its own proxied path even when
	// every client learns the same advertised address from metadata.
	Route map[string]string
	// DialTimeout, ReadTimeout, WriteTimeout bound every broker round trip
	// (sarama Net.DialTimeout/ReadTimeout/WriteTimeout). Defaults 2s, 5s, 5s.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// RetryBackoff is the wait between retries of metadata, produce and
	// fetch (sarama Metadata.Retry.Backoff, Producer.Retry.Backoff,
	// Consumer.Retry.Backoff). Default 250ms.
	RetryBackoff time.Duration
	// FetchMinBytes and FetchMaxWait batch a consumer's fetches: the broker
	// answers a fetch once FetchMinBytes of records wait or FetchMaxWait
	// has passed (sarama Consumer.Fetch.Min and Consumer.MaxWaitTime; Kafka
	// fetch.min.bytes and fetch.max.wait.ms). Defaults 16 KiB and 20ms: a
	// lone record waits at most 20 ms per hop, and under load each handler
	// batch (one SQLite transaction) holds more records. With 1 byte
	// (sarama's default) the consumers of `faultline bench` took batches of
	// 7-11 records at ~2,000 orders/s; 16 KiB cut the CPU per async order
	// by ~12% (2026-12-03, 2-core VM). The services' binaries set them
	// with -kafka-fetch-min-bytes and -kafka-fetch-max-wait
	// (internal/config.KafkaFetch); zero means the default.
	FetchMinBytes int32
	FetchMaxWait  time.Duration
}

// Defaults of Config.FetchMinBytes and Config.FetchMaxWait.
const (
	DefaultFetchMinBytes = 16 << 10
	DefaultFetchMaxWait  = 20 * time.Millisecond
)

// ParseBrokers splits a comma-separated broker list, dropping blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// RouteDialer returns a proxy.Dialer that dials route[addr] instead of addr
// when present. Timeout bounds each dial.
func RouteDialer(route map[string]string, timeout time.Duration) proxy.Dialer {
	return routeDialer{route: route, d: &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}}
}

type routeDialer struct {
	route map[string]string
	d     *net.Dialer
}

func (r routeDialer) Dial(network, addr string) (net.Conn, error) {
	if to, ok := r.route[addr]; ok {
		addr = to
	}
	return r.d.Dial(network, addr)
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 250 * time.Millisecond
	}
	if c.ClientID == "" {
		c.ClientID = "faultline"
	}
	if c.FetchMinBytes <= 0 {
		c.FetchMinBytes = DefaultFetchMinBytes
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	return c
}

// SaramaConfig builds the sarama configuration shared by producers and
// consumers:
//   - idempotent producer, acks=all (Kafka enable.idempotence=true,
//     acks=all, max.in.flight.requests.per.connection=1), records up to
//     MaxMessageBytes (max.request.size);
//   - consumer groups start at the oldest offset (auto.offset.reset=earliest)
//     and auto-commit only offsets the handler marked, i.e. after processing
//     (enable.auto.commit with auto.commit.interval.ms=500);
//   - fetches batched: FetchMinBytes, FetchMaxWait (fetch.min.bytes,
//     fetch.max.wait.ms), default 16 KiB or 20 ms;
//   - every network call bounded by the Config timeouts;
//   - a record that fails before its first send (its partition's leader
//     unknown: link cut, or sarama's partition breaker open) fails at once,
//     with no Producer.Retry.Backoff per record (Producer.Retry.BackoffFunc),
//     so a batch to a cut partition fails in one go and the consumer
//     publishing it retries as soon as the link is back.
func SaramaConfig(c Config) (*sarama.Config, error) {
	if len(c.Brokers) == 0 {
		return nil, fmt.Errorf("kafka config: no brokers given (set KAFKA_BROKERS)")
	}
	c = c.withDefaults()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	sc.ClientID = c.ClientID
	sc.Net.DialTimeout = c.DialTimeout
	sc.Net.ReadTimeout = c.ReadTimeout
	sc.Net.WriteTimeout = c.WriteTimeout
	if len(c.Route) > 0 {
		sc.Net.Proxy.Enable = true
		sc.Net.Proxy.Dialer = RouteDialer(c.Route, c.DialTimeout)
	}
	sc.Metadata.Retry.Backoff = c.RetryBackoff
	sc.Metadata.Retry.Max = 3
	sc.Metadata.RefreshFrequency = 30 * time.Second

	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Retry.Max = 3
	sc.Producer.Retry.Backoff = c.RetryBackoff
	// Producer.Retry.BackoffFunc: RetryBackoff between retries of a record
	// (retries >= 1), none for a record on its first attempt. sarama also
	// calls it with retries 0 after failing a fresh record whose partition
	// leader it cannot find (link cut, or its partition breaker open): with
	// a fixed backoff it sleeps there once per record, so a batch of N
	// records to an unreachable partition took N x RetryBackoff to fail
	// (40 records: 10.8 s; the consumer publishing a batch's outcomes then
	// resumed ~7 s after its link returned).
	sc.Producer.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		if retries == 0 {
			return 0
		}
		return c.RetryBackoff
	}
	sc.Producer.Timeout = c.WriteTimeout
	sc.Producer.Partitioner = sarama.NewHashPartitioner
	sc.Producer.MaxMessageBytes = MaxMessageBytes // see MaxMessageBytes for the broker setting it must not exceed

	sc.Consumer.Return.Errors = true
	sc.Consumer.Fetch.Min = c.FetchMinBytes
	sc.Consumer.MaxWaitTime = c.FetchMaxWait
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = 500 * time.Millisecond
	sc.Consumer.Retry.Backoff = c.RetryBackoff
	sc.Consumer.Group.Rebalance.Retry.Backoff = c.RetryBackoff
	sc.Consumer.Group.Session.Timeout = 10 * time.Second
	sc.Consumer.Group.Heartbeat.Interval = 1 * time.Second
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka config: %w", err)
	}
	return sc, nil
}

// ParseRoute parses a route list "advertised=dial,advertised2=dial2" (env
// KAFKA_ROUTE) into a Config.Route map. Blank input gives nil.
func ParseRoute(s string) (map[string]string, error) {
	var route map[string]string
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			return nil, fmt.Errorf("kafka route %q: want advertised=dial (host:port=host:port)", pair)
		}
		if route == nil {
			route = map[string]string{}
		}
		route[strings.TrimSpace(from)] = strings.TrimSpace(to)
	}
	return route, nil
}
