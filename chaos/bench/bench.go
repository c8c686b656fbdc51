// Package bench measures the harness's own overheads on this machine, in
// one run, and reports them as ratios (absolute numbers move with the
// machine; ratios measured side by side move much less):
//
//   - an HTTP request through Toxiproxy versus direct;
//   - sarama produce (16 goroutines, and 1 goroutine waiting for each ack)
//     and consume on the embedded kfake broker, through a Toxiproxy proxy
//     versus direct;
//   - async order placement versus sync placement on the chaos stack;
//   - the outbox relay's drain rate (20,000 rows) versus the raw producer
//     at 16 goroutines on the same proxy, and the healthy partitions'
//     drain rate while one broker of three is cut versus the full drain.
//
// Everything listens on 127.0.0.1 and every loop is bounded in time
// (Config.Window) and in count.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline-harness/faultline/chaos/faults"
)

// Config bounds a bench run. Zero values take the defaults.
type Config struct {
	// Window is how long each throughput measurement runs. Default 3s.
	Window time.Duration
	// Workers is the concurrency of the closed-loop measurements.
	// Default 16.
	Workers int
	// Messages is how many 1 KB records the consume measurement reads on
	// each path. Default 20000.
	Messages int
	// OutboxOrders is how many async orders the relay drains (half of it
	// in the one-broker-cut drain). Default 20000.
	OutboxOrders int
	// MaxOps caps each closed-loop measurement. Default 2,000,000.
	MaxOps int64
	// Progress receives one line per measurement; nil discards.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = 3 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Messages <= 0 {
		c.Messages = 20000
	}
	if c.OutboxOrders <= 0 {
		c.OutboxOrders = 20000
	}
	if c.MaxOps <= 0 {
		c.MaxOps = 2_000_000
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Measurement is one throughput figure.
type Measurement struct {
	Name      string  `json:"name"`
	Ops       int64   `json:"ops"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	Unit      string  `json:"unit"` // what an op is: req, msg, order
}

func (m Measurement) String() string {
	return fmt.Sprintf("%s %s/s", thousands(m.PerSecond), m.Unit)
}

// Ratio compares two measurements taken in the same run: Value = Num/Base.
type Ratio struct {
	What  string      `json:"what"`
	Base  Measurement `json:"base"`
	Num   Measurement `json:"compared"`
	Value float64     `json:"ratio"`
}

func ratio(what string, num, base Measurement) Ratio {
	r := Ratio{What: what, Base: base, Num: num}
	if base.PerSecond > 0 {
		r.Value = num.PerSecond / base.PerSecond
	}
	return r
}

// Report is a bench run.
type Report struct {
	Date      time.Time     `json:"date"`
	GoVersion string        `json:"go"`
	OS        string        `json:"os"`
	Arch      string        `json:"arch"`
	CPUs      int           `json:"cpus"`
	Window    time.Duration `json:"window"`
	Workers   int           `json:"workers"`
	Ratios    []Ratio       `json:"ratios"`
	Elapsed   time.Duration `json:"elapsed"`
}

// Run takes every measurement in turn and returns the ratios.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	begin := time.Now()
	rep := &Report{
		Date: begin.UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), Window: cfg.Window, Workers: cfg.Workers,
	}
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	steps := []func(context.Context, *env, Config) ([]Ratio, error){httpRatios, kafkaRatios, placementRatios}
	for _, step := range steps {
		rs, err := step(ctx, e, cfg)
		if err != nil {
			return nil, err
		}
		rep.Ratios = append(rep.Ratios, rs...)
	}
	rep.Elapsed = time.Since(begin)
	return rep, nil
}

// env is an in-process Toxiproxy server for the pairs that need one.
type env struct {
	inj  *faults.Injector
	stop func() error
	seq  atomic.Int64
}

func newEnv() (*env, error) {
	logger := zerolog.New(io.Discard).Level(zerolog.ErrorLevel)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for toxiproxy: %w", err)
	}
	hs := &http.Server{Handler: srv.Routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return &env{
		inj:  faults.NewInjector("http://" + ln.Addr().String()),
		stop: func() error { return errors.Join(hs.Close(), srv.Collection.Clear()) },
	}, nil
}

func (e *env) close() { _ = e.stop() }

// proxy creates a Toxiproxy proxy to upstream and returns its address.
func (e *env) proxy(ctx context.Context, upstream string) (string, error) {
	name := fmt.Sprintf("bench-%d", e.seq.Add(1))
	p, err := e.inj.CreateProxy(ctx, name, "127.0.0.1:0", upstream)
	if err != nil {
		return "", err
	}
	return p.Listen, nil
}

// closedLoop runs op on workers goroutines, starting ops until window
// elapses or maxOps ops were started, lets the ops in flight finish (under
// ctx), and counts the ops that succeeded over the time until the last one
// ended. An op is never cut by the window: on a loaded machine one op can
// outlast a short window, and cutting it would count nothing. More than 1%
// failures, or none succeeding, is an error: the figure would mean nothing.
func closedLoop(ctx context.Context, name, unit string, workers int, window time.Duration, maxOps int64, op func(ctx context.Context, i int64) error) (Measurement, error) {
	startCtx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var started, ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	begin := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for startCtx.Err() == nil {
				i := started.Add(1)
				if i > maxOps {
					return
				}
				if err := op(ctx, i); err != nil {
					if ctx.Err() != nil {
						return // cut by the caller: neither success nor failure
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(begin).Seconds()
	m := Measurement{Name: name, Unit: unit, Ops: ok.Load(), Seconds: secs, PerSecond: float64(ok.Load()) / secs}
	if n := failed.Load(); n > 0 && (m.Ops == 0 || float64(n) > 0.01*float64(m.Ops)) {
		return m, fmt.Errorf("%s: %d of %d ops failed, first: %v", name, n, n+m.Ops, firstErr.Load())
	}
	if m.Ops == 0 {
		return m, fmt.Errorf("%s: no op completed in %s", name, window)
	}
	return m, nil
}

// rounds is how many slices each side of an alternating pair is measured
// in: A, B, A, B, ... so that a change of background load (other
// processes on a small machine) hits both sides alike.
const rounds = 6

// alternate measures a and b in interleaved rounds of cfg.Window/rounds
// each and sums them: each side gets cfg.Window in total.
func alternate(ctx context.Context, cfg Config, unit, nameA, nameB string, workers int, a, b func(ctx context.Context, i int64) error) (Measurement, Measurement, error) {
	ma, mb := Measurement{Name: nameA, Unit: unit}, Measurement{Name: nameB, Unit: unit}
	slice := cfg.Window / rounds
	for r := 0; r < rounds; r++ {
		for _, side := range []struct {
			m  *Measurement
			op func(context.Context, int64) error
		}{{&ma, a}, {&mb, b}} {
			m, err := closedLoop(ctx, side.m.Name, unit, workers, slice, cfg.MaxOps, side.op)
			if err != nil {
				return ma, mb, err
			}
			side.m.Ops += m.Ops
			side.m.Seconds += m.Seconds
		}
	}
	for _, m := range []*Measurement{&ma, &mb} {
		m.PerSecond = float64(m.Ops) / m.Seconds
		fmt.Fprintf(cfg.Progress, "  %-52s %s\n", m.Name, m)
	}
	return ma, mb, nil
}

// httpRatios: a trivial handler, direct and through Toxiproxy.
func httpRatios(ctx context.Context, e *env, cfg Config) ([]Ratio, error) {
	target, err := newHTTPTarget()
	if err != nil {
		return nil, err
	}
	defer target.close()
	proxied, err := e.proxy(ctx, target.addr)
	if err != nil {
		return nil, err
	}
	getter := func(addr string) (func(context.Context, int64) error, func()) {
		c := httpClient(cfg.Workers)
		url := "http://" + addr + "/"
		return func(ctx context.Context, _ int64) error { return get(ctx, c, url) }, c.CloseIdleConnections
	}
	directOp, closeDirect := getter(target.addr)
	defer closeDirect()
	proxiedOp, closeProxied := getter(proxied)
	defer closeProxied()
	direct, viaProxy, err := alternate(ctx, cfg, "req", "HTTP GET direct", "HTTP GET through Toxiproxy", cfg.Workers, directOp, proxiedOp)
	if err != nil {
		return nil, err
	}
	return []Ratio{ratio(fmt.Sprintf("HTTP request, %d workers: through Toxiproxy / direct", cfg.Workers), viaProxy, direct)}, nil
}

type httpTarget struct {
	addr string
	srv  *http.Server
}

func newHTTPTarget() (*httpTarget, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := []byte(`{"status":"ok"}`)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	return &httpTarget{addr: ln.Addr().String(), srv: srv}, nil
}

func (t *httpTarget) close() { _ = t.srv.Close() }

func httpClient(workers int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = workers*2, workers*2
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

func post(ctx context.Context, c *http.Client, url string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: status %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

// thousands formats v with thousands separators and no decimals (one
// decimal under 100).
func thousands(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var b []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return string(b)
}
