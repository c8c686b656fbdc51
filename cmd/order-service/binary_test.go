package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
)

// TestBinary: -h exits 0, invalid values exit 2 naming the setting, the
// environment is honoured and the effective configuration is logged at
// start; SIGTERM stops it with 0.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testkit.BuildBinary(t, "order-service")
	testkit.CheckExits(t, bin, []testkit.ExitCase{
		{Args: []string{"-h"}, Code: 0, Want: "ORDER_RELAY_BATCH"},
		{Args: []string{"-relay-batch=-5"}, Code: 2, Want: `order-service: invalid value "-5" for -relay-batch (env ORDER_RELAY_BATCH): must be at least 1`},
		{Args: []string{"-breaker-failures=0"}, Code: 2, Want: "-breaker-failures (env ORDER_BREAKER_FAILURES): must be at least 1"},
		{Args: []string{"-shutdown-grace", "soon"}, Code: 2, Want: `invalid value "soon" for -shutdown-grace`},
		{Args: []string{"-nope"}, Code: 2, Want: "unknown flag -nope"},
	})
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := testkit.StartProcessEnv(t, bin, []string{"ORDER_MODE=sync", "ORDER_HTTP_ADDR=" + addr, "ORDER_DB=" + filepath.Join(t.TempDir(), "orders.db"),
		"ORDER_BREAKER=true", "ORDER_RETRY_ATTEMPTS=3", "LOG_LEVEL=info"})
	p.WaitHealthy(t, "http://"+addr+"/healthz", 30*time.Second)
	p.CheckOutput(t, `"msg":"order-service starting"`, `"mode":"sync"`, `"breaker":"true"`, `"retry-attempts":"3"`, `"relay-batch":"256"`, `"version":`)
	testkit.StopClean(t, 20*time.Second, p)
}
