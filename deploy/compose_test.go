package deploy

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/faultline-harness/faultline/chaos/kafkalocal"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// compose is the part of docker-compose.yml the checks read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		NetworkMode string            `yaml:"network_mode"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

type proxy struct {
	Name, Listen, Upstream string
	Enabled                bool
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func load(t *testing.T) (compose, map[string]proxy) {
	t.Helper()
	var c compose
	if err := yaml.Unmarshal([]byte(read(t, "../docker-compose.yml")), &c); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	var list []proxy
	if err := json.Unmarshal([]byte(read(t, "toxiproxy.json")), &list); err != nil {
		t.Fatalf("parse deploy/toxiproxy.json: %v", err)
	}
	byListen := map[string]proxy{}
	for _, p := range list {
		byListen[p.Listen] = p
	}
	return c, byListen
}

func TestComposeServicesAndImages(t *testing.T) {
	c, _ := load(t)
	for _, name := range []string{"kafka", "toxiproxy", "inventory", "notification", "order-sync", "order-async", "order-hybrid", "postgres", "pact-broker"} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if s.Healthcheck == nil && name != "order-sync" && name != "order-async" && name != "inventory" && name != "pact-broker" {
			t.Errorf("service %s has no healthcheck (others wait for it)", name)
		}
	}
	tag := regexp.MustCompile(`^[a-z0-9./-]+:([A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*)$`)
	for name, s := range c.Services {
		switch {
		case s.Image == "" && s.Build == nil:
			t.Errorf("service %s has neither image nor build", name)
		case s.Image == "":
			continue
		}
		m := tag.FindStringSubmatch(s.Image)
		if m == nil || strings.Contains(m[1], "latest") {
			t.Errorf("service %s image %q: want a pinned version tag, not latest or none", name, s.Image)
		}
	}
	// The compose broker and the kafka-local broker are the same version.
	pom := read(t, "kafka-local/pom.xml")
	v := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindStringSubmatch(pom)
	if v == nil || c.Services["kafka"].Image != "apache/kafka:"+v[1] {
		t.Errorf("kafka image %q and deploy/kafka-local/pom.xml kafka.version %v differ", c.Services["kafka"].Image, v)
	}
	// Every service depending on another waits for something it can check.
	for name, s := range c.Services {
		for dep, d := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
			if d.Condition == "service_healthy" && c.Services[dep].Healthcheck == nil {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
	}
	// The Dockerfile builds every binary the services run.
	docker := read(t, "../Dockerfile")
	for name, s := range c.Services {
		if s.Build != nil && len(s.Command) > 0 {
			bin := s.Command[0][strings.LastIndex(s.Command[0], "/")+1:]
			if !strings.Contains(docker, "/out/"+bin) {
				t.Errorf("service %s runs %s, which the Dockerfile does not build", name, bin)
			}
		}
	}
}

// TestKafkaCannotBeBypassed: Kafka advertises the "kafka" proxy, whose
// upstream is the broker's listener, and every client's bootstrap and
// route lead to a proxy, never to the broker itself.
func TestKafkaCannotBeBypassed(t *testing.T) {
	c, proxies := load(t)
	env := c.Services["kafka"].Environment
	advertised := strings.TrimPrefix(env["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://")
	listener := ""
	for _, l := range strings.Split(env["KAFKA_LISTENERS"], ",") {
		if strings.HasPrefix(l, "PLAINTEXT://") {
			listener = strings.TrimPrefix(l, "PLAINTEXT://")
		}
	}
	p, ok := proxies[advertised]
	if !ok || p.Name != kafkalocal.DefaultProxyName || p.Upstream != listener || !p.Enabled {
		t.Fatalf("kafka advertises %s (listener %s): want the enabled %q proxy listening there with that upstream, got %+v", advertised, listener, kafkalocal.DefaultProxyName, p)
	}
	if advertised == listener {
		t.Fatal("kafka advertises its own listener: clients would bypass Toxiproxy")
	}
	for _, name := range []string{"inventory", "notification", "order-async", "order-hybrid"} {
		e := c.Services[name].Environment
		boot, ok := proxies[e["KAFKA_BROKERS"]]
		if !ok || boot.Upstream != listener {
			t.Errorf("%s bootstraps at %s: want a proxy to the broker %s", name, e["KAFKA_BROKERS"], listener)
		}
		route := map[string]string{}
		for _, pair := range strings.Split(e["KAFKA_ROUTE"], ",") {
			from, to, _ := strings.Cut(pair, "=")
			route[from] = to
		}
		if route[advertised] != e["KAFKA_BROKERS"] {
			t.Errorf("%s KAFKA_ROUTE %q: want %s rewritten to its own proxy %s", name, e["KAFKA_ROUTE"], advertised, e["KAFKA_BROKERS"])
		}
	}
	// order-sync and order-hybrid reach inventory only through a proxy.
	for _, name := range []string{"order-sync", "order-hybrid"} {
		u, err := url.Parse(c.Services[name].Environment["INVENTORY_URL"])
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := proxies[u.Host]; !ok || p.Upstream != c.Services["inventory"].Environment["INVENTORY_HTTP_ADDR"] {
			t.Errorf("%s INVENTORY_URL %s: want a proxy to inventory's %s", name, u, c.Services["inventory"].Environment["INVENTORY_HTTP_ADDR"])
		}
	}
	// order-async and order-hybrid each see every stock outcome: two groups.
	if g := c.Services["order-hybrid"].Environment["ORDER_GROUP"]; g == "" || g == c.Services["order-async"].Environment["ORDER_GROUP"] {
		t.Errorf("order-hybrid ORDER_GROUP %q: want its own consumer group, not order-async's", g)
	}
	// The compose proxies must not collide with the names the harness
	// creates (it replaces a proxy of the same name).
	for _, p := range proxies {
		if slices.Contains([]string{stack.ProxyInventoryHTTP, stack.ProxyOrderKafka, stack.ProxyInventoryKafka}, p.Name) {
			t.Errorf("proxy %s in toxiproxy.json has a name the harness's stack creates and deletes", p.Name)
		}
		if host, _, _ := net.SplitHostPort(p.Listen); host != "127.0.0.1" {
			t.Errorf("proxy %s listens on %s: want 127.0.0.1 (host network)", p.Name, p.Listen)
		}
	}
}

// TestHarnessAddressesAgree: the README's KAFKA_BROKERS/TOXIPROXY_URL line
// works against compose, against `make kafka-local` (same defaults) and
// matches chaos/lanes.mk.
func TestHarnessAddressesAgree(t *testing.T) {
	c, proxies := load(t)
	readme := read(t, "../README.md")
	m := regexp.MustCompile(`KAFKA_BROKERS=(\S+) TOXIPROXY_URL=(\S+)`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README has no `KAFKA_BROKERS=... TOXIPROXY_URL=...` line")
	}
	brokers, toxURL := m[1], m[2]
	if _, ok := proxies[brokers]; !ok {
		t.Errorf("README's KAFKA_BROKERS=%s is no proxy of deploy/toxiproxy.json", brokers)
	}
	if adv := strings.TrimPrefix(c.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://"); adv != brokers {
		t.Errorf("README's KAFKA_BROKERS=%s but compose kafka advertises %s", brokers, adv)
	}
	u, err := url.Parse(toxURL)
	if err != nil {
		t.Fatal(err)
	}
	cmd := strings.Join(c.Services["toxiproxy"].Command, " ")
	if c.Services["toxiproxy"].NetworkMode != "host" || !strings.Contains(cmd, "-host="+u.Hostname()) || !strings.Contains(cmd, "-port="+u.Port()) {
		t.Errorf("README's TOXIPROXY_URL=%s but compose toxiproxy runs %q (network %q)", toxURL, cmd, c.Services["toxiproxy"].NetworkMode)
	}
	if brokers != kafkalocal.DefaultAdvertised || toxURL != kafkalocal.DefaultToxiproxy {
		t.Errorf("README's %s, %s differ from make kafka-local's %s, %s", brokers, toxURL, kafkalocal.DefaultAdvertised, kafkalocal.DefaultToxiproxy)
	}
	if mk := read(t, "../chaos/lanes.mk"); !strings.Contains(mk, "KAFKA_BROKERS="+brokers+" TOXIPROXY_URL="+toxURL) {
		t.Errorf("chaos/lanes.mk does not use KAFKA_BROKERS=%s TOXIPROXY_URL=%s", brokers, toxURL)
	}
	// make up / make down drive this file.
	mk := read(t, "../Makefile")
	for _, target := range []string{"up", "down"} {
		if !regexp.MustCompile(`(?m)^` + target + `:.*\n\tdocker compose `).MatchString(mk) {
			t.Errorf("Makefile target %s does not run docker compose", target)
		}
	}
}

// TestServiceEnvironmentIsRead: every variable compose gives a service is
// one its settings read (a typo would be ignored without a word), and no
// two services share an HTTP address.
func TestServiceEnvironmentIsRead(t *testing.T) {
	c, _ := load(t)
	mains := map[string]string{
		"inventory":    read(t, "../cmd/inventory-service/main.go"),
		"notification": read(t, "../cmd/notification-service/main.go"),
		"order-sync":   read(t, "../cmd/order-service/main.go"),
		"order-async":  read(t, "../cmd/order-service/main.go"),
		"order-hybrid": read(t, "../cmd/order-service/main.go"),
	}
	addrs := map[string]string{}
	for name, src := range mains {
		env := c.Services[name].Environment
		if len(env) == 0 {
			t.Errorf("service %s has no environment", name)
		}
		for k, v := range env {
			// Declared in a setting's conf tag (internal/config), e.g.
			// `conf:"...,env:ORDER_DB,..."`; the doc comment lists it bare.
			if !regexp.MustCompile(`env:` + k + `[,"]`).MatchString(src) {
				t.Errorf("service %s sets %s, which its main.go does not read", name, k)
			}
			if strings.HasSuffix(k, "_HTTP_ADDR") {
				if other, dup := addrs[v]; dup {
					t.Errorf("%s and %s both listen on %s", name, other, v)
				}
				addrs[v] = name
				if host, _, err := net.SplitHostPort(v); err != nil || host != "127.0.0.1" {
					t.Errorf("%s listens on %s: want 127.0.0.1 (host network)", name, v)
				}
			}
		}
	}
}
