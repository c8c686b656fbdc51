package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// Options shape a run. Zero values take the defaults.
type Options struct {
	// Duration is the whole load: baseline 25%, fault 40%, recovery 35%.
	// Default 20s; at least 3s.
	Duration time.Duration
	// Rate is requests per second sent to EACH mode. Default 20; 1..2000.
	Rate int
	// Settle is how long accounting waits, after the load ends and the
	// fault is removed, for accepted async orders to reach a final state.
	// Default 30s.
	Settle time.Duration
	// RequestTimeout is the load generator's own per-request deadline.
	// Default 5s.
	RequestTimeout time.Duration
	// MaxInFlight caps concurrent requests per mode; requests over the cap
	// are counted as "shed" and not sent. Default 1000.
	MaxInFlight int
	// SKU and Quantity of every order. Default "SKU-1", 1.
	SKU      string
	Quantity int
	// Progress, when set, is called about once a second during the load
	// and while settling.
	Progress func(Progress)
	// ProbeInterval and ProbeTimeout shape the health probe of order-sync
	// (GET /healthz, see Probe). Defaults 100ms and 2s.
	ProbeInterval, ProbeTimeout time.Duration
	// Seed seeds every random choice the engine makes: the arrival jitter
	// and the fault schedule's (a flapping fault's on/off periods). The
	// result records it; the same seed gives the same arrivals and the
	// same fault steps.
	Seed uint64
	// Jitter spreads each request's send time uniformly over
	// ±Jitter/2 of the interval between requests (0: a metronome, the
	// default; 1: anywhere in the slot). 0..1.
	Jitter float64
	// BrokerDown, when > 0, is how long broker_stop steps keep the broker
	// down before restarting it (default: the scenario's, 5s for
	// kafka-broker-restart).
	BrokerDown time.Duration
	// StackReady, when set, is called once the stack answers, before the
	// load starts (Execute).
	StackReady func(StackInfo)
}

// Progress is a once-a-second snapshot of a run.
type Progress struct {
	Phase        string // baseline, fault, recovery, settle
	Elapsed      time.Duration
	Total        time.Duration
	SyncSent     int64 // completed requests so far
	SyncOK       int64
	AsyncSent    int64
	AsyncOK      int64
	HybridSent   int64
	HybridOK     int64
	AsyncBacklog int // PENDING orders + unpublished outbox rows; -1 unknown
	// Async is the latest /stats sample of the async path (outbox
	// backlog); nil before the first sample.
	Async *StatsSample
	// Lag is the latest consumer lag at the broker per consumer group,
	// keyed by the group's label ("inventory-service"); -1 unknown. Nil
	// before the first reading.
	Lag map[string]int64
}

// Validate checks the options as Run would, without running anything, so a
// caller can reject bad input before starting a stack.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

func (o Options) withDefaults() (Options, error) {
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.Settle == 0 {
		o.Settle = 30 * time.Second
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1000
	}
	if o.SKU == "" {
		o.SKU = "SKU-1"
	}
	if o.Quantity == 0 {
		o.Quantity = 1
	}
	switch {
	case o.Duration < 3*time.Second:
		return o, fmt.Errorf("duration %s is too short: at least 3s", o.Duration)
	case o.Rate < 1 || o.Rate > 2000:
		return o, fmt.Errorf("rate %d out of range 1..2000 requests/s per mode", o.Rate)
	case o.Jitter < 0 || o.Jitter > 1:
		return o, fmt.Errorf("jitter %g out of range 0..1", o.Jitter)
	case o.BrokerDown < 0:
		return o, fmt.Errorf("broker down %s is negative", o.BrokerDown)
	}
	return o, nil
}

// run executes sc against a running stack: load on both modes for
// opts.Duration with the scenario's schedule applied during the fault
// window, then settles and accounts. Execute owns the stack around it.
//
// It returns an error only when the harness fails (bad options, a fault
// could not be applied or removed, a service stopped, ctx ended): poor
// sync numbers are the finding, not an error. Every fault it applied is
// removed before it returns. The result is non-nil once the load was
// planned, error or not: what ran so far (the steps applied), for the
// failure's journal.
func run(ctx context.Context, st *stack.Stack, sc Scenario, opts Options) (*Result, error) {
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = sc.RequestTimeout // zero keeps the default
	}
	if sc.Applies != nil {
		if err := sc.Applies(st); err != nil {
			return nil, fmt.Errorf("%w: %s on the %s lane: %v", ErrNotApplicable, sc.Name, st.Lane, err)
		}
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	faultStart := time.Duration(float64(opts.Duration) * Window.Start)
	faultEnd := time.Duration(float64(opts.Duration) * Window.End)
	count := int(math.Round(opts.Duration.Seconds() * float64(opts.Rate)))
	steps, err := sc.Plan(faultEnd-faultStart, opts.Seed, opts.BrokerDown)
	if err != nil {
		return nil, err
	}
	for i := range steps {
		steps[i].PlannedStart += faultStart.Seconds()
		steps[i].PlannedEnd += faultStart.Seconds()
	}

	res := &Result{
		Scenario: sc.Name, Description: sc.Description, Lane: st.Lane,
		Rate: opts.Rate, Modes: map[string]*ModeResult{},
		Load:  loadSettingsOf(opts),
		Setup: sc.Setup, Actions: sc.Schedule,
	}
	res.Schedule.PlannedFaultStart, res.Schedule.PlannedFaultEnd = faultStart.Seconds(), faultEnd.Seconds()
	res.Schedule.Steps = steps
	res.SyncGuard = readSyncGuard(ctx, st)
	recs := map[string]*recorder{}
	for _, m := range Modes {
		recs[m] = &recorder{}
	}
	urls, codes := orderURLs(st), successCodes

	var fanout *fanoutWatch // notification-service's lag at the broker (Scenario.Fanout)
	if sc.Fanout {
		fanout = newFanoutWatch(ctx, st) // connects before the load's clock starts
		defer fanout.stop()
	}
	start := time.Now().Add(100 * time.Millisecond)
	res.StartedAt = start.UTC()
	probe := startProbe(ctx, st, start, opts) // order-sync's /healthz, until the load ends
	defer probe.stop()
	if fanout != nil {
		fanout.run(ctx, start)
	}
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	var wg sync.WaitGroup
	for i, m := range Modes {
		spec := loadSpec{
			URL: urls[m], SuccessCode: codes[m], Rate: opts.Rate, Count: count, Start: start,
			Timeout: opts.RequestTimeout, MaxInFlight: opts.MaxInFlight, SKU: opts.SKU, Quantity: opts.Quantity,
			Jitter: opts.Jitter, Seed: opts.Seed, Stream: uint64(i + 1),
		}
		client := newLoadClient(opts.MaxInFlight)
		defer client.CloseIdleConnections()
		wg.Add(1)
		go func() { defer wg.Done(); generate(loadCtx, spec, client, recs[m]) }()
	}

	// Service-state sampler (samplesPerSecond) and progress (once a second).
	// Own transports, closed when run returns: a pooled connection that
	// never carried a request would hold the services' graceful shutdown.
	stats := &http.Client{Timeout: time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer stats.CloseIdleConnections()
	sampler := newStatsSampler(stats, st, start)
	lags := newLagSampler(st, start)
	defer lags.close()
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); lags.run(lagCtx) }()
	defer func() { stopLag(); <-lagDone }()
	phase := PhaseBaseline
	var phaseMu sync.Mutex
	samplerCtx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(time.Second / samplesPerSecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-samplerCtx.Done():
				return
			case now := <-tick.C:
				async := sampler.sample(samplerCtx)
				b := async.Backlog()
				if opts.Progress != nil && n%samplesPerSecond == 0 {
					phaseMu.Lock()
					p := phase
					phaseMu.Unlock()
					pr := Progress{
						Phase: p, Elapsed: now.Sub(start), Total: opts.Duration,
						SyncSent: recs[ModeSync].sent.Load(), SyncOK: recs[ModeSync].ok.Load(),
						AsyncSent: recs[ModeAsync].sent.Load(), AsyncOK: recs[ModeAsync].ok.Load(),
						HybridSent: recs[ModeHybrid].sent.Load(), HybridOK: recs[ModeHybrid].ok.Load(),
						AsyncBacklog: b, Async: &async,
					}
					if l, ok := lags.latest(); ok {
						pr.Lag = lags.labelled(l)
					}
					opts.Progress(pr)
				}
			}
		}
	}()
	setPhase := func(p string) { phaseMu.Lock(); phase = p; phaseMu.Unlock() }
	stopAll := func() { cancelLoad(); wg.Wait(); stopSampler(); <-samplerDone }
	// keepPartial, after stopAll, fills res with what was measured when ctx
	// ended (Ctrl-C): the phases and seconds so far, no accounting.
	keepPartial := func() {
		if ctx.Err() == nil {
			return
		}
		s := &res.Schedule
		s.DurationSeconds = opts.Duration.Seconds()
		s.FaultStart, s.FaultEnd = s.PlannedFaultStart, s.PlannedFaultEnd
		if !s.FaultStartedAt.IsZero() {
			s.FaultStart = s.FaultStartedAt.Sub(start).Seconds()
		}
		if !s.FaultEndedAt.IsZero() {
			s.FaultEnd = s.FaultEndedAt.Sub(start).Seconds()
		}
		res.Interrupted = true
		if res.ConsumerLag == nil {
			stopLag()
			<-lagDone
			res.ConsumerLag = lags.result()
		}
		for _, m := range Modes {
			if res.Modes[m] != nil {
				continue
			}
			mr := summarize(recs[m].snapshot(), res.Schedule, opts.Duration)
			sampler.attach(m, mr, res.ConsumerLag)
			res.Modes[m] = mr
		}
	}

	// The fault schedule: every step applied and removed at its planned
	// time; the fault phase is the whole window.
	if err := sleepUntil(ctx, start.Add(faultStart)); err != nil {
		stopAll()
		keepPartial()
		return res, err
	}
	setPhase(PhaseFault)
	res.Schedule.FaultStartedAt = time.Now().UTC()
	sr := &stepRunner{st: st, sc: sc, steps: res.Schedule.Steps, start: start}
	defer sr.removeAll(ctx) // on every early return
	if err := sr.run(ctx, start.Add(faultEnd)); err != nil {
		stopAll()
		keepPartial()
		return res, errors.Join(err, sr.removeAll(ctx))
	}
	if err := sr.removeAll(ctx); err != nil {
		stopAll()
		return res, err
	}
	res.Schedule.FaultEndedAt = time.Now().UTC()
	setPhase(PhaseRecovery)
	wg.Wait() // load ends by itself: Count requests, each bounded by RequestTimeout
	res.Schedule.LoadEndedAt = time.Now().UTC()
	probe.stop()
	setPhase("settle")

	// Settle: wait for async and hybrid orders to reach a final state.
	settleStart := time.Now()
	settleErr := waitSettled(ctx, stats, st.OrderAsyncURL, opts.Settle, func() bool { return lags.modeLag(ctx, ModeAsync) == 0 })
	if settleErr == nil {
		settleErr = waitSettled(ctx, stats, st.OrderHybridURL, max(opts.Settle-time.Since(settleStart), 0), func() bool { return lags.modeLag(ctx, ModeHybrid) == 0 })
	}
	res.Schedule.SettleSeconds = time.Since(settleStart).Seconds()
	stopSampler()
	<-samplerDone
	stopLag()
	<-lagDone
	lags.sample(ctx)    // the lag once settled,
	sampler.sample(ctx) // and the state: the series end drained (or not)
	res.ConsumerLag = lags.result()
	if settleErr != nil && ctx.Err() != nil {
		keepPartial()
		return res, settleErr
	}
	if err := st.Err(); err != nil {
		return res, fmt.Errorf("a service stopped during the run: %w", err)
	}

	res.Schedule.DurationSeconds = opts.Duration.Seconds()
	res.Schedule.FaultStart = res.Schedule.FaultStartedAt.Sub(start).Seconds()
	res.Schedule.FaultEnd = res.Schedule.FaultEndedAt.Sub(start).Seconds()
	res.SyncProbe = probe.summary(res.Schedule)

	acct := newAccountant(st)
	defer acct.client.CloseIdleConnections()
	for _, m := range Modes {
		samples := recs[m].snapshot()
		mr := summarize(samples, res.Schedule, opts.Duration)
		addAnswers(mr, samples, res.Schedule)
		sampler.attach(m, mr, res.ConsumerLag)
		if err := acct.account(ctx, m, urls[m], samples, mr, start, res.Schedule); err != nil {
			keepPartial()
			return res, fmt.Errorf("account %s orders: %w", m, err)
		}
		if mr.PromisesBroken, err = acct.promisesBroken(ctx, urls[m]); err != nil {
			return res, fmt.Errorf("account %s orders: %w", m, err)
		}
		res.Modes[m] = mr
	}
	res.InventoryLoad = inventoryLoad(recs[ModeSync].snapshot(), res.Modes[ModeSync].Stats, res.Schedule)
	orphans, err := acct.orphanedReservations(ctx, st.OrderSyncURL, st.OrderAsyncURL, st.OrderHybridURL)
	if err != nil {
		return res, fmt.Errorf("account orphaned reservations: %w", err)
	}
	res.Modes[ModeSync].OrphanedReservations = orphans
	if fanout != nil {
		if err := fanout.finish(ctx, res, recs[ModeAsync].snapshot(), opts.Settle); err != nil {
			return res, fmt.Errorf("account notifications: %w", err)
		}
	}
	if sc.Report != nil {
		if err := sc.Report(ctx, st, res); err != nil {
			return res, fmt.Errorf("report of %s: %w", sc.Name, err)
		}
	}
	return res, nil
}

// stepRunner applies a run's planned steps at their times, records when
// each was applied and removed and what was seen of it, and removes them.
// It is the run's only holder of fault state: nothing outlives the run.
type stepRunner struct {
	st    *stack.Stack
	sc    Scenario
	steps []Step // the result's, filled in as they run
	start time.Time
	undos map[int]faults.Undo // applied and not yet removed, by step index
}

// run applies and removes the steps at their planned times until end (the
// fault window's close; a step planned past it, like a broker kept down
// longer than the window, is removed when its time comes).
func (r *stepRunner) run(ctx context.Context, end time.Time) error {
	r.undos = map[int]faults.Undo{}
	type event struct {
		at    time.Time
		apply bool
		index int
	}
	var evs []event
	at := func(off float64) time.Time { return r.start.Add(time.Duration(off * float64(time.Second))) }
	for i, s := range r.steps {
		evs = append(evs, event{at(s.PlannedStart), true, i}, event{at(s.PlannedEnd), false, i})
	}
	// In time order; at the same time a removal goes first (a flap's off
	// before the next on).
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return !evs[i].apply && evs[j].apply
	})
	for _, ev := range evs {
		if err := sleepUntil(ctx, ev.at); err != nil {
			return err
		}
		if ev.apply {
			if err := r.apply(ctx, ev.index); err != nil {
				return err
			}
			continue
		}
		if err := r.remove(ctx, ev.index); err != nil {
			return err
		}
	}
	return sleepUntil(ctx, end)
}

func (r *stepRunner) apply(ctx context.Context, i int) error {
	s := &r.steps[i]
	proxies, err := r.sc.resolveHops(ctx, r.st, s.Fault)
	if err != nil {
		s.Error = err.Error()
		return fmt.Errorf("apply step %d of %s (%s): %w", i, r.sc.Name, s.Fault, err)
	}
	s.Proxies = proxies
	applied := time.Now()
	undo, err := applyFault(ctx, r.st, s.Fault, proxies)
	if err != nil {
		s.Error = err.Error()
		return fmt.Errorf("apply step %d of %s (%s): %w", i, r.sc.Name, s.Fault, err)
	}
	s.AppliedAt = applied.UTC()
	r.undos[i] = undo
	s.Evidence = observe(ctx, r.st, s.Fault, proxies)
	return nil
}

func (r *stepRunner) remove(ctx context.Context, i int) error {
	undo, ok := r.undos[i]
	if !ok {
		return nil
	}
	delete(r.undos, i)
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout(r.steps[i].Fault))
	defer cancel()
	if err := undo(uctx); err != nil {
		r.steps[i].Error = err.Error()
		return fmt.Errorf("remove step %d of %s (%s): %w", i, r.sc.Name, r.steps[i].Fault, err)
	}
	r.steps[i].RemovedAt = time.Now().UTC()
	return nil
}

// removeAll removes every step still applied, in reverse order, even when
// ctx has ended; it returns their errors joined.
func (r *stepRunner) removeAll(ctx context.Context) error {
	var errs []error
	for i := len(r.steps) - 1; i >= 0; i-- {
		errs = append(errs, r.remove(ctx, i))
	}
	return errors.Join(errs...)
}

func removeTimeout(f Fault) time.Duration {
	if f.Type == FaultBrokerStop {
		return 2 * time.Minute // a real broker's restart: JVM start, log recovery
	}
	return 10 * time.Second
}

// applyFault applies f to the resolved proxies (or the brokers) and
// returns the undo that removes it.
func applyFault(ctx context.Context, st *stack.Stack, f Fault, proxies []string) (faults.Undo, error) {
	switch f.Type {
	case FaultBrokerStop:
		bc := st.BrokerControl()
		if bc == nil {
			return nil, stack.ErrNoBrokerControl
		}
		if err := bc.Kill(ctx); err != nil {
			return nil, fmt.Errorf("stop the broker: %w", err)
		}
		return func(ctx context.Context) error {
			if err := bc.Start(ctx); err != nil {
				return fmt.Errorf("restart the broker: %w", err)
			}
			return nil
		}, nil
	case FaultStockOut:
		return stockOut(ctx, st, f.Attributes["units"], proxies)
	case FaultDown:
		var apply []func(context.Context) (faults.Undo, error)
		for _, p := range proxies {
			apply = append(apply, func(ctx context.Context) (faults.Undo, error) { return st.Faults.Down(ctx, p) })
		}
		return faults.All(ctx, apply...)
	case FaultLatency, FaultTimeout, FaultResetPeer, FaultBandwidth:
		var apply []func(context.Context) (faults.Undo, error)
		for _, p := range proxies {
			apply = append(apply, func(ctx context.Context) (faults.Undo, error) { return st.Faults.Apply(ctx, p, f.toxic()) })
		}
		return faults.All(ctx, apply...)
	}
	return nil, fmt.Errorf("unknown fault type %q", f.Type)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// orderStats is the body of order-service GET /stats.
type orderStats struct {
	Orders        map[string]int `json:"orders"`
	OutboxBacklog int            `json:"outbox_backlog"`
	OutboxParked  int            `json:"outbox_parked"`
	// The stock-outcome consumer's dead letters (0 in sync mode).
	DeadLettered       int64 `json:"dead_lettered"`
	DeadLettersDropped int64 `json:"dead_letters_dropped"`
	// PromisesBroken: orders answered 202 and now REJECTED.
	PromisesBroken int `json:"promises_broken"`
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

// asyncBacklog returns PENDING orders + unpublished outbox rows, or -1.
func asyncBacklog(ctx context.Context, c *http.Client, url string) int {
	var s orderStats
	if code, err := getJSON(ctx, c, url+"/stats", &s); err != nil || code != http.StatusOK {
		return -1
	}
	return s.Orders["PENDING"] + s.OutboxBacklog
}

// waitSettled polls until the async backlog is 0 and drained() (the
// consumers committed everything at the broker) holds, or settle elapses.
func waitSettled(ctx context.Context, c *http.Client, url string, settle time.Duration, drained func() bool) error {
	deadline := time.Now().Add(settle)
	for {
		if asyncBacklog(ctx, c, url) == 0 && drained() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("async backlog or consumer lag not drained within %s", settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// summarize computes per-phase statistics and the per-second timeline.
func summarize(samples []sample, sch Schedule, dur time.Duration) *ModeResult {
	mr := &ModeResult{Requests: len(samples), Phases: map[string]*PhaseResult{}}
	hists := map[string]*hdrhistogram.Histogram{}
	for _, ph := range Phases {
		mr.Phases[ph] = &PhaseResult{Errors: map[string]int{}}
		hists[ph] = newHist()
	}
	secs := int(math.Ceil(dur.Seconds()))
	mr.Timeline = make([]Second, secs)
	secHists := make([]*hdrhistogram.Histogram, secs)
	for i := range mr.Timeline {
		mr.Timeline[i] = Second{T: i}
		secHists[i] = newHist()
	}
	for _, s := range samples {
		at := s.sentAt.Seconds()
		ph := PhaseBaseline
		switch {
		case at >= sch.FaultEnd:
			ph = PhaseRecovery
		case at >= sch.FaultStart:
			ph = PhaseFault
		}
		p := mr.Phases[ph]
		p.Requests++
		if s.class == "" {
			p.Successes++
		} else {
			p.Errors[s.class]++
		}
		if s.class != ClassShed {
			_ = hists[ph].RecordValue(max(1, s.latency.Microseconds()))
		}
		if i := int(at); i >= 0 && i < secs {
			mr.Timeline[i].Requests++
			if s.class == "" {
				mr.Timeline[i].Successes++
			} else {
				if mr.Timeline[i].Errors == nil {
					mr.Timeline[i].Errors = map[string]int{}
				}
				mr.Timeline[i].Errors[s.class]++
			}
			if s.class != ClassShed {
				_ = secHists[i].RecordValue(max(1, s.latency.Microseconds()))
			}
		}
	}
	for _, ph := range Phases {
		p, h := mr.Phases[ph], hists[ph]
		if p.Requests > 0 {
			p.SuccessRate = float64(p.Successes) / float64(p.Requests)
		}
		p.P50Ms = ms(h.ValueAtQuantile(50))
		p.P99Ms = ms(h.ValueAtQuantile(99))
		p.MaxMs = ms(h.Max())
	}
	for i := range mr.Timeline {
		mr.Timeline[i].P99Ms = ms(secHists[i].ValueAtQuantile(99))
		mr.Timeline[i].P50Ms = ms(secHists[i].ValueAtQuantile(50))
	}
	return mr
}

// newHist tracks 1 µs .. 10 min with 3 significant digits.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
}

func ms(us int64) float64 { return math.Round(float64(us)/10) / 100 }

// recoverySeconds applies the recovery rule to a timeline: the first whole
// second, from the one holding the fault's end, from which every later second's
// success rate is within 0.05 of baseline's. Seconds without requests are
// skipped. Returns -1 if no such second exists.
func recoverySeconds(tl []Second, baseline float64, faultEnd float64) float64 {
	first := int(math.Floor(faultEnd))
	rec := -1
	for i := len(tl) - 1; i >= first; i-- {
		s := tl[i]
		if s.Requests == 0 {
			if rec >= 0 {
				rec = i // an empty second does not delay recovery
			}
			continue
		}
		if float64(s.Successes)/float64(s.Requests) < baseline-0.05 {
			break
		}
		rec = i
	}
	if rec < 0 {
		return -1
	}
	// The recovered second starts at rec; report from the fault's end.
	return math.Max(0, float64(rec)-faultEnd)
}

// accepted returns the accepted samples in send order.
func accepted(samples []sample) []sample {
	out := make([]sample, 0, len(samples))
	for _, s := range samples {
		if s.accepted {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sentAt < out[j].sentAt })
	return out
}
