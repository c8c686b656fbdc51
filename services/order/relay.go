package order

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

// Publisher sends one record and waits for the broker's acknowledgement.
// *messaging.Producer implements it.
//
// Send returns nil only once the record is acknowledged; any error means
// "not known to be written" (the relay sends the record again later, so
// delivery is at least once). Send must return promptly when ctx ends. It
// is called from one goroutine at a time.
type Publisher interface {
	Send(ctx context.Context, m events.Message) error
}

// RelayConfig tunes a Relay. Zero values take the defaults.
type RelayConfig struct {
	Interval       time.Duration // poll interval while idle, default 50ms
	Batch          int           // rows read per query, default 100
	PublishTimeout time.Duration // deadline of each Send, default 5s
	MinBackoff     time.Duration // first wait after a failed Send, default 100ms
	MaxBackoff     time.Duration // cap of the doubling wait, default 2s
}

// Relay publishes the outbox: it reads unpublished rows oldest first, sends
// each with a PublishTimeout deadline and marks a row published only after
// the broker acknowledged it. On a failure it stops the batch (so later
// rows never overtake an earlier one, keeping per-order order) and retries
// from the same row after an exponential backoff with jitter (MinBackoff
// doubling up to MaxBackoff). Rows are never dropped and survive restarts.
// A crash between the acknowledgement and the mark republishes that row:
// consumers must deduplicate by event ID or be idempotent.
type Relay struct {
	st        *Store
	pub       Publisher
	cfg       RelayConfig
	log       *slog.Logger
	wake      chan struct{}
	published atomic.Int64
	failures  atomic.Int64
}

// NewRelay returns a relay over st's outbox. log may be nil.
func NewRelay(st *Store, pub Publisher, cfg RelayConfig, log *slog.Logger) *Relay {
	if cfg.Interval <= 0 {
		cfg.Interval = 50 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(2*time.Second, cfg.MinBackoff)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{st: st, pub: pub, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Published returns how many rows this relay has published since it was
// created.
func (r *Relay) Published() int64 { return r.published.Load() }

// Failures returns how many publish rounds failed (each followed by a
// backoff) since the relay was created.
func (r *Relay) Failures() int64 { return r.failures.Load() }

// Wake makes an idle relay poll now. It never blocks. A relay backing off
// after a failure ignores it until the backoff ends.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then returns nil (it always does). After ctx
// ends it returns as soon as the Send in flight, if any, honours ctx. It
// must not run twice at once on one outbox.
func (r *Relay) Run(ctx context.Context) error {
	var fails int
	for {
		err := r.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait, wake := r.cfg.Interval, r.wake
		if err != nil {
			fails++
			r.failures.Add(1)
			wait, wake = r.backoff(fails), nil
			r.log.Warn("outbox relay: publish failed, backing off", "err", err, "attempt", fails, "wait", wait)
		} else if fails > 0 {
			r.log.Info("outbox relay: publishing again", "after_failures", fails)
			fails = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

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

// drain publishes batches until the outbox is empty or a step fails.
func (r *Relay) drain(ctx context.Context) error {
	for {
		rows, err := r.st.unpublished(ctx, r.cfg.Batch)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := r.publish(ctx, row); err != nil {
				return err
			}
		}
		if len(rows) < r.cfg.Batch {
			return nil
		}
	}
}

func (r *Relay) publish(ctx context.Context, row outboxRow) error {
	sctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	if err := r.pub.Send(sctx, row.msg); err != nil {
		return err
	}
	// Acknowledged: record it even if ctx just ended, or the row would be
	// sent again after a restart.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.st.markPublished(mctx, row.seq, time.Now()); err != nil {
		return err
	}
	r.published.Add(1)
	r.log.Debug("outbox row published", "seq", row.seq, "event_id", row.eventID, "topic", row.msg.Topic, "key", row.msg.Key)
	return nil
}
