package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunQuick takes every measurement with tiny windows: the pipeline
// works end to end and every ratio is a real number (not a benchmark).
func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Toxiproxy, kfake and the chaos stack (~15 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	// 900 ms: rounds of 150 ms per side (closedLoop also lets an op in
	// flight finish, so a loaded machine's slow op is counted, not cut).
	rep, err := Run(ctx, Config{Window: 900 * time.Millisecond, Workers: 4, Messages: 500, OutboxOrders: 100, Progress: &progress})
	if err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	if len(rep.Ratios) != 8 {
		t.Fatalf("got %d ratios, want 8:\n%+v", len(rep.Ratios), rep.Ratios)
	}
	for _, r := range rep.Ratios {
		if r.Value <= 0 || r.Base.PerSecond <= 0 || r.Num.PerSecond <= 0 {
			t.Errorf("%s: ratio %v of %v and %v", r.What, r.Value, r.Num, r.Base)
		}
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "through Toxiproxy / direct") || !strings.Contains(table.String(), "outbox relay") {
		t.Errorf("table lacks rows:\n%s", table.String())
	}
	t.Log(table.String())
}

func TestClosedLoopFailsOnErrors(t *testing.T) {
	_, err := closedLoop(context.Background(), "always failing", "op", 2, 50*time.Millisecond, 1000, func(context.Context, int64) error {
		return fmt.Errorf("boom")
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("closedLoop = %v, want the ops' error", err)
	}
	m, err := closedLoop(context.Background(), "bounded", "op", 4, time.Minute, 100, func(context.Context, int64) error { return nil })
	if err != nil || m.Ops != 100 {
		t.Fatalf("closedLoop capped at 100 ops = %d, %v", m.Ops, err)
	}
}

// TestClosedLoopLetsOpsFinish: an op longer than the window is counted,
// not cut (on a loaded machine one op can outlast a short window).
func TestClosedLoopLetsOpsFinish(t *testing.T) {
	m, err := closedLoop(context.Background(), "slow", "op", 2, 5*time.Millisecond, 1000, func(ctx context.Context, _ int64) error {
		select {
		case <-time.After(50 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil || m.Ops != 2 || m.Seconds < 0.05 {
		t.Fatalf("closedLoop with 50 ms ops in a 5 ms window = %d ops in %.3fs, %v; want the 2 ops in flight, >= 50 ms", m.Ops, m.Seconds, err)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{12.34: "12.3", 999: "999", 1234: "1,234", 1234567.8: "1,234,568"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkHTTP: one GET per op against a trivial handler, 8 goroutines
// per CPU, direct and through an in-process Toxiproxy proxy.
func BenchmarkHTTP(b *testing.B) {
	ctx := context.Background()
	e, err := newEnv()
	if err != nil {
		b.Fatal(err)
	}
	defer e.close()
	target, err := newHTTPTarget()
	if err != nil {
		b.Fatal(err)
	}
	defer target.close()
	proxied, err := e.proxy(ctx, target.addr)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, addr string }{{"direct", target.addr}, {"toxiproxy", proxied}} {
		b.Run(tc.name, func(b *testing.B) {
			c := httpClient(16)
			defer c.CloseIdleConnections()
			url := "http://" + tc.addr + "/"
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(ctx, c, url); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkProduce: one acknowledged 1 KB record per op (idempotent,
// acks=all, the services' configuration), 8 goroutines per CPU, direct
// and through Toxiproxy.
func BenchmarkProduce(b *testing.B) {
	ctx := context.Background()
	e, err := newEnv()
	if err != nil {
		b.Fatal(err)
	}
	defer e.close()
	k, err := newKafkaTarget(ctx, e)
	if err != nil {
		b.Fatal(err)
	}
	defer k.close()
	for _, tc := range []struct {
		name     string
		viaProxy bool
	}{{"direct", false}, {"proxied", true}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := newProducer(k, tc.viaProxy)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			value := make([]byte, recordSize)
			b.SetBytes(recordSize)
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				var i int64
				for pb.Next() {
					i++
					if err := p.Send(ctx, record(topicProduce, i, value)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
