// Package testkit holds the test helpers shared by the module's packages:
// a logger that writes to the test's output, unique names, free loopback
// ports, polling with a progress message, a cleared environment for a
// binary's settings (SetEnv), an embedded Kafka cluster (kfake), an
// in-process Toxiproxy server, consumer-group offsets and lag read at the
// broker and a topic read from its oldest offset (groups.go), a record
// keeper that is both publisher and handler (Records; Last finds a key's
// latest), the pact files' folder and skeleton pacts (pacts.go: PactDir,
// SkeletonPact), a stopped service's store read once (ReadStore), serving
// a service's Run on a loopback
// listener (Serve, NilLoggerServes), and building, running, signalling
// and waiting for the module's binaries, with their exit codes, start-up
// log and clean SIGTERM stop checked (process.go: CheckExits, CheckOutput,
// StopClean). Each helper takes a testing.TB (CheckExits a *testing.T, for
// its subtests) and registers its own cleanup.
//
// It is test support only: production code never imports it.
package testkit

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Logger returns a debug-level slog logger writing to t's output, so
// service logs show only when the test fails (or with -v).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Uniq returns a name unique to this test and call, for topics, consumer
// groups and IDs: "<what>-<test name>-<nanoseconds>".
func Uniq(t testing.TB, what string) string {
	return fmt.Sprintf("%s-%s-%d", what, strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
}

// FreePort returns a 127.0.0.1 port nobody listens on right now (another
// process may take it before the caller does; prefer listening on
// 127.0.0.1:0 where the code allows it).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Eventually polls cond every 20 ms until it returns true or timeout
// passes, then fails the test with cond's last progress message ("got 3/5
// events"). It returns as soon as cond holds.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, progress string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, progress := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %v: %s", timeout, progress)
		}
		<-tick.C
	}
}

// StartKafka starts a one-broker embedded Kafka cluster (kfake, on
// 127.0.0.1) with topics of the given partition count; opts are appended
// (kfake.Ports, kfake.DataDir, kfake.NumBrokers to override). It is
// closed on cleanup. Its bootstrap addresses: c.ListenAddrs().
func StartKafka(t testing.TB, partitions int32, topics []string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Toxiproxy starts an in-process Toxiproxy server (logging errors only)
// with its API on a loopback httptest server, and returns a client for
// it. Every proxy is removed and the server stopped on cleanup.
func Toxiproxy(t testing.TB) *toxiclient.Client {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.New(io.Discard).Level(zerolog.ErrorLevel))
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() { api.Close(); _ = srv.Collection.Clear() })
	return toxiclient.NewClient(api.URL)
}

// SetEnv gives the test a controlled environment: every variable in names
// (a binary's settings, config.EnvNames) is unset, then env's are set; all
// are restored after the test (t.Setenv, so not for parallel tests).
func SetEnv(t testing.TB, names []string, env map[string]string) {
	t.Helper()
	for _, k := range names {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}
