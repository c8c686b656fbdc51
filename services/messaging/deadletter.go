package messaging

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/services/events"
)

// DeadLetterEnvelope is the value of a dead letter in envelope format
// (header dlq-format: envelope, content-type: application/json), used
// when the whole record plus the dlq-* headers would be over
// MaxMessageBytes or the broker refused it. It always fits: the value is
// cut to its first DeadLetterValuePrefix bytes, the key, reason and each
// header to 4 KiB, and the headers are left out (HeadersTruncated) when
// they alone would not fit.
type DeadLetterEnvelope struct {
	SourceTopic     string `json:"source_topic"`
	SourcePartition int32  `json:"source_partition"`
	SourceOffset    int64  `json:"source_offset"`
	Key             string `json:"key"`
	// Headers are the record's headers in order.
	Headers          []events.Header `json:"headers"`
	HeadersTruncated bool            `json:"headers_truncated,omitempty"`
	// OriginalSize is the record's size in bytes as the producer counts it
	// (RecordSize: key, value, headers, record overhead); ValueSize the
	// value's length in bytes.
	OriginalSize int `json:"original_size"`
	ValueSize    int `json:"value_size"`
	// Reason is the handler's last error; Attempts the handler attempts.
	Reason   string `json:"reason"`
	Attempts int    `json:"attempts"`
	// ValuePrefix holds the first min(ValueSize, 64 KiB) bytes of the
	// value: as a string when ValueEncoding is "utf8" (those bytes are
	// valid UTF-8), else standard base64 with ValueEncoding "base64".
	ValuePrefix    string `json:"value_prefix"`
	ValueEncoding  string `json:"value_encoding"`
	ValueTruncated bool   `json:"value_truncated"`
	// DeadLetteredAt is when the consumer gave up on the record (UTC).
	DeadLetteredAt time.Time `json:"dead_lettered_at"`
}

const dlqFieldLimit = 4 << 10 // key, reason, each header key and value in an envelope

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// deadLetter publishes m (consumed as cm) to the dead-letter topic: whole
// when it fits under MaxMessageBytes with the dlq-* headers, else (or when
// the broker refuses it permanently) as a DeadLetterEnvelope. A transient
// publish failure is retried with capped backoff; when even the envelope
// is refused permanently the record is counted as dropped and logged at
// Error, and the partition moves on. It returns false only when ctx ended
// first (the record stays unmarked).
func (c *Consumer) deadLetter(ctx context.Context, cm *sarama.ConsumerMessage, m events.Message, attempts int, reason error) bool {
	log := c.log.With("topic", cm.Topic, "partition", cm.Partition, "offset", cm.Offset, "key", cut(m.Key, 256), "attempts", attempts, "reason", reason)
	if c.cfg.DeadLetter == nil {
		c.deadDropped.Add(1)
		log.Error("record given up and dropped: no dead-letter producer")
		return true
	}
	src := []events.Header{
		{Key: HeaderDLQReason, Value: cut(reason.Error(), dlqFieldLimit)},
		{Key: HeaderDLQSourceTopic, Value: cm.Topic},
		{Key: HeaderDLQSourcePartition, Value: strconv.Itoa(int(cm.Partition))},
		{Key: HeaderDLQSourceOffset, Value: strconv.FormatInt(cm.Offset, 10)},
		{Key: HeaderDLQAttempts, Value: strconv.Itoa(attempts)},
	}
	whole := events.Message{
		Topic:   events.TopicDeadLetter,
		Key:     m.Key,
		Value:   m.Value,
		Headers: append(append(append([]events.Header{}, m.Headers...), src...), events.Header{Key: HeaderDLQFormat, Value: DLQFormatRecord}),
	}
	if RecordSize(whole) <= MaxMessageBytes {
		err := c.sendDeadLetter(ctx, whole)
		if err == nil {
			c.dead.Add(1)
			c.deadWhole.Add(1)
			log.Warn("record dead-lettered whole")
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("whole record refused by the dead-letter topic, sending an envelope", "err", err)
	}
	env := envelopeRecord(cm, m, attempts, reason, src)
	err := c.sendDeadLetter(ctx, env)
	if err == nil {
		c.dead.Add(1)
		c.deadEnvelope.Add(1)
		log.Warn("record dead-lettered as an envelope", "original_size", RecordSize(m))
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	c.deadDropped.Add(1)
	log.Error("record given up and dropped: even its dead-letter envelope was refused", "err", err)
	return true
}

// sendDeadLetter publishes m, retrying transient failures with capped
// backoff until ctx ends. It returns nil, a permanent error (IsPermanent)
// or ctx's error.
func (c *Consumer) sendDeadLetter(ctx context.Context, m events.Message) error {
	bo := c.newBackoff()
	for {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.cfg.DeadLetter.Send(sctx, m)
		cancel()
		if err == nil || IsPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := bo.NextBackOff()
		c.log.Warn("dead-letter publish failed, will retry", "err", err, "wait", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// envelopeRecord builds the envelope dead letter of m; it is always under
// MaxMessageBytes.
func envelopeRecord(cm *sarama.ConsumerMessage, m events.Message, attempts int, reason error, src []events.Header) events.Message {
	e := DeadLetterEnvelope{
		SourceTopic: cm.Topic, SourcePartition: cm.Partition, SourceOffset: cm.Offset,
		Key: cut(m.Key, dlqFieldLimit), OriginalSize: RecordSize(m), ValueSize: len(m.Value),
		Reason: cut(reason.Error(), dlqFieldLimit), Attempts: attempts, DeadLetteredAt: time.Now().UTC(),
	}
	prefix := m.Value[:min(len(m.Value), DeadLetterValuePrefix)]
	e.ValueTruncated = len(prefix) < len(m.Value)
	if utf8.Valid(prefix) {
		e.ValuePrefix, e.ValueEncoding = string(prefix), "utf8"
	} else {
		e.ValuePrefix, e.ValueEncoding = base64.StdEncoding.EncodeToString(prefix), "base64"
	}
	headerBytes := 0
	for _, h := range m.Headers {
		h = events.Header{Key: cut(h.Key, dlqFieldLimit), Value: cut(h.Value, dlqFieldLimit)}
		headerBytes += len(h.Key) + len(h.Value)
		e.Headers = append(e.Headers, h)
	}
	// JSON escaping at most sextuples a byte: keep the headers only while
	// the worst case stays well under the limit.
	if 6*(headerBytes+len(e.ValuePrefix)+3*dlqFieldLimit) > MaxMessageBytes-64<<10 {
		e.Headers, e.HeadersTruncated = nil, true
	}
	value, err := json.Marshal(e)
	if err != nil { // only strings, numbers and a time: cannot happen
		value = []byte(`{"reason":"envelope encoding failed"}`)
	}
	hs := append(append([]events.Header{}, src...),
		events.Header{Key: HeaderDLQFormat, Value: DLQFormatEnvelope},
		events.Header{Key: events.HeaderContentType, Value: events.ContentType})
	return events.Message{Topic: events.TopicDeadLetter, Key: e.Key, Value: value, Headers: hs}
}
