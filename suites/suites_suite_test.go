// Package suites holds the Ginkgo specs that show, against the running
// services, that a synchronous call chain fails in cascade when inventory
// is slow or down while the asynchronous path through Kafka keeps
// accepting orders and completes them all after recovery.
//
// Run: `go tool ginkgo ./suites/...`; only the chaos specs:
// `go tool ginkgo -focus chaos ./suites/...` or `--label-filter=chaos`.
// KAFKA_BROKERS and TOXIPROXY_URL select the real lane (see README).
package suites_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/stack"
)

func TestSuites(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "faultline suites")
}

// startStack starts a fresh stack for one spec, sends the services' logs to
// the spec's output (shown on failure) and registers its teardown.
func startStack() *stack.Stack {
	GinkgoHelper()
	cfg := stack.ConfigFromEnv()
	cfg.Log = slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := stack.Start(ctx, cfg)
	Expect(err).NotTo(HaveOccurred(), "start the stack")
	DeferCleanup(func() { Expect(st.Close()).To(Succeed(), "stop the stack") })
	return st
}
