package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
)

// TestSIGKILLMidDrainPublishesEveryRow: order-service accepts 4,000 orders
// while Kafka is not there yet, Kafka starts, and order-service is
// SIGKILLed while its relay drains that backlog. After a restart on the
// same database every row is published (each order's order-placed record
// is on the topic: duplicates only as at-least-once re-sends), every order
// is final, and inventory has exactly one stock movement per order.
func TestSIGKILLMidDrainPublishesEveryRow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service binaries")
	}
	const orders, partitions = 4000, 3
	bin := testkit.BuildBinaries(t, "order-service", "inventory-service")
	kport := testkit.FreePort(t)
	brokers := fmt.Sprintf("127.0.0.1:%d", kport)
	dir := t.TempDir()
	orderAddr, invAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	orderURL, invURL := "http://"+orderAddr, "http://"+invAddr
	startOrder := func() *testkit.Process {
		return startBinary(t, bin, "order-service", orderURL,
			"-mode", "async", "-http-addr", orderAddr, "-db", filepath.Join(dir, "orders.db"), "-kafka-brokers", brokers,
			"-group", "order-sigkill", "-publish-timeout", "2s", "-log-level", "warn")
	}

	ord := startOrder()
	ids := postOrders(t, orderURL, orders)

	testkit.StartKafka(t, partitions, events.AllTopics, kfake.Ports(kport))

	// Kill once the relay has published some of the backlog.
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Published int64 `json:"outbox_published"`
		}
		if code := getJSON(t, client, orderURL+"/stats", &st); code == http.StatusOK && st.Published >= orders/10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay published under %d rows in 60 s\n%s", orders/10, ord.Output())
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
	ord.Signal(t, syscall.SIGKILL)
	if code := ord.Wait(t, 20*time.Second); code != -1 {
		t.Fatalf("order-service exited %d after SIGKILL, want -1 (killed)\n%s", code, ord.Output())
	}
	backlog := testkit.ReadStore(t, filepath.Join(dir, "orders.db"), order.OpenStore, (*order.Store).OutboxBacklog)
	t.Logf("SIGKILL with %d of %d rows unpublished", backlog, orders)
	if backlog == 0 || backlog == orders {
		t.Fatalf("backlog %d at the kill: not mid-drain, the test proves nothing", backlog)
	}

	inv := startBinary(t, bin, "inventory-service", invURL,
		"-http-addr", invAddr, "-db", filepath.Join(dir, "inventory.db"), "-kafka-brokers", brokers,
		"-group", "inventory-sigkill", "-log-level", "warn")
	ord = startOrder()
	deadline = time.Now().Add(2 * time.Minute)
	for {
		var st struct {
			Orders  map[string]int `json:"orders"`
			Backlog int            `json:"outbox_backlog"`
			Parked  int            `json:"outbox_parked"`
		}
		code := getJSON(t, client, orderURL+"/stats", &st)
		if code == http.StatusOK && st.Parked != 0 {
			t.Fatalf("%d rows parked after a SIGKILL", st.Parked)
		}
		if code == http.StatusOK && st.Backlog == 0 && st.Orders["PENDING"] == 0 {
			if final := st.Orders["CONFIRMED"] + st.Orders["REJECTED"]; final != orders {
				t.Fatalf("%d orders final, want %d: %v", final, orders, st.Orders)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every order final 2 min after the restart: %+v\n%s", st, ord.Output())
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}

	keys, records := topicKeys(t, brokers, events.TopicOrderPlaced)
	t.Logf("order-placed: %d records for %d orders (%d at-least-once re-sends)", records, len(keys), records-len(keys))
	for _, id := range ids {
		if keys[id] == 0 {
			t.Fatalf("order %s: no order-placed record on the topic", id)
		}
	}
	checkOneStockMovement(t, client, invURL, ids)
	testkit.StopClean(t, 20*time.Second, ord, inv)
}

// postOrders places n async orders from 8 workers and returns their IDs;
// every one must be answered 202.
func postOrders(t *testing.T, baseURL string, n int) []string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	ids := make([]string, n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				var o struct{ ID string }
				resp, err := client.Post(baseURL+"/orders", "application/json", strings.NewReader(`{"sku":"SKU-1","quantity":1}`))
				if err == nil {
					if resp.StatusCode != http.StatusAccepted {
						err = fmt.Errorf("POST /orders: %s", resp.Status)
					} else if err = decodeJSON(resp, &o); err == nil {
						ids[i] = o.ID
					}
					resp.Body.Close()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return ids
}

// topicKeys reads every partition of topic to its end and counts the
// records per key.
func topicKeys(t *testing.T, brokers, topic string) (map[string]int, int) {
	t.Helper()
	sc, err := messaging.SaramaConfig(messaging.Config{Brokers: []string{brokers}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sarama.NewClient([]string{brokers}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	keys, total := map[string]int{}, 0
	for _, p := range parts {
		end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				keys[string(m.Key)]++
				total++
				done = m.Offset >= end-1
			case <-timeout:
				t.Fatalf("%s/%d: not read to offset %d within 30 s", topic, p, end)
			}
		}
		pc.Close()
	}
	return keys, total
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
