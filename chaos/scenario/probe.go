package scenario

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-harness/faultline/chaos/stack"
)

// Defaults of the health probe (Options.ProbeInterval, ProbeTimeout).
const (
	DefaultProbeInterval = 100 * time.Millisecond
	DefaultProbeTimeout  = 2 * time.Second
)

// Probe measures whether order-sync's endpoints that have nothing to do
// with inventory stay healthy during a run: GET /healthz every
// Options.ProbeInterval, each bounded by Options.ProbeTimeout, sent open
// loop (a slow probe does not delay the next). With each probe it reads
// order-sync's GET /stats (which bypasses its worker pool) for the load
// behind the numbers: requests in flight and waiting, goroutines, and
// inventory calls in flight.
type Probe struct {
	Target     string                 `json:"target"` // "GET /healthz"
	IntervalMs float64                `json:"interval_ms"`
	TimeoutMs  float64                `json:"timeout_ms"`
	Phases     map[string]*ProbePhase `json:"phases"`
}

// ProbePhase summarises the probes sent during one phase. Latencies
// include failed probes (a probe that timed out counts its timeout), so
// p99 shows a hung endpoint.
type ProbePhase struct {
	Probes   int     `json:"probes"`
	Failures int     `json:"failures"` // transport error, timeout or not 200
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	// From order-sync's /stats, the largest value read during the phase.
	MaxInFlightRequests  int64 `json:"max_in_flight_requests"`
	MaxWaitingRequests   int64 `json:"max_waiting_requests"`
	MaxGoroutines        int   `json:"max_goroutines"`
	MaxInventoryInFlight int64 `json:"max_inventory_in_flight"`
	// Breaker is the breaker states seen ("closed", "open", "half-open";
	// "off" without a breaker), in the order first seen.
	Breaker []string `json:"breaker_states,omitempty"`
}

// AnswerStats summarises one kind of answer (see PhaseResult.Answers).
type AnswerStats struct {
	Count int     `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// syncLoad is the part of order-service GET /stats the probe reads.
type syncLoad struct {
	InFlight   int64 `json:"in_flight_requests"`
	Waiting    int64 `json:"waiting_requests"`
	Goroutines int   `json:"goroutines"`
	Inventory  *struct {
		InFlight int64  `json:"in_flight"`
		Breaker  string `json:"breaker"`
	} `json:"inventory"`
}

type probeSample struct {
	at      time.Duration // since the load started
	latency time.Duration
	ok      bool
	load    *syncLoad // nil when /stats failed
}

// prober runs the probe until stop.
type prober struct {
	url      string
	start    time.Time
	interval time.Duration
	timeout  time.Duration
	client   *http.Client
	cancel   context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	samples []probeSample
}

// startProbe starts probing st's order-sync from start (the load's start).
func startProbe(ctx context.Context, st *stack.Stack, start time.Time, opts Options) *prober {
	p := &prober{url: st.OrderSyncURL, start: start, interval: opts.ProbeInterval, timeout: opts.ProbeTimeout, done: make(chan struct{})}
	if p.interval <= 0 {
		p.interval = DefaultProbeInterval
	}
	if p.timeout <= 0 {
		p.timeout = DefaultProbeTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	p.client = &http.Client{Transport: tr}
	ctx, p.cancel = context.WithCancel(ctx)
	go p.loop(ctx)
	return p
}

// loop sends one probe per interval until ctx ends, then waits for the
// probes in flight (each bounded by the probe timeout).
func (p *prober) loop(ctx context.Context) {
	defer close(p.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	if err := sleepUntil(ctx, p.start); err != nil {
		return
	}
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		wg.Go(func() {
			smp := p.probe(ctx)
			p.mu.Lock()
			p.samples = append(p.samples, smp)
			p.mu.Unlock()
		})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe is one GET /healthz and, alongside, one GET /stats, each with its
// own deadline (kept even when ctx ends, so the last probes finish
// honestly): a hung /healthz must not cost the load reading.
func (p *prober) probe(ctx context.Context) probeSample {
	ctx = context.WithoutCancel(ctx)
	loaded := make(chan *syncLoad, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		var l syncLoad
		if code, err := getJSON(sctx, p.client, p.url+"/stats", &l); err == nil && code == http.StatusOK {
			loaded <- &l
			return
		}
		loaded <- nil
	}()
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	begin := time.Now()
	smp := probeSample{at: begin.Sub(p.start)}
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, p.url+"/healthz", nil)
	if err == nil {
		var resp *http.Response
		if resp, err = p.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			smp.ok = resp.StatusCode == http.StatusOK
		}
	}
	smp.latency = time.Since(begin)
	smp.load = <-loaded
	return smp
}

// stop ends the probe and waits for the probes in flight. Safe to call
// more than once.
func (p *prober) stop() {
	p.cancel()
	<-p.done
	p.client.CloseIdleConnections()
}

// summary summarises the probes by phase. Call it after stop.
func (p *prober) summary(sch Schedule) *Probe {
	p.mu.Lock()
	samples := append([]probeSample(nil), p.samples...)
	p.mu.Unlock()
	sort.Slice(samples, func(i, j int) bool { return samples[i].at < samples[j].at })

	res := &Probe{Target: "GET /healthz", IntervalMs: float64(p.interval.Milliseconds()), TimeoutMs: float64(p.timeout.Milliseconds()), Phases: map[string]*ProbePhase{}}
	hists := map[string]*hdrhistogram.Histogram{}
	for _, ph := range Phases {
		res.Phases[ph] = &ProbePhase{}
		hists[ph] = newHist()
	}
	for _, s := range samples {
		ph := phaseAt(s.at, sch)
		pp := res.Phases[ph]
		pp.Probes++
		if !s.ok {
			pp.Failures++
		}
		_ = hists[ph].RecordValue(max(1, s.latency.Microseconds()))
		if l := s.load; l != nil {
			pp.MaxInFlightRequests = max(pp.MaxInFlightRequests, l.InFlight)
			pp.MaxWaitingRequests = max(pp.MaxWaitingRequests, l.Waiting)
			pp.MaxGoroutines = max(pp.MaxGoroutines, l.Goroutines)
			if l.Inventory != nil {
				pp.MaxInventoryInFlight = max(pp.MaxInventoryInFlight, l.Inventory.InFlight)
				if b := l.Inventory.Breaker; b != "" && !contains(pp.Breaker, b) {
					pp.Breaker = append(pp.Breaker, b)
				}
			}
		}
	}
	for _, ph := range Phases {
		h := hists[ph]
		res.Phases[ph].P50Ms = ms(h.ValueAtQuantile(50))
		res.Phases[ph].P99Ms = ms(h.ValueAtQuantile(99))
		res.Phases[ph].MaxMs = ms(h.Max())
	}
	return res
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// phaseAt is the phase a request sent at offset at belongs to.
func phaseAt(at time.Duration, sch Schedule) string {
	switch s := at.Seconds(); {
	case s >= sch.FaultEnd:
		return PhaseRecovery
	case s >= sch.FaultStart:
		return PhaseFault
	}
	return PhaseBaseline
}

// answerKey names a sample's answer: "201", "503 circuit_open",
// "timeout", "shed".
func answerKey(s sample) string {
	switch {
	case s.status == 0 && s.class != "":
		return s.class
	case s.code != "":
		return fmt.Sprintf("%d %s", s.status, s.code)
	}
	return fmt.Sprint(s.status)
}

// addAnswers fills each phase's Answers: the latency of each kind of
// answer, so a fail-fast 503 shows its own p99 next to the slow ones.
func addAnswers(mr *ModeResult, samples []sample, sch Schedule) {
	hists := map[string]map[string]*hdrhistogram.Histogram{}
	for _, s := range samples {
		if s.class == ClassShed {
			continue
		}
		ph := phaseAt(s.sentAt, sch)
		if hists[ph] == nil {
			hists[ph] = map[string]*hdrhistogram.Histogram{}
		}
		k := answerKey(s)
		if hists[ph][k] == nil {
			hists[ph][k] = newHist()
		}
		_ = hists[ph][k].RecordValue(max(1, s.latency.Microseconds()))
	}
	for ph, byKey := range hists {
		p := mr.Phases[ph]
		if p == nil {
			continue
		}
		p.Answers = map[string]*AnswerStats{}
		for k, h := range byKey {
			p.Answers[k] = &AnswerStats{Count: int(h.TotalCount()), P50Ms: ms(h.ValueAtQuantile(50)), P99Ms: ms(h.ValueAtQuantile(99)), MaxMs: ms(h.Max())}
		}
	}
}

// writeResilience prints, for scenarios that set order-sync up (Setup),
// sync's answers by kind per phase and the health probe of order-sync.
func (r *Result) writeResilience(w io.Writer) {
	if r.Setup == "" {
		return // the plain sync-vs-async scenarios: the main table says it all
	}
	fmt.Fprintf(w, "\norder-sync setup: %s\n", r.Setup)
	if sync := r.Modes[ModeSync]; sync != nil && hasAnswers(sync) {
		fmt.Fprintln(w, "\nsync answers by kind (latency of that kind only)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\tanswer\tcount\tp50 ms\tp99 ms\tmax ms\t")
		for _, ph := range Phases {
			p := sync.Phases[ph]
			keys := make([]string, 0, len(p.Answers))
			for k := range p.Answers {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				a := p.Answers[k]
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t\n", ph, k, a.Count, a.P50Ms, a.P99Ms, a.MaxMs)
			}
		}
		tw.Flush()
	}
	if pr := r.SyncProbe; pr != nil {
		fmt.Fprintf(w, "\norder-sync %s probe every %.0f ms (timeout %.0f ms), with its /stats\n", pr.Target, pr.IntervalMs, pr.TimeoutMs)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\tprobes\tfailed\tp50 ms\tp99 ms\tmax in-flight\tmax waiting\tmax goroutines\tmax inv calls\tbreaker\t")
		for _, ph := range Phases {
			p := pr.Phases[ph]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%s\t\n", ph, p.Probes, p.Failures, p.P50Ms, p.P99Ms,
				p.MaxInFlightRequests, p.MaxWaitingRequests, p.MaxGoroutines, p.MaxInventoryInFlight, strings.Join(p.Breaker, ">"))
		}
		tw.Flush()
	}
}

func hasAnswers(mr *ModeResult) bool {
	for _, p := range mr.Phases {
		if len(p.Answers) > 0 {
			return true
		}
	}
	return false
}
