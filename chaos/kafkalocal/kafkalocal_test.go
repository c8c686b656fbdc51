package kafkalocal

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Advertised != DefaultAdvertised || c.ProxyName != "kafka" || !filepath.IsAbs(c.Dir) {
		t.Errorf("defaults = %+v", c)
	}
	bad := map[string]Config{
		"advertised = listener (clients would bypass the proxy)": {Listen: "127.0.0.1:9092", Advertised: "127.0.0.1:9092"},
		"not loopback": {Listen: "0.0.0.0:9092"},
		"no port":      {Advertised: "127.0.0.1"},
	}
	for name, cfg := range bad {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestServerPropertiesAdvertiseTheProxy(t *testing.T) {
	c, _ := Config{Listen: "127.0.0.1:1", Controller: "127.0.0.1:2", Advertised: "127.0.0.1:3"}.withDefaults()
	props := ServerProperties(c, "/data")
	for _, want := range []string{
		"listeners=PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2",
		"advertised.listeners=PLAINTEXT://127.0.0.1:3",
		"controller.quorum.voters=1@127.0.0.1:2",
		"log.dirs=/data",
		"offsets.topic.replication.factor=1",
		"group.initial.rebalance.delay.ms=0",
	} {
		if !strings.Contains(props, want+"\n") {
			t.Errorf("server.properties lacks %q:\n%s", want, props)
		}
	}
}

func TestClusterID(t *testing.T) {
	id, err := clusterID()
	if err != nil || len(id) != 22 || id[0] == '-' {
		t.Fatalf("clusterID = %q, %v", id, err)
	}
}

// TestProcessTracksOnlyItsOwnPID: a PID file naming another program is
// never treated as ours (so never signalled); our own child is started,
// found, stopped and reaped.
func TestProcessTracksOnlyItsOwnPID(t *testing.T) {
	dir := t.TempDir()
	p := &process{
		name: "sleeper", argv: []string{"sleep", "30.123"},
		pidFile: filepath.Join(dir, "s.pid"), logFile: filepath.Join(dir, "s.log"), match: "30.123",
	}
	// A PID file pointing at this test process: not ours.
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := p.pid(); got != 0 {
		t.Fatalf("pid() = %d for a foreign process", got)
	}
	pid, err := p.launch()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.pid(); got != pid {
		t.Fatalf("pid() = %d, want %d", got, pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	was, err := p.stop(ctx, 5*time.Second)
	if err != nil || !was {
		t.Fatalf("stop = %v, %v", was, err)
	}
	if alive(pid) {
		t.Fatalf("pid %d still alive after stop", pid)
	}
	if _, err := os.Stat(p.pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	if was, err := p.stop(ctx, time.Second); was || err != nil {
		t.Errorf("second stop = %v, %v; want not running, nil", was, err)
	}
}
