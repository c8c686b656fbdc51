package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// Publisher sends records and tells how a topic is partitioned.
// kafkaPublisher (over *messaging.Producer and *messaging.Metadata)
// implements it in async mode.
type Publisher interface {
	// SendBatch hands every record in ms to the producer (in order: records
	// of one partition are written in the order given) and waits for each
	// acknowledgement. It returns one error per record, nil once that
	// record is acknowledged; any error means "not known to be written"
	// (the relay sends the row again later, or parks it when
	// messaging.IsPermanent holds or after
	// RelayConfig.MaxUnclassifiedAttempts unclassified failures). It
	// returns promptly when ctx ends, with ctx.Err() for the records still
	// unacknowledged. The relay calls it from several lanes at once.
	SendBatch(ctx context.Context, ms []events.Message) []error
	// Partitions returns topic's partition count (from the cluster's
	// metadata), or an error while it cannot be known (broker down).
	Partitions(ctx context.Context, topic string) (int32, error)
}

// SendFunc adapts a one-record send to Publisher, for tests and
// captures: SendBatch sends the records one after another and, after the
// first error, gives that error to the records left unsent; Partitions
// is always 1 (one lane per topic).
type SendFunc func(ctx context.Context, m events.Message) error

// SendBatch implements Publisher.
func (f SendFunc) SendBatch(ctx context.Context, ms []events.Message) []error {
	errs := make([]error, len(ms))
	for i, m := range ms {
		if errs[i] = f(ctx, m); errs[i] != nil {
			for j := i + 1; j < len(ms); j++ {
				errs[j] = fmt.Errorf("not sent after an earlier failure: %w", errs[i])
			}
			break
		}
	}
	return errs
}

// Partitions implements Publisher: 1.
func (f SendFunc) Partitions(context.Context, string) (int32, error) { return 1, nil }

// RelayConfig tunes a Relay. Zero values take the defaults.
type RelayConfig struct {
	Interval       time.Duration // poll interval of an idle lane and of new rows, default 50ms
	Batch          int           // rows per lane send (one SendBatch, one marking transaction), default 256
	PublishTimeout time.Duration // deadline of each SendBatch, default 5s
	MinBackoff     time.Duration // a lane's first wait after a transient failure, default 100ms
	MaxBackoff     time.Duration // cap of the doubling wait, default 1s
	// MaxUnclassifiedAttempts is how many sends of one row may fail with
	// an unclassified error (messaging.Classify: neither permanent nor a
	// known outage, e.g. a bug in a producer interceptor) before the row
	// is parked with reason "unclassified_error_after_N_attempts: <error>"
	// and its lane moves on. Default 10
	// (messaging.DefaultMaxUnclassifiedAttempts): about 5 s of the lane's
	// backoff with the default MinBackoff and MaxBackoff. Known outages
	// (messaging.IsTransient: broker or network unreachable, deadlines,
	// retriable broker errors, an open producer breaker) neither count nor
	// park: they are retried without limit. Negative is an error.
	MaxUnclassifiedAttempts int
	// Tracing, when set, gives each record sent a producer span under its
	// order's stored trace context (outbox.traceparent); the span's
	// traceparent goes into the record's header, so a re-sent row starts a
	// sibling span in the same trace. Nil: no spans, and the stored
	// traceparent is sent on as it is.
	Tracing trace.TracerProvider
}

// Defaults of RelayConfig.
const (
	DefaultRelayBatch      = 256
	DefaultRelayMinBackoff = 100 * time.Millisecond
	DefaultRelayMaxBackoff = time.Second
)

// Check reports the first invalid field: a negative value (zero takes the
// default) or MaxBackoff below MinBackoff when both are set.
func (c RelayConfig) Check() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("relay interval %v is negative", c.Interval)
	case c.Batch < 0:
		return fmt.Errorf("relay batch %d is negative (rows per send; 0 takes the default %d)", c.Batch, DefaultRelayBatch)
	case c.PublishTimeout < 0:
		return fmt.Errorf("publish timeout %v is negative", c.PublishTimeout)
	case c.MinBackoff < 0:
		return fmt.Errorf("relay min backoff %v is negative", c.MinBackoff)
	case c.MaxBackoff < 0:
		return fmt.Errorf("relay max backoff %v is negative", c.MaxBackoff)
	case c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("relay max backoff %v is below the min backoff %v", c.MaxBackoff, c.MinBackoff)
	case c.MaxUnclassifiedAttempts < 0:
		return fmt.Errorf("relay max unclassified attempts %d is negative (0 takes the default %d)", c.MaxUnclassifiedAttempts, messaging.DefaultMaxUnclassifiedAttempts)
	}
	return nil
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.Interval <= 0 {
		c.Interval = 50 * time.Millisecond
	}
	if c.Batch <= 0 {
		c.Batch = DefaultRelayBatch
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultRelayMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = max(DefaultRelayMaxBackoff, c.MinBackoff)
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.MaxUnclassifiedAttempts <= 0 {
		c.MaxUnclassifiedAttempts = messaging.DefaultMaxUnclassifiedAttempts
	}
	return c
}

// laneID names a lane: one partition of one topic.
type laneID struct {
	topic     string
	partition int32
}

// lane is one partition's publisher goroutine.
type lane struct {
	id   laneID
	wake chan struct{}
}

// strikes counts the unclassified send failures of a lane's head row;
// transient failures in between neither count nor reset it. Only the
// lane's goroutine touches it.
type strikes struct {
	seq int64 // the row that failed; a new head row starts again at 0
	n   int
}

// Relay publishes the outbox, one lane per partition.
//
// Lanes: each new row gets the partition the producer will pick for it
// (messaging.Partition over the topic's partition count from the
// Publisher's metadata), stored in the row's lane column: at insert, by
// the group committer, once the topic's count is known (outboxlanes.go);
// else by the relay's assignment pass (a topic's first rows, rows of an
// earlier process). The relay runs one
// goroutine per (topic, partition) with waiting rows. Each lane reads up
// to Batch of its rows oldest first, hands them to SendBatch (all in
// flight at once) and marks the acknowledged prefix published in one
// SQLite transaction. Rows after a lane's first failed row are not marked
// (they are sent again), so rows of one key never overtake each other,
// and a stalled partition stalls only its own lane.
//
// Failures are sorted by messaging.Classify. A permanent error (record too
// large, invalid topic, authorization, serialization) parks the row with
// its reason at once, and its order becomes FAILED with reason
// publish_failed; parked rows are never re-driven automatically (GET
// /outbox/parked lists them). A transient error (a known outage: broker
// or network unreachable, deadline, retriable broker answer, open
// producer breaker) makes the lane back off (MinBackoff doubling up to
// MaxBackoff, jittered) and probe with one row before resuming full
// batches, without limit: nothing is parked for an outage. An
// unclassified error backs off the same way, but after
// MaxUnclassifiedAttempts failed sends of the same row, that row is
// parked with reason "unclassified_error_after_N_attempts: <error>" and
// the lane moves on, so no row holds its partition for ever. Other lanes
// are never affected.
//
// Delivery is at least once: a crash between an acknowledgement and its
// mark republishes the row; consumers must deduplicate by event ID or be
// idempotent. Rows survive restarts.
type Relay struct {
	st  *Store
	pub Publisher
	cfg RelayConfig
	log *slog.Logger

	wake      chan struct{}
	published atomic.Int64
	failures  atomic.Int64
	parked    atomic.Int64
	// parkedUnclassified counts the rows parked after
	// MaxUnclassifiedAttempts unclassified failures (included in parked).
	parkedUnclassified atomic.Int64

	mu    sync.Mutex
	lanes map[laneID]*lane
	fresh []laneID // lanes that got rows at insert, for Run to start or wake
}

// NewRelay returns a relay over st's outbox; cfg should pass Check
// (invalid fields take the defaults). log may be nil.
func NewRelay(st *Store, pub Publisher, cfg RelayConfig, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{st: st, pub: pub, cfg: cfg.withDefaults(), log: log, wake: make(chan struct{}, 1),
		lanes: map[laneID]*lane{}}
}

// Published returns how many rows this relay has published (acknowledged
// and marked) since it was created.
func (r *Relay) Published() int64 { return r.published.Load() }

// Failures returns how many lane sends failed with a transient error or
// an unclassified one below MaxUnclassifiedAttempts (each followed by that
// lane's backoff), plus failed lane assignments, since the relay was
// created.
func (r *Relay) Failures() int64 { return r.failures.Load() }

// Parked returns how many rows this relay parked since it was created
// (Store.Stats counts every parked row).
func (r *Relay) Parked() int64 { return r.parked.Load() }

// ParkedUnclassified returns how many of Parked were parked after
// MaxUnclassifiedAttempts unclassified send failures.
func (r *Relay) ParkedUnclassified() int64 { return r.parkedUnclassified.Load() }

// Lanes returns how many lanes (partitions with rows seen) are running.
func (r *Relay) Lanes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lanes)
}

// Wake makes the relay look for new rows now. It never blocks.
func (r *Relay) Wake() { poke(r.wake) }

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then returns nil (it always does) once every
// lane has stopped: after ctx ends that is as soon as the SendBatch calls
// in flight honour ctx. It must not run twice at once on one outbox.
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(id laneID) {
		r.mu.Lock()
		l, ok := r.lanes[id]
		if !ok {
			l = &lane{id: id, wake: make(chan struct{}, 1)}
			r.lanes[id] = l
			wg.Go(func() { r.runLane(ctx, l) })
		}
		r.mu.Unlock()
		poke(l.wake)
	}
	// The committer gives new rows their lane at insert once a topic's
	// count is known (outboxlanes.go) and reports them here.
	notify := func(ids []laneID, _ bool) {
		if len(ids) > 0 {
			r.mu.Lock()
			r.fresh = append(r.fresh, ids...)
			r.mu.Unlock()
		}
		poke(r.wake)
	}
	r.st.lanes.notify.Store(&notify)
	defer r.st.lanes.notify.Store(nil)
	var fails int
	resumed := false
	for {
		r.mu.Lock()
		fresh := r.fresh
		r.fresh = nil
		r.mu.Unlock()
		for _, id := range fresh {
			start(id)
		}
		var err error
		if !resumed { // rows given a lane by an earlier process
			var ids []laneID
			if ids, err = r.st.pendingLanes(ctx); err == nil {
				resumed = true
				for _, id := range ids {
					start(id)
				}
			}
		}
		if err == nil {
			err = r.assign(ctx, start)
		}
		if ctx.Err() != nil {
			return nil
		}
		wait, wake := r.cfg.Interval, r.wake
		if err != nil {
			fails++
			r.failures.Add(1)
			wait, wake = r.backoff(fails), nil
			r.log.Warn("outbox relay: cannot assign lanes, backing off", "err", err, "attempt", fails, "wait", wait)
		} else {
			fails = 0
		}
		if !sleep(ctx, wait, wake) {
			return nil
		}
	}
}

// sleep waits d, or until wake (nil: never) fires; false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

// assignBatch is how many new rows one assignment round reads.
const assignBatch = 2048

// assign gives every waiting row without a lane its partition
// (Store.assignLanes, after which the topic's new rows get theirs at
// insert) and starts (or wakes) the lanes concerned. A topic whose
// partition count cannot be read leaves its rows without a lane (the error
// is returned, after the other topics' rows were assigned, and Run backs
// off).
func (r *Relay) assign(ctx context.Context, start func(laneID)) error {
	for {
		lanes, unknown, more, err := r.st.assignLanes(ctx, assignBatch)
		if err != nil {
			return err
		}
		for _, id := range lanes {
			start(id)
		}
		var errs []error
		for _, topic := range unknown {
			n, err := r.partitions(ctx, topic)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r.st.setPartitions(topic, n)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if !more && len(unknown) == 0 {
			return nil
		}
	}
}

// partitions asks the Publisher for topic's partition count. assign
// calls it only for a topic the Store has no count for yet, and hands the
// count to Store.setPartitions, which keeps it for the process's life: a
// topic that grows partitions later keeps its old lanes until a restart
// (the producer's hash changes then too, and so does Kafka's per-key
// order).
func (r *Relay) partitions(ctx context.Context, topic string) (int32, error) {
	mctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	n, err := r.pub.Partitions(mctx, topic)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("topic %s has %d partitions", topic, n)
	}
	return n, nil
}

// runLane publishes one lane's rows until ctx ends.
func (r *Relay) runLane(ctx context.Context, l *lane) {
	var fails int
	var head strikes
	log := r.log.With("topic", l.id.topic, "partition", l.id.partition)
	for {
		limit := r.cfg.Batch
		if fails > 0 {
			limit = 1 // probe before resuming full batches
		}
		n, err := r.sendLane(ctx, l.id, limit, &head)
		if ctx.Err() != nil {
			return
		}
		wait, wake := r.cfg.Interval, l.wake
		switch {
		case err != nil:
			fails++
			r.failures.Add(1)
			wait, wake = r.backoff(fails), nil
			log.Warn("outbox relay lane: publish failed, backing off", "err", err, "attempt", fails, "wait", wait)
		case n == limit: // more may be waiting
			if fails > 0 {
				log.Info("outbox relay lane: publishing again", "after_failures", fails)
				fails = 0
			}
			continue
		default:
			fails = 0
		}
		if !sleep(ctx, wait, wake) {
			return
		}
	}
}

// sendLane sends up to limit waiting rows of one lane and settles them:
// the acknowledged prefix marked published; the first failed row parked
// when its error is permanent, or unclassified for the
// MaxUnclassifiedAttempts-th time for this row (head counts those). It
// returns how many rows it read and the error that stopped the lane
// (transient, or unclassified below the bound), if any.
func (r *Relay) sendLane(ctx context.Context, id laneID, limit int, head *strikes) (int, error) {
	rows, err := r.st.laneRows(ctx, id, limit)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	msgs := make([]events.Message, len(rows))
	spans := make([]trace.Span, len(rows))
	for i, row := range rows {
		_, spans[i], msgs[i] = telemetry.StartProducer(telemetry.WithTraceParent(ctx, row.traceparent), r.cfg.Tracing, row.msg)
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	errs := r.pub.SendBatch(sctx, msgs)
	cancel()
	for i, span := range spans {
		var err error = errNoOutcome
		if i < len(errs) {
			err = errs[i]
		}
		telemetry.EndSpan(span, err)
	}
	failed := len(rows)
	for i := range rows {
		if i >= len(errs) || errs[i] != nil {
			failed = i
			break
		}
	}
	// Acknowledged: record it even if ctx just ended, or the rows would be
	// sent again after a restart.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	seqs := make([]int64, failed)
	for i := range failed {
		seqs[i] = rows[i].seq
	}
	if err := r.st.markPublished(mctx, seqs, time.Now()); err != nil {
		return len(rows), err
	}
	r.published.Add(int64(failed))
	if failed == len(rows) {
		return len(rows), nil
	}
	var sendErr error = errNoOutcome
	if failed < len(errs) {
		sendErr = errs[failed]
	}
	row := rows[failed]
	class := messaging.Classify(sendErr)
	reason := sendErr.Error()
	switch class {
	case messaging.ClassTransient:
		return len(rows), sendErr
	case messaging.ClassUnclassified:
		if head.seq != row.seq {
			*head = strikes{seq: row.seq}
		}
		if head.n++; head.n < r.cfg.MaxUnclassifiedAttempts {
			return len(rows), fmt.Errorf("unclassified error, attempt %d of %d: %w", head.n, r.cfg.MaxUnclassifiedAttempts, sendErr)
		}
		reason = fmt.Sprintf("unclassified_error_after_%d_attempts: %v", head.n, sendErr)
	}
	if err := r.st.park(mctx, row, reason, time.Now()); err != nil {
		return len(rows), err
	}
	r.parked.Add(1)
	if class == messaging.ClassUnclassified {
		r.parkedUnclassified.Add(1)
	}
	r.log.Error("outbox row parked: it cannot be published, its order is FAILED (publish_failed)",
		"seq", row.seq, "event_id", row.eventID, "order_id", row.orderID, "topic", row.msg.Topic, "partition", id.partition,
		"class", class, "reason", reason)
	return len(rows), nil
}

// errNoOutcome stands for the outcome a Publisher did not return.
var errNoOutcome = fmt.Errorf("publisher returned no outcome for the record")

// backoff returns the wait after the n-th consecutive failure (n >= 1):
// d = MinBackoff * 2^(n-1) capped at MaxBackoff, jittered uniformly in
// [d/2, d].
func (r *Relay) backoff(n int) time.Duration {
	d := r.cfg.MaxBackoff
	if n-1 < 32 {
		d = min(r.cfg.MinBackoff<<(n-1), r.cfg.MaxBackoff)
	}
	if d <= 0 { // overflow
		d = r.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}
