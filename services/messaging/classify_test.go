package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestIsPermanent: one case per class of error the relay and the
// consumers meet; everything not listed as permanent is transient.
func TestIsPermanent(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"marked permanent", messaging.Permanent(errors.New("reply too large")), true},
		{"marked permanent, wrapped again", fmt.Errorf("handle: %w", messaging.Permanent(errors.New("x"))), true},
		{"schema violation", fmt.Errorf("decode: %w", events.ErrInvalid), true},
		{"too large", fmt.Errorf("publish: %w", messaging.ErrTooLarge), true},
		{"sarama refuses an oversized record", fmt.Errorf("produce to t: %w", sarama.ConfigurationError("Attempt to produce message larger than configured Producer.MaxMessageBytes: 2 > 1")), true},
		{"serialisation", sarama.PacketEncodingError{Info: "bad header"}, true},
		{"broker: message too large", fmt.Errorf("produce: %w", sarama.ErrMessageSizeTooLarge), true},
		{"broker: invalid topic", sarama.ErrInvalidTopic, true},
		{"broker: topic authorization", sarama.ErrTopicAuthorizationFailed, true},
		{"broker: cluster authorization", sarama.ErrClusterAuthorizationFailed, true},
		{"broker: invalid record", sarama.ErrInvalidRecord, true},
		{"broker: not leader (transient)", sarama.ErrNotLeaderForPartition, false},
		{"broker: out of brokers (transient)", sarama.ErrOutOfBrokers, false},
		{"broker: request timed out (transient)", sarama.ErrRequestTimedOut, false},
		{"deadline (transient)", context.DeadlineExceeded, false},
		{"canceled (transient)", context.Canceled, false},
		{"producer closed (transient)", messaging.ErrClosed, false},
		{"unknown (transient)", errors.New("connection refused"), false},
	}
	for _, c := range cases {
		if got := messaging.IsPermanent(c.err); got != c.want {
			t.Errorf("%s: IsPermanent(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	if messaging.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	inner := errors.New("inner")
	if p := messaging.Permanent(inner); !errors.Is(p, inner) || p.Error() != "inner" {
		t.Errorf("Permanent(inner) = %v: loses the wrapped error", p)
	}
}

// TestRecordSizeMatchesTheProducersLimit: a record RecordSize puts over
// MaxMessageBytes is refused by the producer with a permanent error, one
// at the limit is sent.
func TestRecordSizeMatchesTheProducersLimit(t *testing.T) {
	c := testkit.StartKafka(t, 1, []string{"big"})
	p := newProducer(t, fastConfig(t, c.ListenAddrs()))
	m := events.Message{Topic: "big", Key: "k", Headers: []events.Header{{Key: "h", Value: "v"}}}
	m.Value = []byte(strings.Repeat("x", messaging.MaxMessageBytes-messaging.RecordSize(m)))
	if got := messaging.RecordSize(m); got != messaging.MaxMessageBytes {
		t.Fatalf("RecordSize = %d, want %d", got, messaging.MaxMessageBytes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	if err := p.Send(ctx, m); err != nil {
		t.Fatalf("a record of exactly MaxMessageBytes: %v", err)
	}
	m.Value = append(m.Value, 'x')
	err := p.Send(ctx, m)
	if err == nil || !messaging.IsPermanent(err) {
		t.Fatalf("a record one byte over: Send = %v, want a permanent error", err)
	}
}
