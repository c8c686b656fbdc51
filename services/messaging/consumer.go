package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/cenkalti/backoff/v5"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// Handler processes one record. It must be idempotent: a record can be
// delivered again after a rebalance or a lost offset commit.
//
// Return nil when done (the offset is then marked and committed). Errors
// are sorted by Classify:
//   - permanent (IsPermanent: wrapping events.ErrInvalid, ErrTooLarge or
//     marked with Permanent): ConsumerConfig.MaxAttempts attempts, then the
//     record goes to the dead-letter topic and the partition moves on;
//   - transient (IsTransient: broker or network unreachable, a context
//     deadline, SQLite busy/locked, marked with Transient): retried with
//     capped exponential backoff, without limit, never skipped;
//   - unclassified (anything else, e.g. a deterministic bug nobody
//     foresaw): retried with the same backoff, at most
//     ConsumerConfig.MaxUnclassifiedAttempts times, then dead-lettered with
//     reason "unclassified_error_after_N_attempts: <error>".
//
// An error returned while the session is ending (ctx done) counts as
// transient: the record is redelivered, never given up on.
type Handler func(ctx context.Context, m events.Message) error

// BatchHandler processes records fetched together from one partition, in
// offset order, and returns one error per record (same length and order;
// nil: done). The same rules as Handler apply to each error; a record
// whose error is ErrNotAttempted was not processed (the handler stopped
// early, e.g. to keep per-partition order behind a failed record) and is
// handed over again without counting an attempt. A retry hands over only
// the records that are not done, so the handler must be idempotent per
// record. A result of the wrong length counts as a transient failure of
// every record.
type BatchHandler func(ctx context.Context, batch []events.Message) []error

// ErrNotAttempted is a BatchHandler's error for a record it did not process.
var ErrNotAttempted = errors.New("record not attempted")

// Sender publishes one record and returns once the broker acknowledged
// it; *Producer satisfies it. It must honour ctx and be safe for
// concurrent use.
type Sender interface {
	Send(ctx context.Context, m events.Message) error
}

// Consumer defaults.
const (
	// DefaultMaxAttempts is ConsumerConfig.MaxAttempts when unset.
	DefaultMaxAttempts = 3
	// DefaultMaxUnclassifiedAttempts is ConsumerConfig.MaxUnclassifiedAttempts
	// when unset: with the default backoff (250 ms doubling to 2 s) the
	// record is given up on ~14 s after its first failure, longer than
	// the scenarios' outages (8 s), so an outage error that slipped past
	// IsTransient is not dead-lettered by them.
	DefaultMaxUnclassifiedAttempts = 10
	// DefaultBatchSize is ConsumerConfig.BatchSize when unset.
	DefaultBatchSize = 256
	// DefaultMaxRetryBackoff is ConsumerConfig.MaxRetryBackoff when unset.
	DefaultMaxRetryBackoff = 2 * time.Second
	// DeadLetterValuePrefix is how much of a record's value a dead-letter
	// envelope keeps: the first 64 KiB.
	DeadLetterValuePrefix = 64 << 10
)

// Dead-letter headers, on the whole-record copy and on the envelope.
const (
	HeaderDLQReason          = "dlq-reason"           // the error, at most 4 KiB
	HeaderDLQSourceTopic     = "dlq-source-topic"     // topic the record was consumed from
	HeaderDLQSourcePartition = "dlq-source-partition" // its partition (decimal)
	HeaderDLQSourceOffset    = "dlq-source-offset"    // its offset (decimal)
	HeaderDLQFormat          = "dlq-format"           // DLQFormatRecord or DLQFormatEnvelope
	HeaderDLQAttempts        = "dlq-attempts"         // handler attempts made (decimal)

	DLQFormatRecord   = "record"   // the original key, value and headers plus the dlq-* headers
	DLQFormatEnvelope = "envelope" // a JSON DeadLetterEnvelope as the value
)

// ConsumerConfig configures a consumer-group member.
type ConsumerConfig struct {
	Kafka Config
	// Group is the consumer group ID (Kafka group.id).
	Group string
	// Topics to subscribe to.
	Topics []string
	// DeadLetter publishes dead letters to events.TopicDeadLetter; nil logs
	// and skips them (counted as dead_letters_dropped).
	DeadLetter Sender
	// MaxAttempts is how many times a record whose handler error is
	// permanent is attempted before it is dead-lettered. Default
	// DefaultMaxAttempts (3); negative is an error.
	MaxAttempts int
	// MaxUnclassifiedAttempts is how many times a record whose handler
	// error is unclassified (neither IsPermanent nor IsTransient) is
	// attempted before it is dead-lettered. Default
	// DefaultMaxUnclassifiedAttempts (10); negative is an error.
	MaxUnclassifiedAttempts int
	// BatchSize is the most records handed to the handler at once: what
	// the partition's fetch already holds, taken without waiting. Default
	// DefaultBatchSize (256); negative is an error.
	BatchSize int
	// RetryBackoff is the first wait before retrying a failed record (it
	// doubles, with jitter, up to MaxRetryBackoff) and the wait before
	// re-joining the group after an error. Default 250ms.
	RetryBackoff time.Duration
	// MaxRetryBackoff caps the wait between retries of a transiently
	// failing record or dead-letter publish. Default 2s.
	MaxRetryBackoff time.Duration
}

// ConsumerStats are a consumer's counters since it was created (GET /stats
// of the consuming services).
type ConsumerStats struct {
	// Handled: records processed successfully.
	Handled int64 `json:"handled"`
	// HandlerAttempts: records handed to the handler, retries included.
	HandlerAttempts int64 `json:"handler_attempts"`
	// HandlerErrorsTransient, HandlerErrorsPermanent: failed attempts by
	// error class (see Handler).
	// HandlerErrorsUnclassified: failed attempts whose error is neither
	// (bounded by MaxUnclassifiedAttempts).
	HandlerErrorsTransient    int64 `json:"handler_errors_transient"`
	HandlerErrorsPermanent    int64 `json:"handler_errors_permanent"`
	HandlerErrorsUnclassified int64 `json:"handler_errors_unclassified"`
	// DeadLettered: records published to the dead-letter topic, as the
	// whole record (DeadLetteredWhole) or as an envelope
	// (DeadLetteredEnvelope).
	DeadLettered         int64 `json:"dead_lettered"`
	DeadLetteredWhole    int64 `json:"dead_lettered_whole"`
	DeadLetteredEnvelope int64 `json:"dead_lettered_envelope"`
	// DeadLetteredUnclassified: of DeadLettered (and DeadLettersDropped),
	// the records given up on after MaxUnclassifiedAttempts unclassified
	// errors.
	DeadLetteredUnclassified int64 `json:"dead_lettered_unclassified"`
	// DeadLettersDropped: records given up on that could not be
	// dead-lettered at all (no dead-letter producer, or even the envelope
	// was refused permanently); each is logged at Error.
	DeadLettersDropped int64 `json:"dead_letters_dropped"`
}

// Consumer runs a consumer-group member. Lag and counters are safe to read
// from other goroutines while Run is running.
type Consumer struct {
	cfg    ConsumerConfig
	handle BatchHandler
	log    *slog.Logger
	group  sarama.ConsumerGroup
	lag    sync.Map // "topic/partition" -> int64

	handled, attempts, errTransient, errPermanent, errUnclassified atomic.Int64
	dead, deadWhole, deadEnvelope, deadDropped, deadUnclassified   atomic.Int64
}

// NewConsumer is NewBatchConsumer with a Handler called once per record,
// in offset order, each record marked as soon as it is done (BatchSize is
// ignored: batches of one).
func NewConsumer(cfg ConsumerConfig, h Handler, log *slog.Logger) (*Consumer, error) {
	cfg.BatchSize = 1
	return NewBatchConsumer(cfg, func(ctx context.Context, batch []events.Message) []error {
		errs := make([]error, len(batch))
		for i, m := range batch {
			errs[i] = h(ctx, m)
		}
		return errs
	}, log)
}

// NewBatchConsumer creates the group client; it joins nothing yet. It
// fails on an invalid config or when no broker answers within the
// configured timeouts.
func NewBatchConsumer(cfg ConsumerConfig, h BatchHandler, log *slog.Logger) (*Consumer, error) {
	if cfg.Group == "" || len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("consumer config: group and topics are required")
	}
	if cfg.MaxAttempts < 0 || cfg.MaxUnclassifiedAttempts < 0 || cfg.BatchSize < 0 {
		return nil, fmt.Errorf("consumer config: max attempts %d, max unclassified attempts %d and batch size %d must not be negative",
			cfg.MaxAttempts, cfg.MaxUnclassifiedAttempts, cfg.BatchSize)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxUnclassifiedAttempts == 0 {
		cfg.MaxUnclassifiedAttempts = DefaultMaxUnclassifiedAttempts
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 250 * time.Millisecond
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = DefaultMaxRetryBackoff
	}
	cfg.MaxRetryBackoff = max(cfg.MaxRetryBackoff, cfg.RetryBackoff)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sc, err := SaramaConfig(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	g, err := sarama.NewConsumerGroup(cfg.Kafka.Brokers, cfg.Group, sc)
	if err != nil {
		return nil, fmt.Errorf("create consumer group %s on %v: %w", cfg.Group, cfg.Kafka.Brokers, err)
	}
	return &Consumer{cfg: cfg, handle: h, log: log, group: g}, nil
}

// Run consumes until ctx ends. It keeps calling Consume through broker
// loss and rebalances (sarama returns from Consume on every rebalance) and
// never stops silently: errors are logged and retried after RetryBackoff.
// It returns nil when ctx ends, after closing the group (which commits the
// marked offsets).
func (c *Consumer) Run(ctx context.Context) error {
	go func() {
		for err := range c.group.Errors() {
			c.log.Warn("consumer group error", "group", c.cfg.Group, "err", err)
		}
	}()
	defer func() {
		if err := c.group.Close(); err != nil {
			c.log.Warn("close consumer group", "group", c.cfg.Group, "err", err)
		}
	}()
	for ctx.Err() == nil {
		if err := c.group.Consume(ctx, c.cfg.Topics, c); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return nil
			}
			c.log.Warn("consume", "group", c.cfg.Group, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(c.cfg.RetryBackoff):
			}
		}
	}
	return nil
}

// Lag returns the consumer lag summed over this member's claimed
// partitions: high-water mark minus the next offset to process, as of the
// last record fetched. 0 when nothing is claimed. It is the consumer's own
// figure: measure lag at the broker (committed vs log-end offset) instead.
func (c *Consumer) Lag() int64 {
	var total int64
	c.lag.Range(func(_, v any) bool { total += v.(int64); return true })
	return total
}

// Handled is the number of records processed successfully; DeadLettered
// the number sent to the dead-letter topic.
func (c *Consumer) Handled() int64      { return c.handled.Load() }
func (c *Consumer) DeadLettered() int64 { return c.dead.Load() }

// DeadLetteredUnclassified is the number of records given up on after
// MaxUnclassifiedAttempts unclassified errors (dead-lettered or dropped).
func (c *Consumer) DeadLetteredUnclassified() int64 { return c.deadUnclassified.Load() }

// HandlerErrorsUnclassified is the number of failed attempts whose error
// was unclassified.
func (c *Consumer) HandlerErrorsUnclassified() int64 { return c.errUnclassified.Load() }

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Handled: c.handled.Load(), HandlerAttempts: c.attempts.Load(),
		HandlerErrorsTransient: c.errTransient.Load(), HandlerErrorsPermanent: c.errPermanent.Load(),
		HandlerErrorsUnclassified: c.errUnclassified.Load(),
		DeadLettered:              c.dead.Load(), DeadLetteredWhole: c.deadWhole.Load(), DeadLetteredEnvelope: c.deadEnvelope.Load(),
		DeadLetteredUnclassified: c.deadUnclassified.Load(),
		DeadLettersDropped:       c.deadDropped.Load(),
	}
}

// Setup is part of sarama.ConsumerGroupHandler. It logs the session's
// start (the group joined and synced) at Info: with Cleanup's "session
// ended" it times a rejoin after a cut.
func (c *Consumer) Setup(s sarama.ConsumerGroupSession) error {
	c.log.Info("consumer session started", "group", c.cfg.Group, "member", s.MemberID(), "generation", s.GenerationID(), "claims", s.Claims())
	return nil
}

// Cleanup is part of sarama.ConsumerGroupHandler.
func (c *Consumer) Cleanup(s sarama.ConsumerGroupSession) error {
	c.log.Info("consumer session ended", "group", c.cfg.Group, "member", s.MemberID(), "generation", s.GenerationID(), "cause", context.Cause(s.Context()))
	for topic, parts := range s.Claims() {
		for _, p := range parts {
			c.lag.Delete(fmt.Sprintf("%s/%d", topic, p))
		}
	}
	return nil
}

// ConsumeClaim is part of sarama.ConsumerGroupHandler. It takes the
// records the claim already holds (up to BatchSize, without waiting for
// more), hands them to the handler and marks each record's offset once it
// and every record before it is done (handled or dead-lettered).
func (c *Consumer) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	key := fmt.Sprintf("%s/%d", claim.Topic(), claim.Partition())
	ctx := s.Context()
	batch := make([]*sarama.ConsumerMessage, 0, c.cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case cm, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			batch = append(batch, cm)
		}
	fill:
		for len(batch) < c.cfg.BatchSize {
			select {
			case cm, ok := <-claim.Messages():
				if !ok {
					break fill
				}
				batch = append(batch, cm)
			default:
				break fill
			}
		}
		mark := func(cm *sarama.ConsumerMessage) {
			s.MarkMessage(cm, "")
			c.lag.Store(key, max(0, claim.HighWaterMarkOffset()-cm.Offset-1))
		}
		if !c.process(ctx, batch, mark) {
			return nil // session ending; unfinished records stay unmarked
		}
	}
}

// newBackoff returns the retry backoff: RetryBackoff doubling, with jitter,
// up to MaxRetryBackoff.
func (c *Consumer) newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier = c.cfg.RetryBackoff, c.cfg.MaxRetryBackoff, 2
	b.Reset()
	return b
}

// process runs the handler on the batch until every record is handled or
// dead-lettered, calling mark for each record in offset order as soon as
// it and the records before it are done. It returns false when ctx ended
// first.
func (c *Consumer) process(ctx context.Context, batch []*sarama.ConsumerMessage, mark func(*sarama.ConsumerMessage)) bool {
	msgs := make([]events.Message, len(batch))
	for i, cm := range batch {
		msgs[i] = FromSarama(cm)
	}
	done := make([]bool, len(batch))
	attempts := make([]int, len(batch))     // all attempts, for the dlq-attempts header
	failed := make([]int, len(batch))       // attempts that failed permanently, bounded by MaxAttempts
	unclassified := make([]int, len(batch)) // attempts that failed unclassified, bounded by MaxUnclassifiedAttempts
	next := 0                               // first record not marked yet
	bo := c.newBackoff()
	for {
		var todo []int
		var in []events.Message
		for i := next; i < len(batch); i++ {
			if !done[i] {
				todo, in = append(todo, i), append(in, msgs[i])
			}
		}
		errs := c.handle(ctx, in)
		if len(errs) != len(in) {
			err := fmt.Errorf("batch handler returned %d results for %d records", len(errs), len(in))
			errs = make([]error, len(in))
			for j := range errs {
				errs[j] = err
			}
		}
		backOff := false // a transient or unclassified failure: wait with the growing backoff
		for j, i := range todo {
			err := errs[j]
			if errors.Is(err, ErrNotAttempted) {
				continue
			}
			c.attempts.Add(1)
			attempts[i]++
			cm := batch[i]
			class := Classify(err)
			if err != nil && class == ClassUnclassified && ctx.Err() != nil {
				class = ClassTransient // the session is ending: redelivered, not given up on
			}
			switch {
			case err == nil:
				done[i] = true
				c.handled.Add(1)
			case class == ClassPermanent:
				c.errPermanent.Add(1)
				if failed[i]++; failed[i] < c.cfg.MaxAttempts {
					c.log.Warn("handler failed permanently, will retry", "topic", cm.Topic, "partition", cm.Partition, "offset", cm.Offset,
						"attempt", attempts[i], "max_attempts", c.cfg.MaxAttempts, "err", err)
					continue
				}
				if !c.deadLetter(ctx, cm, msgs[i], attempts[i], err) {
					return false
				}
				done[i] = true
			case class == ClassUnclassified:
				c.errUnclassified.Add(1)
				backOff = true
				if unclassified[i]++; unclassified[i] < c.cfg.MaxUnclassifiedAttempts {
					c.log.Warn("handler failed with an unclassified error, will retry", "topic", cm.Topic, "partition", cm.Partition, "offset", cm.Offset,
						"attempt", unclassified[i], "max_unclassified_attempts", c.cfg.MaxUnclassifiedAttempts, "err", err)
					continue
				}
				reason := fmt.Errorf("unclassified_error_after_%d_attempts: %w", unclassified[i], err)
				if !c.deadLetter(ctx, cm, msgs[i], attempts[i], reason) {
					return false
				}
				c.deadUnclassified.Add(1)
				done[i] = true
			default:
				c.errTransient.Add(1)
				backOff = true
				c.log.Warn("handler failed, will retry", "topic", cm.Topic, "partition", cm.Partition, "offset", cm.Offset, "err", err)
			}
		}
		for next < len(batch) && done[next] {
			mark(batch[next])
			next++
		}
		if next == len(batch) {
			return true
		}
		wait := c.cfg.RetryBackoff // only permanent failures left to retry
		if backOff {
			wait = bo.NextBackOff()
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// PartitionLag is one claimed partition's lag as this consumer sees it
// (records: high-water mark minus the next offset to process).
type PartitionLag = telemetry.PartitionLag

// LagByPartition returns the lag of each partition this member has
// processed a record of since it claimed it, as of the last record
// fetched (what Lag sums). It is self-reported: it does not move while
// nothing is fetched. Order unspecified; nil when nothing is claimed.
func (c *Consumer) LagByPartition() []PartitionLag {
	var out []PartitionLag
	c.lag.Range(func(k, v any) bool {
		topic, part, ok := strings.Cut(k.(string), "/")
		if p, err := strconv.ParseInt(part, 10, 32); ok && err == nil {
			out = append(out, PartitionLag{Topic: topic, Partition: int32(p), Lag: v.(int64)})
		}
		return true
	})
	return out
}
