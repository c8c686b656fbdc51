package kafkalocal

import (
	"context"
	"fmt"
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

// TestLaunchReturnsOnceItsCommandLineShows: right after launch returns,
// pid() finds the child. Without the wait, a read of /proc/PID/cmdline
// between the end of exec's close-on-exec pipe and the kernel setting the
// new command line sees it empty (seen under load about once in 3,000
// launches): many launches in a row make that window likely to be hit.
func TestLaunchReturnsOnceItsCommandLineShows(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 200 {
		match := fmt.Sprintf("31.%03d", i)
		p := &process{
			name: "sleeper", argv: []string{"sleep", match},
			pidFile: filepath.Join(dir, "s.pid"), logFile: filepath.Join(dir, "s.log"), match: match,
		}
		pid, err := p.launch()
		if err != nil {
			t.Fatal(err)
		}
		got := p.pid()
		if _, err := p.stop(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		if got != pid {
			t.Fatalf("launch %d: pid() = %d right after launch, want %d", i, got, pid)
		}
	}
}

// TestLaunchReportsAChildThatExitsAtStart: a program that exits before it
// shows the expected command line is an error naming it, not a PID.
func TestLaunchReportsAChildThatExitsAtStart(t *testing.T) {
	dir := t.TempDir()
	p := &process{
		name: "quitter", argv: []string{"sh", "-c", "echo bad config; exit 3"},
		pidFile: filepath.Join(dir, "q.pid"), logFile: filepath.Join(dir, "q.log"), match: "never-in-the-command-line",
	}
	pid, err := p.launch()
	if err == nil {
		t.Fatalf("launch = %d, nil; want an error", pid)
	}
	if !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("error %q does not say the child exited or show its log", err)
	}
}
