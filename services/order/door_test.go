package order

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/web"
)

// TestOversizedOrdersNeverReachTheOutbox is issue 9's "tried as a new
// user would", against an in-process Kafka: orders with a ~1 MiB SKU (just
// under and just over the body limit) get 400 and 413 and leave nothing in
// the outbox, and the 100 normal orders placed after them are all
// published (before the door checked bounds, such an order was accepted
// with 202 and its record stalled the relay).
func TestOversizedOrdersNeverReachTheOutbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	base, s, kcfg := runAsyncWithKafka(t)
	placed := consumeAll(t, kcfg, events.TopicOrderPlaced)

	post := func(body string) httpResult {
		t.Helper()
		resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return httpResult{resp.StatusCode, resp.Header, readAll(t, resp.Body)}
	}
	for _, tc := range []struct {
		skuLen int
		status int
		code   string
	}{{web.MaxBodyBytes - 100, 400, "invalid_request"}, {web.MaxBodyBytes, 413, "body_too_large"}} {
		res := post(`{"sku":"` + strings.Repeat("S", tc.skuLen) + `","quantity":1}`)
		if res.status != tc.status || res.errCode(t) != tc.code {
			t.Fatalf("order with a %d-byte SKU: %d %.200s, want %d %s", tc.skuLen, res.status, res.body, tc.status, tc.code)
		}
	}
	if orders, outbox := counts(t, s.Store()); orders != 0 || outbox != 0 {
		t.Fatalf("after the oversized orders: %d orders, %d outbox rows; want none", orders, outbox)
	}

	const n = 100
	want := make(map[string]bool, n)
	for i := range n {
		res := post(`{"sku":"SKU-1","quantity":1}`)
		if res.status != http.StatusAccepted {
			t.Fatalf("order %d: %d %s", i, res.status, res.body)
		}
		want[res.order(t).ID] = true
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		for {
			select {
			case m := <-placed:
				delete(want, string(m.Key))
				continue
			default:
			}
			break
		}
		return len(want) == 0, fmt.Sprintf("order-placed published for %d/%d orders", n-len(want), n)
	})
}
