package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
)

// TestSIGTERMUnderLoadLosesNoAcceptedOrder runs the real order-service and
// inventory-service binaries against an in-process Kafka, sends orders,
// SIGTERMs both services in the middle of the load, restarts them on the
// same databases and consumer groups, and checks that every order that got
// a 202 is confirmed, with exactly one stock movement each.
//
// On the way it checks that inventory committed what it had processed when
// it stopped: its committed offsets trail its reservations by at most the
// records in flight (one per partition).
func TestSIGTERMUnderLoadLosesNoAcceptedOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service binaries")
	}
	bin := testkit.BuildBinaries(t, "order-service", "inventory-service")
	const partitions = 3
	kport := testkit.FreePort(t)
	cluster := testkit.StartKafka(t, partitions, events.AllTopics, kfake.Ports(kport))
	brokers := cluster.ListenAddrs()[0]

	dir := t.TempDir()
	orderAddr, invAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	orderURL, invURL := "http://"+orderAddr, "http://"+invAddr
	invGroup := "inventory-sigterm"
	startInventory := func() *testkit.Process {
		return startBinary(t, bin, "inventory-service", invURL,
			"-http-addr", invAddr, "-db", filepath.Join(dir, "inventory.db"), "-kafka-brokers", brokers,
			"-group", invGroup, "-shutdown-grace", "5s", "-log-level", "warn")
	}
	startOrder := func() *testkit.Process {
		return startBinary(t, bin, "order-service", orderURL,
			"-mode", "async", "-http-addr", orderAddr, "-db", filepath.Join(dir, "orders.db"), "-kafka-brokers", brokers,
			"-group", "order-sigterm", "-shutdown-grace", "5s", "-publish-timeout", "2s", "-log-level", "warn")
	}

	inv, ord := startInventory(), startOrder()
	load := startLoad(t, orderURL)
	load.waitAccepted(t, 150, 20*time.Second)

	t.Log("SIGTERM both services mid-load")
	testkit.StopClean(t, 20*time.Second, ord, inv)
	acceptedAtStop := len(load.acceptedIDs())

	// Inventory committed what it processed before it stopped.
	st := testkit.ReadStore(t, filepath.Join(dir, "inventory.db"), inventory.OpenStore, (*inventory.Store).Stats)
	reservations := st.Reserved + st.Rejected
	committedOffsets := testkit.ReadGroupOffsets(t, []string{brokers}, invGroup, events.TopicOrderPlaced).Committed
	t.Logf("at stop: %d orders accepted, inventory made %d reservations, committed %d order-placed records",
		acceptedAtStop, reservations, committedOffsets)
	if lag := int64(reservations) - committedOffsets; lag < 0 || lag > partitions {
		t.Errorf("inventory committed %d records but made %d reservations: want the commits to trail by 0..%d (records in flight)",
			committedOffsets, reservations, partitions)
	}

	inv, ord = startInventory(), startOrder()
	load.waitAccepted(t, acceptedAtStop+50, 20*time.Second)
	load.stop()
	ids := load.acceptedIDs()
	t.Logf("%d orders accepted in all (%d requests failed while the services were down)", len(ids), load.failures())

	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	pending := append([]string(nil), ids...)
	for len(pending) > 0 {
		var still []string
		for _, id := range pending {
			var o struct{ Status string }
			if code := getJSON(t, client, orderURL+"/orders/"+id, &o); code != http.StatusOK || o.Status != "CONFIRMED" {
				still = append(still, id)
			}
		}
		pending = still
		if len(pending) > 0 && time.Now().After(deadline) {
			t.Fatalf("%d/%d accepted orders not CONFIRMED 60s after the restart, e.g. %s; order log:\n%s", len(pending), len(ids), pending[0], ord.Output())
		}
		if len(pending) > 0 {
			time.Sleep(200 * time.Millisecond) // poll interval
		}
	}
	checkOneStockMovement(t, client, invURL, ids)
	testkit.StopClean(t, 20*time.Second, ord, inv)
}

// checkOneStockMovement fails the test unless inventory-service at invURL
// has a reservation with exactly one stock movement for every order in ids
// (stopping at the first one that has not).
func checkOneStockMovement(t *testing.T, client *http.Client, invURL string, ids []string) {
	t.Helper()
	for _, id := range ids {
		var r struct {
			StockMovements int `json:"stock_movements"`
		}
		if code := getJSON(t, client, invURL+"/reservations/"+id, &r); code != http.StatusOK || r.StockMovements != 1 {
			t.Fatalf("order %s: reservation %d with %d stock movements, want exactly 1", id, code, r.StockMovements)
		}
	}
}

// startBinary starts binary name (built into bin by testkit.BuildBinaries)
// with args and waits up to 20 s until baseURL/healthz answers 200.
func startBinary(t *testing.T, bin, name, baseURL string, args ...string) *testkit.Process {
	t.Helper()
	p := testkit.StartProcess(t, filepath.Join(bin, name), args...)
	p.WaitHealthy(t, baseURL+"/healthz", 20*time.Second)
	return p
}

// load posts orders from four workers, about 200 a second in all, until
// stopped (at most 5,000 requests, each with a 5 s timeout), and keeps the
// IDs of the orders answered 202.
type load struct {
	cancel   context.CancelFunc
	done     sync.WaitGroup
	mu       sync.Mutex
	accepted []string
	failed   int
}

func startLoad(t *testing.T, baseURL string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	tick := time.NewTicker(5 * time.Millisecond)
	budget := make(chan struct{}, 5000)
	for range cap(budget) {
		budget <- struct{}{}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for range 4 {
		l.done.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				select {
				case <-budget:
				default:
					return
				}
				resp, err := client.Post(baseURL+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
				if err != nil {
					l.mu.Lock()
					l.failed++
					l.mu.Unlock()
					continue
				}
				var o struct{ ID string }
				decErr := json.NewDecoder(resp.Body).Decode(&o)
				resp.Body.Close()
				l.mu.Lock()
				if resp.StatusCode == http.StatusAccepted && decErr == nil && o.ID != "" {
					l.accepted = append(l.accepted, o.ID)
				} else {
					l.failed++
				}
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(func() { l.stop(); tick.Stop(); client.CloseIdleConnections() })
	return l
}

func (l *load) stop() { l.cancel(); l.done.Wait() }

func (l *load) acceptedIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.accepted...)
}

func (l *load) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

func (l *load) waitAccepted(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(l.acceptedIDs()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d/%d orders accepted within %v (%d failures)", len(l.acceptedIDs()), n, timeout, l.failures())
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func getJSON(t *testing.T, c *http.Client, url string, v any) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
	return resp.StatusCode
}
