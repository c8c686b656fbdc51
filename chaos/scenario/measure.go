package scenario

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
)

// samplesPerSecond is how often the engine reads the services' /stats.
// Four a second gives the backlog criterion of the recovery time a
// resolution of 250 ms; each timeline second keeps its last sample.
const samplesPerSecond = 4

// LoadSettings records the load of a run as configured.
type LoadSettings struct {
	DurationSeconds  float64 `json:"duration_seconds"`
	RatePerMode      int     `json:"rate_per_mode"`
	SettleMaxSeconds float64 `json:"settle_max_seconds"`
	RequestTimeoutMs float64 `json:"request_timeout_ms"`
	MaxInFlight      int     `json:"max_in_flight"`
	SKU              string  `json:"sku"`
	Quantity         int     `json:"quantity"`
	// Jitter is the arrival jitter (fraction of the interval); Seed seeds
	// it (PCG, one stream per mode: sync 1, async 2).
	Jitter float64 `json:"jitter"`
	Seed   uint64  `json:"seed"`
}

func loadSettingsOf(o Options) LoadSettings {
	return LoadSettings{
		DurationSeconds: o.Duration.Seconds(), RatePerMode: o.Rate, SettleMaxSeconds: o.Settle.Seconds(),
		RequestTimeoutMs: float64(o.RequestTimeout.Milliseconds()), MaxInFlight: o.MaxInFlight,
		SKU: o.SKU, Quantity: o.Quantity, Jitter: o.Jitter, Seed: o.Seed,
	}
}

// arrivalOffsets returns each request's send time since the start:
// i/Rate, moved by a uniform offset in ±Jitter/2 intervals drawn from
// PCG(Seed, Stream), never before the start.
func arrivalOffsets(spec loadSpec) []time.Duration {
	interval := time.Second / time.Duration(spec.Rate)
	var rng *rand.Rand
	if spec.Jitter > 0 {
		rng = rand.New(rand.NewPCG(spec.Seed, spec.Stream))
	}
	out := make([]time.Duration, spec.Count)
	for i := range out {
		at := time.Duration(i) * interval
		if rng != nil {
			at += time.Duration((rng.Float64() - 0.5) * spec.Jitter * float64(interval))
		}
		out[i] = max(0, at)
	}
	return out
}

// StatsSample is one reading of the services' state, as their GET /stats
// report it, with the consumer lag the broker recorded at the time.
type StatsSample struct {
	At float64 `json:"at"` // seconds since the load started
	// From the mode's order-service: orders by status and unpublished
	// outbox rows.
	Orders        map[string]int `json:"orders,omitempty"`
	OutboxBacklog int            `json:"outbox_backlog"`
	// OutboxParked: outbox rows order-service parked after a permanent
	// publish failure (its /stats outbox_parked); their orders are FAILED
	// (reason publish_failed). OrderDeadLettered and
	// OrderDeadLettersDropped are its stock-outcome consumer's records
	// sent to the dead-letter topic, and those it could not send there
	// (dead_lettered, dead_letters_dropped; 0 in sync mode).
	OutboxParked            int   `json:"outbox_parked"`
	OrderDeadLettered       int64 `json:"order_dead_lettered"`
	OrderDeadLettersDropped int64 `json:"order_dead_letters_dropped"`
	// BrokerLag is the consumer lag, at the broker, of the consumer groups
	// on this mode's path (ConsumerLag.ModeGroups) in the last lag reading
	// at or before At (one a second): 0 for a mode without consumers, -1
	// when unknown. Not the consumers' own /stats figure, which stays put
	// while a consumer is cut off.
	BrokerLag int64 `json:"broker_lag"`
	// From inventory-service, in async samples only (its consumer serves
	// the async path; its HTTP reservations are shared by both modes).
	InventoryReserved     int   `json:"inventory_reserved"`
	InventoryRejected     int   `json:"inventory_rejected"`
	InventoryDeadLettered int64 `json:"inventory_dead_lettered"`
	// InventoryDeadLettersDropped: poison records inventory's consumer
	// could not write to the dead-letter topic (dead_letters_dropped).
	InventoryDeadLettersDropped int64 `json:"inventory_dead_letters_dropped"`
	// InventoryRequests is inventory-service's count of POST
	// /reservations received since it started (in both modes' samples:
	// only order-sync sends them).
	InventoryRequests int64 `json:"inventory_reservation_requests"`
	// OrderErr and InventoryErr say why a read failed; that service's
	// numbers are then zero.
	OrderErr     string `json:"order_error,omitempty"`
	InventoryErr string `json:"inventory_error,omitempty"`
}

// Backlog is PENDING orders plus unpublished outbox rows; -1 when the
// order-service read failed.
func (s StatsSample) Backlog() int {
	if s.OrderErr != "" {
		return -1
	}
	return s.Orders["PENDING"] + s.OutboxBacklog
}

// DeadLettered is the records dead-lettered on the mode's path: its
// order-service's consumer plus, in async samples, inventory's.
func (s StatsSample) DeadLettered() int64 { return s.OrderDeadLettered + s.InventoryDeadLettered }

// DeadLettersDropped is the poison records on the mode's path that could
// not be written to the dead-letter topic either.
func (s StatsSample) DeadLettersDropped() int64 {
	return s.OrderDeadLettersDropped + s.InventoryDeadLettersDropped
}

// Lag is the broker's consumer lag on the mode's path (BrokerLag); -1
// when it is unknown or a service read failed.
func (s StatsSample) Lag() int64 {
	if s.OrderErr != "" || s.InventoryErr != "" || s.BrokerLag < 0 {
		return -1
	}
	return s.BrokerLag
}

// inventoryStats is the body of inventory-service GET /stats.
type inventoryStats struct {
	Reserved     int   `json:"reserved"`
	Rejected     int   `json:"rejected"`
	DeadLettered int64 `json:"dead_lettered"`
	Dropped      int64 `json:"dead_letters_dropped"`
	Requests     int64 `json:"reservation_requests"`
}

// statsSampler reads both order-services and inventory-service and keeps
// one series per mode. Safe for concurrent use.
type statsSampler struct {
	client       *http.Client
	orderURLs    map[string]string
	inventoryURL string
	start        time.Time

	mu     sync.Mutex
	series map[string][]StatsSample
}

func newStatsSampler(c *http.Client, st *stack.Stack, start time.Time) *statsSampler {
	return &statsSampler{
		client:       c,
		orderURLs:    orderURLs(st),
		inventoryURL: st.InventoryURL,
		start:        start,
		series:       map[string][]StatsSample{},
	}
}

// sample reads every service once, appends a sample per mode and returns
// the async one.
func (s *statsSampler) sample(ctx context.Context) StatsSample {
	at := math.Round(time.Since(s.start).Seconds()*1000) / 1000
	var inv inventoryStats
	invErr := readStats(ctx, s.client, s.inventoryURL, &inv)
	out := map[string]StatsSample{}
	for _, m := range Modes {
		smp := StatsSample{At: at}
		var o orderStats
		if err := readStats(ctx, s.client, s.orderURLs[m], &o); err != "" {
			smp.OrderErr = err
		} else {
			smp.Orders, smp.OutboxBacklog, smp.OutboxParked = o.Orders, o.OutboxBacklog, o.OutboxParked
			smp.OrderDeadLettered, smp.OrderDeadLettersDropped = o.DeadLettered, o.DeadLettersDropped
		}
		smp.InventoryRequests = inv.Requests
		if m == ModeAsync {
			smp.InventoryErr = invErr
			smp.InventoryReserved = inv.Reserved
			smp.InventoryRejected, smp.InventoryDeadLettered = inv.Rejected, inv.DeadLettered
			smp.InventoryDeadLettersDropped = inv.Dropped
		}
		out[m] = smp
	}
	s.mu.Lock()
	for m, smp := range out {
		s.series[m] = append(s.series[m], smp)
	}
	s.mu.Unlock()
	return out[ModeAsync]
}

// readStats GETs url/stats into v and returns "" or why it failed.
func readStats(ctx context.Context, c *http.Client, url string, v any) string {
	code, err := getJSON(ctx, c, url+"/stats", v)
	switch {
	case err != nil:
		return err.Error()
	case code != http.StatusOK:
		return http.StatusText(code)
	}
	return ""
}

// attach gives mr its series, each sample the broker's lag on the mode's
// path at its time (from cl), and each timeline second the last sample
// taken during it (and, for async, its Backlog).
func (s *statsSampler) attach(mode string, mr *ModeResult, cl *ConsumerLag) {
	s.mu.Lock()
	mr.Stats = append([]StatsSample(nil), s.series[mode]...)
	s.mu.Unlock()
	for i := range mr.Stats {
		smp := &mr.Stats[i]
		smp.BrokerLag = cl.ModeLagAt(mode, smp.At)
		sec := int(math.Floor(smp.At))
		if sec < 0 || sec >= len(mr.Timeline) {
			continue
		}
		mr.Timeline[sec].Stats = smp
		if mode != ModeSync {
			b := smp.Backlog()
			mr.Timeline[sec].Backlog = &b
		}
	}
	mr.Parked, mr.DeadLettered, mr.DeadLettersDropped = endOfRun(mr.Stats)
}

// endOfRun returns the parked outbox rows, dead letters and dropped dead
// letters of the last sample whose reads all succeeded (the counters only
// grow; 0 when no sample did).
func endOfRun(series []StatsSample) (parked int, deadLettered, dropped int64) {
	for i := len(series) - 1; i >= 0; i-- {
		if s := series[i]; s.OrderErr == "" && s.InventoryErr == "" {
			return s.OutboxParked, s.DeadLettered(), s.DeadLettersDropped()
		}
	}
	return 0, 0, 0
}

// Recovery breaks a mode's recovery time down. Every figure is seconds
// from the fault's end; -1 means not within the run.
type Recovery struct {
	// SuccessRateSeconds: until the per-second success rate stays within
	// 0.05 of the baseline's.
	SuccessRateSeconds float64 `json:"success_rate_seconds"`
	// BacklogSeconds: until a /stats sample shows the backlog (PENDING
	// orders + outbox rows) and the consumer lag at the broker back at
	// their steady level: zero with no load, and under load no more than
	// the baseline phase's highest sample (BacklogLimit: orders in
	// flight); LagLimit adds one second of arrivals to the baseline's
	// highest lag, since the consumers commit every 500 ms and a few
	// baseline readings do not catch the top of that sawtooth.
	BacklogSeconds float64 `json:"backlog_seconds"`
	BacklogLimit   int     `json:"backlog_limit"`
	LagLimit       int64   `json:"lag_limit"`
	// DrainSeconds: until the last order accepted before the fault's end
	// became final (0 when all were final by then).
	DrainSeconds float64 `json:"drain_seconds"`
}

// finishRecovery sets mr.Recovery and mr.RecoverySeconds, the largest of
// the three criteria, or -1 when one was not met or an order was lost.
func finishRecovery(mr *ModeResult, sch Schedule, drain float64) {
	round := func(v float64) float64 { return math.Round(v*10) / 10 }
	r := &Recovery{
		SuccessRateSeconds: recoverySeconds(mr.Timeline, mr.Phases[PhaseBaseline].SuccessRate, sch.FaultEnd),
		DrainSeconds:       round(drain),
	}
	lagSlack := int64(0)
	if sch.DurationSeconds > 0 {
		lagSlack = int64(math.Ceil(float64(mr.Requests) / sch.DurationSeconds))
	}
	r.BacklogSeconds, r.BacklogLimit, r.LagLimit = backlogRecovery(mr.Stats, sch, lagSlack)
	if r.SuccessRateSeconds >= 0 {
		r.SuccessRateSeconds = round(r.SuccessRateSeconds)
	}
	if r.BacklogSeconds >= 0 {
		r.BacklogSeconds = round(r.BacklogSeconds)
	}
	mr.Recovery = r
	switch {
	case mr.Lost > 0, r.SuccessRateSeconds < 0, r.BacklogSeconds < 0:
		mr.RecoverySeconds = -1
	default:
		mr.RecoverySeconds = round(max(r.SuccessRateSeconds, r.BacklogSeconds, drain))
	}
}

// backlogRecovery returns the seconds from the fault's end to the first
// sample at or after it whose backlog and lag are at or below the
// baseline's highest (the lag's plus lagSlack records; the limits are
// returned too); -1 if none is. With no samples at all the criterion does
// not apply (0).
func backlogRecovery(series []StatsSample, sch Schedule, lagSlack int64) (secs float64, backlogLimit int, lagLimit int64) {
	if len(series) == 0 {
		return 0, 0, 0
	}
	for _, s := range series {
		if s.At < sch.FaultStart && s.Backlog() >= 0 && s.Lag() >= 0 {
			backlogLimit, lagLimit = max(backlogLimit, s.Backlog()), max(lagLimit, s.Lag())
		}
	}
	lagLimit += lagSlack
	for _, s := range series {
		if s.At < sch.FaultEnd || s.Backlog() < 0 || s.Lag() < 0 {
			continue
		}
		if s.Backlog() <= backlogLimit && s.Lag() <= lagLimit {
			return s.At - sch.FaultEnd, backlogLimit, lagLimit
		}
	}
	return -1, backlogLimit, lagLimit
}
