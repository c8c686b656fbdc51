package messaging_test

import (
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/services/messaging"
)

func TestParseBrokers(t *testing.T) {
	for in, want := range map[string][]string{
		"":                        nil,
		"  ":                      nil,
		"a:1":                     {"a:1"},
		"a:1,b:2":                 {"a:1", "b:2"},
		" a:1 , ,b:2, ":           {"a:1", "b:2"},
		",,,":                     nil,
		"127.0.0.1:9092,[::1]:92": {"127.0.0.1:9092", "[::1]:92"},
	} {
		if got := messaging.ParseBrokers(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseBrokers(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRoute(t *testing.T) {
	good := map[string]map[string]string{
		"":                     nil,
		" , ":                  nil,
		"k:9092=127.0.0.1:1":   {"k:9092": "127.0.0.1:1"},
		" a:1 = b:2 ,c:3=d:4,": {"a:1": "b:2", "c:3": "d:4"},
		"a:1=b:2,a:1=c:3":      {"a:1": "c:3"}, // the last one wins
	}
	for in, want := range good {
		got, err := messaging.ParseRoute(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseRoute(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"a:1", "=b:2", "a:1=", " = ", "a:1=b:2,c:3"} {
		if got, err := messaging.ParseRoute(in); err == nil {
			t.Errorf("ParseRoute(%q) = %v, want an error", in, got)
		}
	}
}

func TestRouteDialerRewritesOnlyRoutedAddresses(t *testing.T) {
	accept := func(ln net.Listener) <-chan struct{} {
		got := make(chan struct{}, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				got <- struct{}{}
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		return got
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	proxy, direct := listen(), listen()
	viaProxy, viaDirect := accept(proxy), accept(direct)

	d := messaging.RouteDialer(map[string]string{"broker.example:9092": proxy.Addr().String()}, time.Second)
	c, err := d.Dial("tcp", "broker.example:9092")
	if err != nil {
		t.Fatalf("dial routed address: %v", err)
	}
	c.Close()
	select {
	case <-viaProxy:
	case <-time.After(2 * time.Second):
		t.Fatal("the routed dial did not reach the proxy")
	}
	c, err = d.Dial("tcp", direct.Addr().String())
	if err != nil {
		t.Fatalf("dial unrouted address: %v", err)
	}
	c.Close()
	select {
	case <-viaDirect:
	case <-time.After(2 * time.Second):
		t.Fatal("the unrouted dial did not reach its own address")
	}
	// Nothing listens on port 1: the dial fails fast, with the rewritten address.
	d = messaging.RouteDialer(map[string]string{"x:1": "127.0.0.1:1"}, 200*time.Millisecond)
	if _, err := d.Dial("tcp", "x:1"); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

func TestSaramaConfig(t *testing.T) {
	if _, err := messaging.SaramaConfig(messaging.Config{}); err == nil {
		t.Fatal("no brokers accepted")
	}
	sc, err := messaging.SaramaConfig(messaging.Config{Brokers: []string{"a:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Net.DialTimeout != 2*time.Second || sc.Net.ReadTimeout != 5*time.Second || sc.Net.WriteTimeout != 5*time.Second {
		t.Errorf("timeouts %v/%v/%v, want the 2s/5s/5s defaults", sc.Net.DialTimeout, sc.Net.ReadTimeout, sc.Net.WriteTimeout)
	}
	if !sc.Producer.Idempotent || sc.Producer.RequiredAcks != sarama.WaitForAll || sc.Net.MaxOpenRequests != 1 {
		t.Error("producer is not idempotent with acks=all and one request in flight")
	}
	if sc.Consumer.Offsets.Initial != sarama.OffsetOldest || !sc.Consumer.Offsets.AutoCommit.Enable {
		t.Error("consumer does not start at the oldest offset with auto-commit of marked offsets")
	}
	if sc.Consumer.Fetch.Min != messaging.DefaultFetchMinBytes || sc.Consumer.MaxWaitTime != messaging.DefaultFetchMaxWait {
		t.Errorf("fetch min %d bytes, max wait %v; want the %d/%v defaults", sc.Consumer.Fetch.Min, sc.Consumer.MaxWaitTime, messaging.DefaultFetchMinBytes, messaging.DefaultFetchMaxWait)
	}
	if sc.Net.Proxy.Enable {
		t.Error("proxy dialer enabled without a route")
	}
	sc, err = messaging.SaramaConfig(messaging.Config{Brokers: []string{"a:1"}, Route: map[string]string{"a:1": "b:2"}, ReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Net.Proxy.Enable || sc.Net.Proxy.Dialer == nil || sc.Net.ReadTimeout != time.Second {
		t.Errorf("route: proxy %v dialer %v read timeout %v", sc.Net.Proxy.Enable, sc.Net.Proxy.Dialer, sc.Net.ReadTimeout)
	}
}
