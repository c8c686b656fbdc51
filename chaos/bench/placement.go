package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
)

// orderStats is the part of order-service GET /stats the bench reads.
type orderStats struct {
	Orders          map[string]int `json:"orders"`
	OutboxBacklog   int            `json:"outbox_backlog"`
	PublishFailures int64          `json:"outbox_publish_failures"`
}

func readOrderStats(ctx context.Context, c *http.Client, url string) (orderStats, error) {
	var s orderStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET %s/stats: status %d", url, resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitFor polls order-service /stats every 20 ms until cond holds or
// timeout elapses.
func waitFor(ctx context.Context, c *http.Client, url string, timeout time.Duration, what string, cond func(orderStats) bool) (orderStats, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := readOrderStats(ctx, c, url)
		if err == nil && cond(s) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: not within %s (last stats %+v, err %v)", what, timeout, s, err)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// placementRatios runs the chaos stack (embedded lane) and measures:
// orders accepted per second by order-sync (201) and order-async (202)
// under the same closed-loop load; async orders completed end to end;
// the outbox relay's drain rate after a Kafka cut, against the raw
// producer at cfg.Workers goroutines on the same proxy, measured just
// before; and, on a three-broker stack, the healthy partitions' drain
// rate while one broker is cut, against the full drain.
func placementRatios(ctx context.Context, e *env, cfg Config) ([]Ratio, error) {
	st, err := stack.Start(ctx, stack.Config{Catalog: map[string]int{"SKU-1": 1 << 30}})
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	defer st.Close()
	c := httpClient(cfg.Workers)
	defer c.CloseIdleConnections()
	body := []byte(`{"sku":"SKU-1","quantity":1}`)
	place := func(name, url string, want int) (Measurement, error) {
		m, err := closedLoop(ctx, name, "order", cfg.Workers, cfg.Window, cfg.MaxOps, func(ctx context.Context, _ int64) error {
			return post(ctx, c, url+"/orders", body, want)
		})
		fmt.Fprintf(cfg.Progress, "  %-52s %s\n", name, m)
		return m, err
	}
	syncM, err := place("order placement, sync (201 after inventory)", st.OrderSyncURL, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	asyncStart := time.Now()
	asyncM, err := place("order placement, async (202 from the outbox)", st.OrderAsyncURL, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	// End to end: until every accepted async order is final.
	if _, err := waitFor(ctx, c, st.OrderAsyncURL, time.Minute, "async orders settle", func(s orderStats) bool {
		return s.Orders["PENDING"] == 0 && s.OutboxBacklog == 0
	}); err != nil {
		return nil, err
	}
	e2e := Measurement{Name: "async orders completed end to end", Unit: "order", Ops: asyncM.Ops, Seconds: time.Since(asyncStart).Seconds()}
	e2e.PerSecond = float64(e2e.Ops) / e2e.Seconds
	fmt.Fprintf(cfg.Progress, "  %-52s %s\n", e2e.Name, e2e)
	// sync orders are final when answered: its accepted rate is its
	// completed rate.

	// The consumers (inventory, notification) stay cut from Kafka while
	// the raw producer and the relay are measured: they and order-service's
	// outcome consumer would otherwise share the CPUs (and order-service's
	// one SQLite connection) with one side more than the other.
	for _, p := range []string{stack.ProxyInventoryKafka, stack.ProxyNotificationKafka} {
		undoConsumer, err := st.Faults.Down(ctx, p)
		if err != nil {
			return nil, err
		}
		defer func() { _ = undoConsumer(context.WithoutCancel(ctx)) }()
	}
	raw, err := rawProducerThroughOrderProxy(ctx, st, cfg)
	if err != nil {
		return nil, err
	}
	relay, err := relayDrain(ctx, st, c, cfg)
	if err != nil {
		return nil, err
	}
	st.Close() // before the three-broker stack starts: one stack at a time on the CPUs
	cut, err := oneBrokerCutDrain(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	return []Ratio{
		ratio(fmt.Sprintf("order placement accepted, %d workers: async (202) / sync (201)", cfg.Workers), asyncM, syncM),
		ratio("orders completed end to end (CONFIRMED/REJECTED): async / sync", e2e, syncM),
		ratio(fmt.Sprintf("outbox relay drain of %d rows after a Kafka cut / raw producer (%d goroutines, same proxy)", cfg.OutboxOrders, cfg.Workers), relay, raw),
		ratio("outbox relay drain, healthy partitions while one broker of three is cut / all partitions healthy", cut, relay),
	}, nil
}

// relayDrain cuts order-async from Kafka, places cfg.OutboxOrders async
// orders (they wait in the outbox), restores the link (the consumers'
// stay cut, so only the relay works) and measures how fast the relay empties
// the outbox, from its first publish to empty.
func relayDrain(ctx context.Context, st *stack.Stack, c *http.Client, cfg Config) (Measurement, error) {
	name := fmt.Sprintf("outbox relay drain, %d rows", cfg.OutboxOrders)
	undo, err := st.Faults.Down(ctx, stack.ProxyOrderKafka)
	if err != nil {
		return Measurement{}, err
	}
	restored := false
	defer func() {
		if !restored {
			_ = undo(context.WithoutCancel(ctx))
		}
	}()
	if _, err := fillOutbox(ctx, c, st.OrderAsyncURL, cfg.OutboxOrders, cfg); err != nil {
		return Measurement{}, err
	}
	before, err := waitFor(ctx, c, st.OrderAsyncURL, 30*time.Second, "outbox filled", func(s orderStats) bool {
		return s.OutboxBacklog >= cfg.OutboxOrders
	})
	if err != nil {
		return Measurement{}, err
	}
	restored = true
	restoredAt := time.Now()
	if err := undo(ctx); err != nil {
		return Measurement{}, err
	}
	first, err := waitFor(ctx, c, st.OrderAsyncURL, time.Minute, "relay starts publishing", func(s orderStats) bool {
		return s.OutboxBacklog < before.OutboxBacklog
	})
	if err != nil {
		return Measurement{}, err
	}
	t0 := time.Now()
	if first.OutboxBacklog == 0 {
		// The whole backlog drained between two polls (a small OutboxOrders
		// on a fast relay): count every row from the moment the link came
		// back, reconnection included, rather than 0 rows in 0 s.
		first, t0 = before, restoredAt
	}
	last, err := waitFor(ctx, c, st.OrderAsyncURL, time.Minute, "outbox drained", func(s orderStats) bool {
		return s.OutboxBacklog == 0
	})
	if err != nil {
		return Measurement{}, err
	}
	if n := last.PublishFailures - first.PublishFailures; n > 0 {
		name += fmt.Sprintf(" (%d failed publish rounds while draining)", n)
	}
	m := Measurement{Name: name, Unit: "msg", Ops: int64(first.OutboxBacklog), Seconds: time.Since(t0).Seconds()}
	if m.Seconds > 0 {
		m.PerSecond = float64(m.Ops) / m.Seconds
	}
	fmt.Fprintf(cfg.Progress, "  %-52s %s\n", name, m)
	return m, nil
}
