// Package kafkalocal runs the "real" lane's infrastructure as plain
// processes on 127.0.0.1, without Docker: a single-node Apache Kafka 4
// broker (KRaft, combined broker+controller, Java 17, jars fetched from
// Maven Central by scripts/kafka-local.sh) and a Toxiproxy server built
// from the module's pinned github.com/Shopify/toxiproxy/v2.
//
// The broker's client listener is ADVERTISED at a Toxiproxy proxy's address
// (Config.Advertised, proxy "kafka" -> Config.Listen), so a client that
// follows metadata can only reach the broker through Toxiproxy. Start
// creates or updates that proxy before the broker comes up.
//
// Every process is tracked by a PID file and only ever signalled by that
// PID, after checking /proc/PID/cmdline still names it (never by name).
// State lives under Config.Dir (default .tools/kafka): libs/ (jars), data/
// (log.dirs, kept across restarts), run/ (server.properties, broker.json,
// kafka.pid, kafka.log).
//
// *Broker implements the stack's BrokerControl (Kill, Start), which the
// kafka-broker-restart scenario uses to SIGKILL the broker mid-load and
// bring it back on the same data.
package kafkalocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Defaults: the addresses README.md and docker-compose.yml use, so
// KAFKA_BROKERS=127.0.0.1:19092 TOXIPROXY_URL=http://127.0.0.1:8474 works
// against either.
const (
	DefaultListen     = "127.0.0.1:9092"  // the broker's client listener (the proxy's upstream)
	DefaultController = "127.0.0.1:9093"  // KRaft controller listener
	DefaultAdvertised = "127.0.0.1:19092" // advertised: the "kafka" proxy's listen address
	DefaultToxiproxy  = "http://127.0.0.1:8474"
	DefaultProxyName  = "kafka"
)

// StartTimeout bounds Start when ctx has no deadline.
const StartTimeout = 90 * time.Second

// Config describes one local broker. Zero values take the defaults above.
type Config struct {
	Dir          string // state folder; default ".tools/kafka"
	Java         string // java binary; default "java" from PATH
	HeapMB       int    // -Xmx; default 768
	Listen       string // client listener host:port
	Controller   string // controller listener host:port
	Advertised   string // advertised client address: a Toxiproxy proxy's listen address
	ToxiproxyURL string // Toxiproxy API holding the advertised proxy
	ProxyName    string // that proxy's name
}

func (c Config) withDefaults() (Config, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Dir, ".tools/kafka")
	def(&c.Java, "java")
	def(&c.Listen, DefaultListen)
	def(&c.Controller, DefaultController)
	def(&c.Advertised, DefaultAdvertised)
	def(&c.ToxiproxyURL, DefaultToxiproxy)
	def(&c.ProxyName, DefaultProxyName)
	if c.HeapMB <= 0 {
		c.HeapMB = 768
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("kafka-local dir: %w", err)
	}
	c.Dir = dir
	for _, a := range []string{c.Listen, c.Controller, c.Advertised} {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return c, fmt.Errorf("kafka-local address %q: %w", a, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return c, fmt.Errorf("kafka-local address %q: only loopback addresses are allowed", a)
		}
	}
	if c.Listen == c.Advertised {
		return c, fmt.Errorf("kafka-local: the advertised address %s must be a Toxiproxy proxy, not the broker's own listener", c.Advertised)
	}
	return c, nil
}

// Broker is a local Kafka broker process. Its methods are safe for
// concurrent use; Start and Kill/Stop are meant to alternate.
type Broker struct {
	cfg  Config
	proc *process
}

// New returns the broker described by cfg (nothing is started).
func New(cfg Config) (*Broker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	run := filepath.Join(cfg.Dir, "run")
	props := filepath.Join(run, "server.properties")
	return &Broker{cfg: cfg, proc: &process{
		name: "kafka",
		argv: []string{
			cfg.Java, fmt.Sprintf("-Xmx%dm", cfg.HeapMB), "-Xms256m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
			"-Djava.awt.headless=true",
			"-Dlog4j2.configurationFile=" + filepath.Join(run, "log4j2.properties"),
			"-Dkafka.logs.dir=" + run,
			"-cp", filepath.Join(cfg.Dir, "libs") + "/*",
			"kafka.Kafka", props,
		},
		pidFile: filepath.Join(run, "kafka.pid"),
		logFile: filepath.Join(run, "kafka.log"),
		match:   props,
	}}, nil
}

// Open returns the broker last started from dir (it reads run/broker.json,
// written by Start).
func Open(dir string) (*Broker, error) {
	b, err := os.ReadFile(filepath.Join(dir, "run", "broker.json"))
	if err != nil {
		return nil, fmt.Errorf("open kafka-local state in %s (start it with `make kafka-local`): %w", dir, err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("read %s/run/broker.json: %w", dir, err)
	}
	return New(cfg)
}

// Config returns the broker's configuration, defaults applied.
func (b *Broker) Config() Config { return b.cfg }

// LogPath is the broker's log file (stdout and stderr of the JVM).
func (b *Broker) LogPath() string { return b.proc.logFile }

// PIDPath is the broker's PID file.
func (b *Broker) PIDPath() string { return b.proc.pidFile }

// PID returns the running broker's PID, or 0.
func (b *Broker) PID() int { return b.proc.pid() }

// String describes the broker for logs.
func (b *Broker) String() string {
	return fmt.Sprintf("kafka-local %s (advertised %s via toxiproxy %q)", b.cfg.Listen, b.cfg.Advertised, b.cfg.ProxyName)
}

// Start prepares the state folder (server.properties, storage formatted
// once), makes sure the advertised proxy exists on Toxiproxy, starts the
// broker unless it already runs, and returns once it answers on its own
// listener and, through the proxy, advertises only the proxy. It is
// bounded by ctx (StartTimeout when ctx has no deadline).
func (b *Broker) Start(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StartTimeout)
		defer cancel()
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := EnsureProxy(ctx, b.cfg.ToxiproxyURL, b.cfg.ProxyName, b.cfg.Advertised, b.cfg.Listen); err != nil {
		return err
	}
	if b.proc.pid() == 0 {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second) // a broker that just died may hold it a moment
		err := waitClosed(wctx, b.cfg.Listen)
		cancel()
		if err != nil {
			return fmt.Errorf("%s is already in use by another process (not the broker of %s): stop it or choose another -listen", b.cfg.Listen, b.proc.pidFile)
		}
		if _, err := b.proc.launch(); err != nil {
			return err
		}
	}
	if err := b.waitReady(ctx); err != nil {
		return fmt.Errorf("%w\n--- last lines of %s:\n%s", err, b.proc.logFile, b.proc.tail(15))
	}
	return nil
}

// Kill sends SIGKILL (no clean shutdown, as in a crash) and returns once the
// process is gone. The data folder is kept; Start brings the broker back on
// it. Killing a broker that does not run is not an error.
func (b *Broker) Kill(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if _, err := b.proc.signal(ctx, syscall.SIGKILL); err != nil {
		return err
	}
	return waitClosed(ctx, b.cfg.Listen)
}

// waitClosed waits until nothing accepts connections at addr any more.
func waitClosed(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still accepts connections: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop shuts the broker down cleanly (SIGTERM, then SIGKILL after 30 s)
// and removes its PID file. It reports whether it was running.
func (b *Broker) Stop(ctx context.Context) (bool, error) {
	return b.proc.stop(ctx, 30*time.Second)
}

// prepare writes the configuration files and formats the storage once.
func (b *Broker) prepare(ctx context.Context) error {
	run := filepath.Join(b.cfg.Dir, "run")
	data := filepath.Join(b.cfg.Dir, "data")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", run, err)
	}
	jars, _ := filepath.Glob(filepath.Join(b.cfg.Dir, "libs", "kafka_2.13-*.jar"))
	if len(jars) == 0 {
		return fmt.Errorf("no Kafka jars in %s/libs: fetch them first (scripts/kafka-local.sh fetch, or make kafka-local)", b.cfg.Dir)
	}
	if _, err := exec.LookPath(b.cfg.Java); err != nil {
		return fmt.Errorf("java (17 or later) not found as %q: %w", b.cfg.Java, err)
	}
	files := map[string]string{
		"server.properties": ServerProperties(b.cfg, data),
		"log4j2.properties": log4jProperties,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(run, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	state, _ := json.MarshalIndent(b.cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(run, "broker.json"), append(state, '\n'), 0o644); err != nil {
		return fmt.Errorf("write broker.json: %w", err)
	}
	if _, err := os.Stat(filepath.Join(data, "meta.properties")); err == nil {
		return nil // formatted already: keep the data
	}
	if b.proc.pid() != 0 {
		return fmt.Errorf("the broker runs (pid file %s) but %s is not formatted: stop it first", b.proc.pidFile, data)
	}
	id, err := clusterID()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, b.cfg.Java, "-Xmx256m",
		"-Dlog4j2.configurationFile="+filepath.Join(run, "log4j2.properties"),
		"-cp", filepath.Join(b.cfg.Dir, "libs")+"/*",
		"kafka.tools.StorageTool", "format", "--cluster-id", id, "--config", filepath.Join(run, "server.properties"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("format kafka storage in %s: %w\n%s", data, err, lastLines(string(out), 15))
	}
	return nil
}

// waitReady polls until the broker answers ApiVersions on its own listener
// and a metadata request through the proxy lists only the advertised
// address.
func (b *Broker) waitReady(ctx context.Context) error {
	var last error
	for {
		if b.proc.pid() == 0 {
			return fmt.Errorf("kafka exited during start-up")
		}
		if last = Probe(ctx, b.cfg.Listen, b.cfg.Advertised); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka did not answer within the start timeout: %v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Probe checks a broker: it answers ApiVersions at listen, and a client
// bootstrapped at advertised sees only advertised in metadata. An empty
// advertised skips the second check.
func Probe(ctx context.Context, listen, advertised string) error {
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	sc.ClientID = "kafka-local-probe"
	sc.Net.DialTimeout, sc.Net.ReadTimeout, sc.Net.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	sc.Metadata.Retry.Max = 0
	done := make(chan error, 1)
	go func() {
		br := sarama.NewBroker(listen)
		if err := br.Open(sc); err != nil {
			done <- err
			return
		}
		defer br.Close()
		if _, err := br.ApiVersions(&sarama.ApiVersionsRequest{Version: 3, ClientSoftwareName: "faultline", ClientSoftwareVersion: "1"}); err != nil {
			done <- fmt.Errorf("api versions at %s: %w", listen, err)
			return
		}
		if advertised == "" {
			done <- nil
			return
		}
		c, err := sarama.NewClient([]string{advertised}, sc)
		if err != nil {
			done <- fmt.Errorf("metadata through %s: %w", advertised, err)
			return
		}
		defer c.Close()
		for _, br := range c.Brokers() {
			if br.Addr() != advertised {
				done <- fmt.Errorf("the broker advertises %s, want %s (the proxy)", br.Addr(), advertised)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EnsureProxy creates the proxy name (listen -> upstream, enabled) on the
// Toxiproxy at url, or replaces it when it differs.
func EnsureProxy(ctx context.Context, url, name, listen, upstream string) error {
	c := toxiclient.NewClient(url)
	done := make(chan error, 1)
	go func() {
		if _, err := c.Version(); err != nil {
			done <- fmt.Errorf("toxiproxy at %s does not answer (start it: make toxiproxy-local): %w", url, err)
			return
		}
		if p, err := c.Proxy(name); err == nil && p.Listen == listen && p.Upstream == upstream && p.Enabled {
			done <- nil
			return
		}
		_, err := c.Populate([]toxiclient.Proxy{{Name: name, Listen: listen, Upstream: upstream, Enabled: true}})
		if err != nil {
			err = fmt.Errorf("create proxy %s %s -> %s on %s: %w", name, listen, upstream, url, err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("toxiproxy at %s: %w", url, ctx.Err())
	}
}

// ServerProperties renders the broker's configuration: one KRaft node that
// is broker and controller, listening on loopback only, advertising the
// proxy address, with single-replica internal topics and no delay before
// the first consumer-group rebalance.
func ServerProperties(c Config, dataDir string) string {
	lines := []string{
		"# written by chaos/kafkalocal; edits are overwritten at start",
		"process.roles=broker,controller",
		"node.id=1",
		"controller.quorum.voters=1@" + c.Controller,
		"listeners=PLAINTEXT://" + c.Listen + ",CONTROLLER://" + c.Controller,
		"advertised.listeners=PLAINTEXT://" + c.Advertised,
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"log.dirs=" + dataDir,
		"num.partitions=3",
		"auto.create.topics.enable=true",
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=3",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		// After a crash the old registration blocks the restarted broker
		// until its session expires (default 9 s): heartbeat faster and
		// expire sooner, so a restart takes seconds, not ~15 s.
		"broker.heartbeat.interval.ms=500",
		"broker.session.timeout.ms=3000",
		"log.retention.hours=24",
		"log.segment.bytes=67108864",
	}
	return strings.Join(lines, "\n") + "\n"
}

const log4jProperties = `# written by chaos/kafkalocal: the broker logs to stdout, which goes to run/kafka.log
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
logger.clients.name=org.apache.kafka.clients
logger.clients.level=WARN
`

// clusterID returns a random Kafka cluster ID (16 random bytes, base64url
// without padding, as kafka-storage random-uuid prints).
func clusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("cluster id: %w", err)
		}
		// Like Kafka's Uuid.randomUuid: never one a command line would
		// take for an option.
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// AdvertisedAddr is the address the broker advertises (the stack checks it
// is the broker KAFKA_BROKERS leads to).
func (b *Broker) AdvertisedAddr() string { return b.cfg.Advertised }
