package messaging_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"

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

// sqliteBusy returns the error SQLite gives a writer while another
// connection holds the write lock (SQLITE_BUSY, no busy timeout).
func sqliteBusy(t *testing.T) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Close() })
	if _, err := holder.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	_, err = other.Exec("INSERT INTO t VALUES (2)")
	if err == nil {
		t.Fatal("a second writer got the lock")
	}
	return fmt.Errorf("reserve batch: %w", err)
}

// TestClassify: one case per class of handler error the consumers meet.
func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want messaging.ErrorClass
	}{
		{"schema violation", fmt.Errorf("decode: %w", events.ErrInvalid), messaging.ClassPermanent},
		{"too large", fmt.Errorf("publish: %w", messaging.ErrTooLarge), messaging.ClassPermanent},
		{"marked permanent over a transient cause", messaging.Permanent(context.DeadlineExceeded), messaging.ClassPermanent},
		{"broker unreachable", fmt.Errorf("produce to t: %w", fmt.Errorf("%w: dial tcp: connection refused", sarama.ErrOutOfBrokers)), messaging.ClassTransient},
		{"broker not connected", fmt.Errorf("produce: %w", sarama.ErrNotConnected), messaging.ClassTransient},
		{"producer breaker open", fmt.Errorf("produce: %w", breaker.ErrBreakerOpen), messaging.ClassTransient},
		{"publish deadline while Kafka is down", fmt.Errorf("publish: %w", context.DeadlineExceeded), messaging.ClassTransient},
		{"session ending", context.Canceled, messaging.ClassTransient},
		{"connection closed mid-request", fmt.Errorf("produce: %w", io.EOF), messaging.ClassTransient},
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, messaging.ClassTransient},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), messaging.ClassTransient},
		{"broker: not leader", sarama.ErrNotLeaderForPartition, messaging.ClassTransient},
		{"broker: request timed out", fmt.Errorf("produce: %w", sarama.ErrRequestTimedOut), messaging.ClassTransient},
		{"broker: not enough replicas", sarama.ErrNotEnoughReplicas, messaging.ClassTransient},
		{"producer closed", messaging.ErrClosed, messaging.ClassTransient},
		{"ambiguous produce: response without our partition", fmt.Errorf("produce: %w", sarama.ErrIncompleteResponse), messaging.ClassTransient},
		{"ambiguous produce: CRC failure on the way", sarama.ErrInvalidMessage, messaging.ClassTransient},
		{"ambiguous produce: idempotent sequence out of order", sarama.ErrOutOfOrderSequenceNumber, messaging.ClassTransient},
		{"SQLite busy", sqliteBusy(t), messaging.ClassTransient},
		{"marked transient (commit failure)", messaging.Transient(errors.New("commit: coordinator moved")), messaging.ClassTransient},
		{"unforeseen deterministic error", errors.New("build outcome: json: unsupported value: NaN"), messaging.ClassUnclassified},
		{"a message that only reads like an outage", errors.New("connection refused"), messaging.ClassUnclassified},
		{"broker: an answer retrying cannot change, not listed", sarama.ErrUnsupportedVersion, messaging.ClassUnclassified},
	}
	for _, c := range cases {
		if got := messaging.Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	if messaging.Transient(nil) != nil || messaging.IsTransient(nil) {
		t.Error("Transient(nil) != nil or IsTransient(nil)")
	}
	inner := errors.New("inner")
	if tr := messaging.Transient(inner); !errors.Is(tr, inner) || tr.Error() != "inner" || !messaging.IsTransient(tr) {
		t.Errorf("Transient(inner) = %v: loses the wrapped error or the mark", tr)
	}
}
