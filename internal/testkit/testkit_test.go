package testkit_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
)

func TestUniqNamesDiffer(t *testing.T) {
	a, b := testkit.Uniq(t, "topic"), testkit.Uniq(t, "topic")
	if a == b || !strings.HasPrefix(a, "topic-TestUniqNamesDiffer-") {
		t.Fatalf("Uniq gave %q and %q", a, b)
	}
}

func TestFreePortIsListenable(t *testing.T) {
	p := testkit.FreePort(t)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("FreePort %d: %v", p, err)
	}
	ln.Close()
}

func TestEventuallyReturnsOnceTrue(t *testing.T) {
	n := 0
	start := time.Now()
	testkit.Eventually(t, 5*time.Second, func() (bool, string) { n++; return n == 3, "" })
	if n != 3 || time.Since(start) > 2*time.Second {
		t.Fatalf("polled %d times in %v", n, time.Since(start))
	}
}

// TestKafkaAndToxiproxy: a record sent through a proxy in front of the
// embedded broker's bootstrap address is acknowledged.
func TestKafkaAndToxiproxy(t *testing.T) {
	c := testkit.StartKafka(t, 1, []string{"t"})
	tp := testkit.Toxiproxy(t)
	px, err := tp.CreateProxy("k", "127.0.0.1:0", c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Proxy("k"); err != nil {
		t.Fatal(err)
	}
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout = time.Second, 5*time.Second
	p, err := sarama.NewSyncProducer([]string{px.Listen}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("v")}); err != nil {
		t.Fatal(err)
	}
	testkit.Logger(t).Info("sent through the proxy", "proxy", px.Listen)
}

func TestSetEnvUnsetsThenSets(t *testing.T) {
	t.Setenv("TESTKIT_SETENV_A", "from-outside")
	t.Setenv("TESTKIT_SETENV_B", "from-outside")
	testkit.SetEnv(t, []string{"TESTKIT_SETENV_A", "TESTKIT_SETENV_B"}, map[string]string{"TESTKIT_SETENV_B": "given"})
	if v, ok := os.LookupEnv("TESTKIT_SETENV_A"); ok {
		t.Errorf("TESTKIT_SETENV_A = %q, want unset", v)
	}
	if v := os.Getenv("TESTKIT_SETENV_B"); v != "given" {
		t.Errorf("TESTKIT_SETENV_B = %q, want %q", v, "given")
	}
}

// TestRecordsKeepsOrder: Records keeps what Send and Handle got, in order,
// and All returns a copy.
func TestRecordsKeepsOrder(t *testing.T) {
	var r testkit.Records
	for i, keep := range []func(context.Context, events.Message) error{r.Send, r.Handle, r.Send} {
		if err := keep(t.Context(), events.Message{Key: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	all := r.All()
	if len(all) != 3 || all[0].Key != "0" || all[1].Key != "1" || all[2].Key != "2" {
		t.Fatalf("All = %+v, want keys 0, 1, 2", all)
	}
	all[0].Key = "changed"
	if r.All()[0].Key != "0" {
		t.Fatal("All returned the kept slice, not a copy")
	}
}

// TestRecordsLast: Last finds the latest record with a key, not the first,
// and reports false for a key never kept.
func TestRecordsLast(t *testing.T) {
	var r testkit.Records
	for _, m := range []events.Message{
		{Key: "a", Topic: "first"}, {Key: "b", Topic: "other"}, {Key: "a", Topic: "second"},
	} {
		if err := r.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok := r.Last("a"); !ok || m.Topic != "second" {
		t.Fatalf("Last(a) = %+v, %v; want the record of topic second", m, ok)
	}
	if m, ok := r.Last("missing"); ok {
		t.Fatalf("Last(missing) = %+v, true; want false", m)
	}
}

// TestPactDir: without PACT_DIR, contracts/pacts of the module (this
// package runs in internal/testkit, two folders below go.mod); with a
// relative PACT_DIR, that folder made absolute.
func TestPactDir(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PACT_DIR", "")
	if got, want := testkit.PactDir(t), filepath.Join(filepath.Dir(filepath.Dir(wd)), "contracts", "pacts"); got != want {
		t.Errorf("PactDir without PACT_DIR = %q, want %q", got, want)
	}
	t.Setenv("PACT_DIR", filepath.Join("some", "pacts"))
	if got, want := testkit.PactDir(t), filepath.Join(wd, "some", "pacts"); got != want {
		t.Errorf("PactDir with PACT_DIR=some/pacts = %q, want %q", got, want)
	}
}
