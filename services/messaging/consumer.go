package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/services/events"
)

// Handler processes one record. It must be idempotent: a record can be
// delivered again after a rebalance or a lost offset commit.
//
// Return nil when done (the offset is then marked and committed), an error
// wrapping events.ErrInvalid for a poison message (it goes to the
// dead-letter topic and the offset moves on), or any other error for a
// transient failure (the record is retried with backoff, never skipped).
type Handler func(ctx context.Context, m events.Message) error

// ConsumerConfig configures a consumer-group member.
type ConsumerConfig struct {
	Kafka Config
	// Group is the consumer group ID (Kafka group.id).
	Group string
	// Topics to subscribe to.
	Topics []string
	// DeadLetter publishes poison messages; nil logs and skips them.
	DeadLetter *Producer
	// RetryBackoff is the wait before retrying a transiently failed
	// record and before re-joining the group after an error. Default 250ms.
	RetryBackoff time.Duration
}

// Consumer runs a consumer-group member. Lag and counters are safe to read
// from other goroutines while Run is running.
type Consumer struct {
	cfg     ConsumerConfig
	handle  Handler
	log     *slog.Logger
	group   sarama.ConsumerGroup
	lag     sync.Map // "topic/partition" -> int64
	handled atomic.Int64
	dead    atomic.Int64
}

// NewConsumer joins nothing yet; it creates the group client. It fails when
// no broker answers within the configured timeouts.
func NewConsumer(cfg ConsumerConfig, h Handler, log *slog.Logger) (*Consumer, error) {
	if cfg.Group == "" || len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("consumer config: group and topics are required")
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 250 * time.Millisecond
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
// last record fetched. 0 when nothing is claimed.
func (c *Consumer) Lag() int64 {
	var total int64
	c.lag.Range(func(_, v any) bool { total += v.(int64); return true })
	return total
}

// Handled is the number of records processed successfully; DeadLettered
// the number sent to the dead-letter topic.
func (c *Consumer) Handled() int64      { return c.handled.Load() }
func (c *Consumer) DeadLettered() int64 { return c.dead.Load() }

// Setup is part of sarama.ConsumerGroupHandler.
func (c *Consumer) Setup(s sarama.ConsumerGroupSession) error {
	c.log.Debug("partitions claimed", "group", c.cfg.Group, "claims", s.Claims())
	return nil
}

// Cleanup is part of sarama.ConsumerGroupHandler.
func (c *Consumer) Cleanup(s sarama.ConsumerGroupSession) error {
	for topic, parts := range s.Claims() {
		for _, p := range parts {
			c.lag.Delete(fmt.Sprintf("%s/%d", topic, p))
		}
	}
	return nil
}

// ConsumeClaim is part of sarama.ConsumerGroupHandler. Records of one
// partition are processed in order; a record is marked only after its
// handler succeeded or it was dead-lettered.
func (c *Consumer) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	key := fmt.Sprintf("%s/%d", claim.Topic(), claim.Partition())
	ctx := s.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case cm, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !c.process(ctx, cm) {
				return nil // session ending; the record stays unmarked
			}
			s.MarkMessage(cm, "")
			c.lag.Store(key, max(0, claim.HighWaterMarkOffset()-cm.Offset-1))
		}
	}
}

// process runs the handler until it succeeds or the record is
// dead-lettered. It returns false when ctx ended first.
func (c *Consumer) process(ctx context.Context, cm *sarama.ConsumerMessage) bool {
	m := FromSarama(cm)
	for {
		err := c.handle(ctx, m)
		if err == nil {
			c.handled.Add(1)
			return true
		}
		if errors.Is(err, events.ErrInvalid) {
			if c.deadLetter(ctx, m, err) {
				return true
			}
		} else {
			c.log.Warn("handler failed, will retry", "topic", m.Topic, "offset", cm.Offset, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(c.cfg.RetryBackoff):
		}
	}
}

// deadLetter publishes m to the dead-letter topic with the reason. It
// returns false when publishing failed (the caller retries).
func (c *Consumer) deadLetter(ctx context.Context, m events.Message, reason error) bool {
	c.log.Warn("poison message to dead-letter topic", "topic", m.Topic, "key", m.Key, "reason", reason)
	if c.cfg.DeadLetter == nil {
		c.dead.Add(1)
		return true
	}
	dl := events.Message{
		Topic:   events.TopicDeadLetter,
		Key:     m.Key,
		Value:   m.Value,
		Headers: append(append([]events.Header{}, m.Headers...), events.Header{Key: "dlq-reason", Value: reason.Error()}, events.Header{Key: "dlq-source-topic", Value: m.Topic}),
	}
	sendCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.cfg.DeadLetter.Send(sendCtx, dl); err != nil {
		c.log.Warn("dead-letter publish failed", "err", err)
		return false
	}
	c.dead.Add(1)
	return true
}
