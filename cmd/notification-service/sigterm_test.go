package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

// TestBinary builds notification-service once and runs it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testkit.BuildBinary(t, "notification-service")
	t.Run("exit codes", func(t *testing.T) { exitCodes(t, bin) })
	t.Run("configuration from the environment", func(t *testing.T) { configFromEnv(t, bin) })
	t.Run("SIGTERM mid-stream", func(t *testing.T) { sigtermMidStream(t, bin) })
}

// configFromEnv: with its settings in environment variables only, the
// binary serves where they say and logs its effective configuration first.
func configFromEnv(t *testing.T, bin string) {
	broker := testkit.StartKafka(t, 1, events.AllTopics).ListenAddrs()[0]
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := testkit.StartProcessEnv(t, bin, []string{"KAFKA_BROKERS=" + broker, "NOTIFICATION_HTTP_ADDR=" + addr,
		"NOTIFICATION_DB=" + filepath.Join(t.TempDir(), "n.db"), "NOTIFICATION_GROUP=" + testkit.Uniq(t, "group"), "LOG_LEVEL=info"})
	p.WaitHealthy(t, "http://"+addr+"/healthz", 30*time.Second)
	p.CheckOutput(t, `"msg":"notification-service starting"`, `"kafka-brokers":"`+broker+`"`, `"http-addr":"`+addr+`"`, `"log-level":"INFO"`, `"version":`)
	testkit.StopClean(t, 20*time.Second, p)
}

// exitCodes: a bad flag or a missing broker exits 2 with the reason on
// stderr before anything starts; -h exits 0.
func exitCodes(t *testing.T, bin string) {
	testkit.CheckExits(t, bin, []testkit.ExitCase{
		{Args: []string{"-nope"}, Code: 2, Want: "unknown flag -nope"},
		{Args: []string{"-shutdown-grace", "soon"}, Code: 2, Want: `invalid value "soon" for -shutdown-grace (env NOTIFICATION_SHUTDOWN_GRACE)`},
		{Args: []string{"-kafka-brokers=k:1", "-shutdown-grace=-1s"}, Code: 2, Want: "-shutdown-grace (env NOTIFICATION_SHUTDOWN_GRACE): must be a positive duration"},
		{Args: nil, Code: 2, Want: "no Kafka brokers"},
		{Args: []string{"-h"}, Code: 0, Want: "NOTIFICATION_GROUP"},
	})
}

// sigtermMidStream: the binary consumes a stream of orders and gets
// SIGTERM in the middle. It exits 0 within the grace, having committed
// what it recorded (at most the records in flight, one per partition,
// recorded but not committed). Restarted on the same database and group,
// it notifies the rest, none twice.
func sigtermMidStream(t *testing.T, bin string) {
	const partitions, orders = 3, 300
	broker := testkit.StartKafka(t, partitions, events.AllTopics).ListenAddrs()[0]
	dir, group := t.TempDir(), "notification-sigterm"
	db := filepath.Join(dir, "notification.db")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	startBin := func() *testkit.Process {
		p := testkit.StartProcess(t, bin, "-http-addr", addr, "-db", db, "-kafka-brokers", broker,
			"-group", group, "-shutdown-grace", "5s", "-log-level", "warn")
		p.WaitHealthy(t, base+"/healthz", 30*time.Second)
		return p
	}

	p := startBin()
	prod, err := messaging.NewProducer(messaging.Config{Brokers: []string{broker}})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// The stream: one order every 5 ms (about 1.5 s for all), in the
	// background, so the SIGTERM lands while records keep arriving.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produced := make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := range orders {
			<-tick.C
			m, err := events.Record(events.Event{EventID: fmt.Sprintf("placed:%d", i), Type: events.OrderPlaced, OrderID: fmt.Sprintf("order-%d", i),
				SKU: "SKU-1", Quantity: 1, OccurredAt: time.Now().UTC()})
			if err == nil {
				err = prod.Send(ctx, m)
			}
			if err != nil {
				produced <- fmt.Errorf("order %d: %w", i, err)
				return
			}
		}
		produced <- nil
	}()
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		n := getStats(t, base)["notifications"]
		return n >= 50, fmt.Sprintf("%d/50 notifications before the SIGTERM", n)
	})
	testkit.StopClean(t, 20*time.Second, p)

	recorded := testkit.ReadStore(t, db, notification.OpenStore, (*notification.Store).Stats)
	committed := testkit.ReadGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced).Committed
	t.Logf("at SIGTERM: %d of %d orders notified, %d records committed", recorded.Notifications, orders, committed)
	if d := int64(recorded.Notifications) - committed; d < 0 || d > partitions {
		t.Fatalf("recorded %d notifications but committed %d records: want the commits to trail by 0..%d (records in flight)",
			recorded.Notifications, committed, partitions)
	}

	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	p = startBin()
	st := map[string]int64{}
	testkit.Eventually(t, 60*time.Second, func() (bool, string) {
		st = getStats(t, base)
		return st["notifications"] == orders, fmt.Sprintf("%d/%d notifications after the restart", st["notifications"], orders)
	})
	if inFlight := int64(recorded.Notifications) - committed; st["sends"] != orders || st["duplicated_effects"] != 0 || st["redelivered"] != inFlight {
		t.Fatalf("stats after the restart %v: want %d sends, none duplicated, %d redelivered (recorded but not committed at the stop)", st, orders, inFlight)
	}
	testkit.StopClean(t, 20*time.Second, p)
	if g := testkit.ReadGroupOffsets(t, []string{broker}, group, events.TopicOrderPlaced); g.Lag() != 0 {
		t.Fatalf("after the second stop the group lags by %d at the broker, want 0 (everything committed)", g.Lag())
	}
}

func getStats(t *testing.T, base string) map[string]int64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /stats: %d %v", resp.StatusCode, err)
	}
	return st
}
