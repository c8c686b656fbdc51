package scenario

// Fan-out (issue 12): notification-service is a second, independent
// consumer of order-placed. The notification-kafka-down scenario cuts only
// its Kafka link; the engine follows it (Scenario.Fanout): its consumer
// group's lag read at the broker during the run, and, once the async path
// has settled, every accepted async order's notification read back from
// notification-service's own state (GET /notifications/{order_id}).

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/chaos/lag"
	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/events"
)

// ScenarioNotificationKafkaDown is the fan-out scenario's name.
const ScenarioNotificationKafkaDown = "notification-kafka-down"

func init() {
	all = append(all, notificationKafkaDown())
}

// notificationKafkaDown disables notification-service's Kafka proxy (every
// broker's) for the fault window: order-service, inventory-service and
// their links are untouched.
func notificationKafkaDown() Scenario {
	return Scenario{
		Name: ScenarioNotificationKafkaDown,
		Description: "notification-service's Kafka link disabled (notification-kafka proxy; its own consumer group of order-placed): " +
			"orders and inventory go on as in steady state, its lag grows at the broker and drains after, every accepted order is notified once",
		Schedule: []Action{{Fault: Down(stack.ProxyNotificationKafka)}},
		Fanout:   true,
		Report: func(_ context.Context, _ *stack.Stack, res *Result) error {
			if res.Fanout != nil {
				res.Breakdown = res.Fanout.breakdown(res.Schedule)
			}
			return nil
		},
	}
}

// Fanout is what a run saw of notification-service, the second consumer
// of order-placed (Result.Fanout; set for scenarios with Scenario.Fanout).
type Fanout struct {
	// Group is notification-service's consumer group.
	Group string `json:"group"`
	// Lag is the group's lag on order-placed read at the broker twice a
	// second (FanoutSampleInterval), around the proxies: the sum over
	// partitions of the end offset minus the committed offset, from the
	// load's start until the accounting below ends. The service commits
	// every 500 ms (messaging: Consumer.Offsets.AutoCommit.Interval), so
	// a consumer that keeps up shows a lag of a few records.
	Lag []GroupLagSample `json:"lag"`
	// InventoryLag is inventory-service's group on order-placed, sampled
	// with Lag: the other consumer of the same records, which the cut
	// must leave alone.
	InventoryLag []GroupLagSample `json:"inventory_lag"`
	// BaselineMaxLag and FaultMaxLag are the highest lag sampled before
	// the fault and from its start to a second after its end.
	BaselineMaxLag int64 `json:"baseline_max_lag"`
	FaultMaxLag    int64 `json:"fault_max_lag"`
	// DrainSeconds: from the fault's end to the first sample whose lag is
	// back at or below BaselineMaxLag; -1 when none was.
	DrainSeconds float64 `json:"drain_seconds"`
	// Accounting, from notification-service's state after it caught up
	// (or the settle time ran out): Expected = async orders accepted
	// (202); Notified = those with exactly one notification and one
	// (simulated) send; Missing = with none; Doubled = with more than one
	// send.
	Expected int `json:"expected"`
	Notified int `json:"notified"`
	Missing  int `json:"missing"`
	Doubled  int `json:"doubled"`
	// CaughtUpSeconds: how long after the load's end the accounting
	// waited for the service to hold a notification per accepted order
	// with its lag at 0 (bounded by Options.Settle).
	CaughtUpSeconds float64 `json:"caught_up_seconds"`
	// Delay is, per phase of the order's acceptance, the time from the
	// 202 to the notification's created_at (notification-service's
	// clock), in milliseconds: p50, p99, max over the notified orders.
	Delay map[string]*DelayStats `json:"delay"`
	// Stats is notification-service's GET /stats at the end.
	Stats NotificationStats `json:"stats"`
}

// GroupLagSample is one broker-side reading of a consumer group's lag: End is
// the sum of the topic's end offsets (records produced so far), Committed
// the sum of the group's committed offsets, Lag = End - Committed (per
// partition, never negative). All -1 when the read failed (Err).
type GroupLagSample struct {
	At        float64 `json:"at"` // seconds since the load started
	End       int64   `json:"end"`
	Committed int64   `json:"committed"`
	Lag       int64   `json:"lag"`
	Err       string  `json:"error,omitempty"`
}

// DelayStats summarises delays in milliseconds.
type DelayStats struct {
	Orders int     `json:"orders"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// NotificationStats is notification-service's GET /stats body.
type NotificationStats struct {
	Notifications     int   `json:"notifications"`
	Sends             int   `json:"sends"`
	DuplicatedEffects int   `json:"duplicated_effects"`
	ConsumerLag       int64 `json:"consumer_lag"`
	Handled           int64 `json:"handled"`
	DeadLettered      int64 `json:"dead_lettered"`
	Redelivered       int64 `json:"redelivered"`
	Conflicting       int64 `json:"conflicting_events"`
}

// FanoutSampleInterval is how often the engine reads notification-service's
// group lag at the broker.
const FanoutSampleInterval = 500 * time.Millisecond

// fanoutWatch samples the notification group's lag at the broker (a
// chaos/lag Reader on a harness client around the proxies) from the load's
// start until stop.
type fanoutWatch struct {
	st     *stack.Stack
	start  time.Time
	reader *lag.Reader

	mu        sync.Mutex
	series    []GroupLagSample
	inventory []GroupLagSample

	cancel  context.CancelFunc
	done    chan struct{}
	running bool // run started the sampler
	once    sync.Once
}

// newFanoutWatch connects its reader (up to 10 s: a loaded machine) and
// takes a first sample; run starts the sampling. A failed connection is
// retried by every later sample.
func newFanoutWatch(ctx context.Context, st *stack.Stack) *fanoutWatch {
	dial := func(ctx context.Context) (sarama.Client, error) { return st.NewHarnessClient(ctx, true) }
	w := &fanoutWatch{st: st, start: time.Now(), done: make(chan struct{}), cancel: func() {},
		reader: lag.NewReader(dial, map[string][]string{
			st.NotificationGroup: {events.TopicOrderPlaced},
			st.InventoryGroup:    {events.TopicOrderPlaced},
		})}
	w.sampleWithin(ctx, 10*time.Second)
	return w
}

// run samples every FanoutSampleInterval, with times since start (the
// load's), until stop. A read that fails is a sample with Lag -1 (the
// reader dials again next time). Call it once.
func (w *fanoutWatch) run(ctx context.Context, start time.Time) {
	w.mu.Lock()
	w.start = start
	for i := range w.series { // the first sample, taken before the load's clock started
		w.series[i].At, w.inventory[i].At = -0.1, -0.1
	}
	w.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	w.cancel, w.running = cancel, true
	go func() {
		defer close(w.done)
		tick := time.NewTicker(FanoutSampleInterval)
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
				w.sample(wctx)
			}
		}
	}()
}

// fanoutReadTimeout bounds one lag read (a reconnection included).
const fanoutReadTimeout = 3 * time.Second

// sample reads the lag once (bounded by fanoutReadTimeout) and appends it.
func (w *fanoutWatch) sample(ctx context.Context) GroupLagSample {
	return w.sampleWithin(ctx, fanoutReadTimeout)
}

func (w *fanoutWatch) sampleWithin(ctx context.Context, bound time.Duration) GroupLagSample {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	w.mu.Lock()
	start := w.start
	w.mu.Unlock()
	at := math.Round(time.Since(start).Seconds()*1000) / 1000
	snap := w.reader.Read(ctx)
	s, inv := lagSample(snap, w.st.NotificationGroup), lagSample(snap, w.st.InventoryGroup)
	s.At, inv.At = at, at
	w.mu.Lock()
	w.series = append(w.series, s)
	w.inventory = append(w.inventory, inv)
	w.mu.Unlock()
	return s
}

// lagSample sums the group's partitions of snap: End, Committed and Lag,
// all -1 (with Err) when one of them is unknown.
func lagSample(snap lag.Snapshot, group string) GroupLagSample {
	unknown := func(why string) GroupLagSample {
		return GroupLagSample{End: lag.Unknown, Committed: lag.Unknown, Lag: lag.Unknown, Err: why}
	}
	for _, g := range snap.Groups {
		if g.Group != group {
			continue
		}
		if g.Error != "" || g.Lag < 0 {
			return unknown(g.Error)
		}
		var s GroupLagSample
		for _, p := range g.Partitions {
			if p.End < 0 || p.Committed < 0 {
				return unknown(fmt.Sprintf("%s/%d: no committed or end offset", p.Topic, p.Partition))
			}
			s.End += p.End
			s.Committed += p.Committed
		}
		s.Lag = g.Lag
		return s
	}
	return unknown("group " + group + " not read")
}

// stop ends the sampling and closes the reader; safe to call twice, and
// before run.
func (w *fanoutWatch) stop() {
	w.cancel()
	if w.running {
		<-w.done
	}
	w.once.Do(func() { _ = w.reader.Close() })
}

// finish waits (up to settle) for notification-service to catch up: a
// notification per accepted async order and its lag at 0. It then stops
// the watch, reads every accepted order's notification and fills
// res.Fanout. It returns an error only when the harness cannot read the
// service; a missing or doubled notification is a finding, in the result.
func (w *fanoutWatch) finish(ctx context.Context, res *Result, samples []sample, settle time.Duration) error {
	defer w.stop()
	acc := accepted(samples)
	c := &http.Client{Timeout: 5 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer c.CloseIdleConnections()
	url := w.st.NotificationURL()
	f := &Fanout{Group: w.st.NotificationGroup, Expected: len(acc), Delay: map[string]*DelayStats{}}

	waitStart := time.Now()
	deadline := waitStart.Add(settle)
	for {
		var ns NotificationStats
		code, err := getJSON(ctx, c, url+"/stats", &ns)
		if err == nil && code == http.StatusOK && ns.Notifications >= len(acc) {
			if s := w.sample(ctx); s.Lag == 0 {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.CaughtUpSeconds = math.Round(time.Since(waitStart).Seconds()*10) / 10
	w.stop()

	hists := map[string]*hdrhistogram.Histogram{}
	for _, ph := range Phases {
		hists[ph] = newHist()
	}
	for _, s := range acc {
		var n struct {
			CreatedAt time.Time `json:"created_at"`
			Sends     int       `json:"sends"`
		}
		code, err := getJSON(ctx, c, url+"/notifications/"+s.orderID, &n)
		if err != nil {
			return fmt.Errorf("read the notification of order %s: %w", s.orderID, err)
		}
		switch {
		case code == http.StatusNotFound:
			f.Missing++
			continue
		case code != http.StatusOK:
			return fmt.Errorf("read the notification of order %s: status %d", s.orderID, code)
		case n.Sends == 1:
			f.Notified++
		default:
			f.Doubled++
		}
		acked := res.StartedAt.Add(s.sentAt + s.latency)
		_ = hists[phaseOf(s.sentAt.Seconds(), res.Schedule)].RecordValue(max(1, n.CreatedAt.Sub(acked).Microseconds()))
	}
	for _, ph := range Phases {
		h := hists[ph]
		f.Delay[ph] = &DelayStats{Orders: int(h.TotalCount()), P50Ms: ms(h.ValueAtQuantile(50)), P99Ms: ms(h.ValueAtQuantile(99)), MaxMs: ms(h.Max())}
	}
	if code, err := getJSON(ctx, c, url+"/stats", &f.Stats); err != nil || code != http.StatusOK {
		return fmt.Errorf("read notification-service's stats: status %d: %v", code, err)
	}

	w.mu.Lock()
	f.Lag = sortedLag(append([]GroupLagSample(nil), w.series...))
	f.InventoryLag = sortedLag(append([]GroupLagSample(nil), w.inventory...))
	w.mu.Unlock()
	f.BaselineMaxLag, f.FaultMaxLag, f.DrainSeconds = lagPhases(f.Lag, res.Schedule)
	res.Fanout = f
	return nil
}

// phaseOf names the phase a request sent at (seconds since the load
// started) belongs to.
func phaseOf(at float64, sch Schedule) string {
	switch {
	case at >= sch.FaultEnd:
		return PhaseRecovery
	case at >= sch.FaultStart:
		return PhaseFault
	}
	return PhaseBaseline
}

// lagPhases returns the highest lag before the fault, the highest from its
// start to a second after its end, and the seconds from its end to the
// first sample back at or below the baseline's highest (-1: never).
func lagPhases(series []GroupLagSample, sch Schedule) (baseline, fault int64, drain float64) {
	for _, s := range series {
		switch {
		case s.Lag < 0:
		case s.At < sch.FaultStart:
			baseline = max(baseline, s.Lag)
		case s.At <= sch.FaultEnd+1:
			fault = max(fault, s.Lag)
		}
	}
	drain = -1
	for _, s := range series {
		if s.At >= sch.FaultEnd && s.Lag >= 0 && s.Lag <= baseline {
			drain = math.Round((s.At-sch.FaultEnd)*10) / 10
			break
		}
	}
	return baseline, fault, drain
}

// breakdown is the fan-out table printed under the result.
func (f *Fanout) breakdown(sch Schedule) *Breakdown {
	b := &Breakdown{
		Title:   "notification-service (second consumer of order-placed, group " + f.Group + "): time from the 202 to the notification, by the order's phase",
		Columns: []string{"phase", "orders", "p50 ms", "p99 ms", "max ms"},
	}
	for _, ph := range Phases {
		d := f.Delay[ph]
		if d == nil {
			continue
		}
		b.Rows = append(b.Rows, []string{ph, strconv.Itoa(d.Orders), fmt.Sprintf("%.1f", d.P50Ms), fmt.Sprintf("%.1f", d.P99Ms), fmt.Sprintf("%.1f", d.MaxMs)})
	}
	drain := "not drained within the run"
	if f.DrainSeconds >= 0 {
		drain = fmt.Sprintf("drained %.1f s after the fault's end", f.DrainSeconds)
	}
	b.Notes = append(b.Notes,
		fmt.Sprintf("lag at the broker: at most %d before the fault, %d during it; %s", f.BaselineMaxLag, f.FaultMaxLag, drain),
		progressNote(f, sch),
		fmt.Sprintf("accepted async orders %d: notified once %d, missing %d, doubled %d (caught up %.1f s after the load)", f.Expected, f.Notified, f.Missing, f.Doubled, f.CaughtUpSeconds),
		fmt.Sprintf("notification-service /stats: %d notifications, %d sends, %d duplicated effects, %d dead-lettered", f.Stats.Notifications, f.Stats.Sends, f.Stats.DuplicatedEffects, f.Stats.DeadLettered),
	)
	return b
}

// Progress returns how far the group's committed offsets and the topic's
// end offsets moved between the first and the last successful sample with
// At in [from, to] seconds (records); ok is false with fewer than two
// such samples. A consumer cut off from the broker commits nothing: its
// committed progress is 0 while the end keeps moving.
func (f *Fanout) Progress(from, to float64) (committed, end int64, ok bool) {
	return progress(f.Lag, from, to)
}

// InventoryProgress is Progress for inventory-service's group.
func (f *Fanout) InventoryProgress(from, to float64) (committed, end int64, ok bool) {
	return progress(f.InventoryLag, from, to)
}

func progress(series []GroupLagSample, from, to float64) (committed, end int64, ok bool) {
	var first, last *GroupLagSample
	for i := range series {
		s := &series[i]
		if s.At < from || s.At > to || s.Lag < 0 {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
	}
	if first == nil || first == last {
		return 0, 0, false
	}
	return last.Committed - first.Committed, last.End - first.End, true
}

// progressNote says what both groups committed while order-placed grew
// during the fault.
func progressNote(f *Fanout, sch Schedule) string {
	nc, produced, ok := f.Progress(sch.FaultStart, sch.FaultEnd)
	ic, _, iok := f.InventoryProgress(sch.FaultStart, sch.FaultEnd)
	if !ok || !iok {
		return "during the fault: too few lag samples to compare the groups"
	}
	return fmt.Sprintf("during the fault %d order-placed records were written: notification-service's group committed %d, inventory-service's %d", produced, nc, ic)
}

// MaxLag returns the highest lag sampled with At in [from, to] seconds, or
// -1 when none was read there.
func (f *Fanout) MaxLag(from, to float64) int64 {
	best := int64(-1)
	for _, s := range f.Lag {
		if s.At >= from && s.At <= to && s.Lag >= 0 {
			best = max(best, s.Lag)
		}
	}
	return best
}

// sortedLag is the series in time order (sample appends from two
// goroutines: the ticker and finish).
func sortedLag(series []GroupLagSample) []GroupLagSample {
	sort.SliceStable(series, func(i, j int) bool { return series[i].At < series[j].At })
	return series
}
