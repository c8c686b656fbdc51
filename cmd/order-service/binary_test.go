package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
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
	bin := filepath.Join(testkit.BuildBinaries(t, "order-service"), "order-service")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "ORDER_RELAY_BATCH"},
		{[]string{"-relay-batch=-5"}, 2, `order-service: invalid value "-5" for -relay-batch (env ORDER_RELAY_BATCH): must be at least 1`},
		{[]string{"-breaker-failures=0"}, 2, "-breaker-failures (env ORDER_BREAKER_FAILURES): must be at least 1"},
		{[]string{"-shutdown-grace", "soon"}, 2, `invalid value "soon" for -shutdown-grace`},
		{[]string{"-nope"}, 2, "unknown flag -nope"},
	} {
		p := testkit.StartProcess(t, bin, tc.args...)
		if code := p.Wait(t, 20*time.Second); code != tc.code || !strings.Contains(p.Output(), tc.want) {
			t.Errorf("order-service %q: exit %d, want %d with %q in\n%s", tc.args, code, tc.code, tc.want, p.Output())
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := testkit.StartProcessEnv(t, bin, []string{"ORDER_MODE=sync", "ORDER_HTTP_ADDR=" + addr, "ORDER_DB=" + filepath.Join(t.TempDir(), "orders.db"),
		"ORDER_BREAKER=true", "ORDER_RETRY_ATTEMPTS=3", "LOG_LEVEL=info"})
	p.WaitHealthy(t, "http://"+addr+"/healthz", 30*time.Second)
	for _, want := range []string{`"msg":"order-service starting"`, `"mode":"sync"`, `"breaker":"true"`, `"retry-attempts":"3"`, `"relay-batch":"256"`, `"version":`} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("start-up log lacks %s:\n%s", want, p.Output())
		}
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM\n%s", code, p.Output())
	}
}
