package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// decodingHandler handles records that decode (recording them in h) and
// returns the decode error (wrapping events.ErrInvalid) otherwise.
func decodingHandler(h *handled) messaging.Handler {
	return func(_ context.Context, m events.Message) error {
		if _, err := events.Decode(m.Value); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		h.add(m)
		return nil
	}
}

// deadLetters runs a consumer of the dead-letter topic and returns what it
// reads.
func deadLetters(t *testing.T, kc messaging.Config) *handled {
	t.Helper()
	var dead handled
	startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "dlq"), Topics: []string{events.TopicDeadLetter}}, dead.handler())
	return &dead
}

// TestPermanentErrorDeadLetteredAfterMaxAttempts: a handler error marked
// messaging.Permanent is attempted exactly MaxAttempts times, then the
// record goes to the dead-letter topic whole (with its reason, source and
// attempts) and the records behind it are processed.
func TestPermanentErrorDeadLetteredAfterMaxAttempts(t *testing.T) {
	topic, cons, tries, dl := failSecondOfFour(t, messaging.ConsumerConfig{MaxAttempts: 4, RetryBackoff: 10 * time.Millisecond},
		messaging.Permanent(errors.New("outcome too large to publish")))
	if tries != 4 {
		t.Fatalf("poison record attempted %d times, want MaxAttempts = 4", tries)
	}
	if dl.Header(events.HeaderEventID) != "order#1" || dl.Header(messaging.HeaderDLQFormat) != messaging.DLQFormatRecord ||
		dl.Header(messaging.HeaderDLQSourceTopic) != topic || dl.Header(messaging.HeaderDLQSourceOffset) != "1" ||
		dl.Header(messaging.HeaderDLQSourcePartition) != "0" || dl.Header(messaging.HeaderDLQAttempts) != "4" ||
		dl.Header(messaging.HeaderDLQReason) != "outcome too large to publish" || seqOf(t, dl.Value) != 1 {
		t.Fatalf("dead letter %+v", dl)
	}
	want := messaging.ConsumerStats{Handled: 3, HandlerAttempts: 7, HandlerErrorsPermanent: 4, DeadLettered: 1, DeadLetteredWhole: 1}
	if got := cons.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// failSecondOfFour sends four records to a new one-partition topic and
// consumes them with cfg (Kafka, group, topic and dead-letter producer
// filled in) and a handler that fails record 1 with failWith every time.
// It waits (20 s) until the other three were handled, in order, and the
// record was dead-lettered once, and returns the topic, the consumer, how
// many times record 1 was attempted and its dead letter.
func failSecondOfFour(t *testing.T, cfg messaging.ConsumerConfig, failWith error) (string, *messaging.Consumer, int32, events.Message) {
	t.Helper()
	topic, kc, p := startTopic(t, 1, events.TopicDeadLetter)
	for i := range 4 {
		send(t, p, record(t, topic, "order", i))
	}
	cfg.Kafka, cfg.Group, cfg.Topics, cfg.DeadLetter = kc, testkit.Uniq(t, "group"), []string{topic}, p
	var tries atomic.Int32
	var h handled
	cons := startConsumer(t, cfg, func(_ context.Context, m events.Message) error {
		if seqOf(t, m.Value) == 1 {
			tries.Add(1)
			return failWith
		}
		h.add(m)
		return nil
	})
	dead := deadLetters(t, kc)
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		return h.count() == 3 && dead.count() == 1, fmt.Sprintf("handled %d/3, dead letters %d/1", h.count(), dead.count())
	})
	if ids := h.eventIDs(); !slices.Equal(ids, []string{"order#0", "order#2", "order#3"}) {
		t.Fatalf("handled %v", ids)
	}
	return topic, cons, tries.Load(), dead.All()[0]
}

// TestUnclassifiedErrorDeadLetteredAfterItsBound: a handler error nobody
// classified (a deterministic bug) is attempted MaxUnclassifiedAttempts
// times, then the record is dead-lettered with reason
// "unclassified_error_after_N_attempts: ..." and the records behind it on
// its partition are processed; it is counted in the stats.
func TestUnclassifiedErrorDeadLetteredAfterItsBound(t *testing.T) {
	_, cons, tries, dl := failSecondOfFour(t, messaging.ConsumerConfig{MaxUnclassifiedAttempts: 5, RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond},
		errors.New("build outcome for order o1: json: unsupported value: NaN"))
	if tries != 5 {
		t.Fatalf("record attempted %d times, want MaxUnclassifiedAttempts = 5", tries)
	}
	if reason := dl.Header(messaging.HeaderDLQReason); reason != "unclassified_error_after_5_attempts: build outcome for order o1: json: unsupported value: NaN" ||
		dl.Header(events.HeaderEventID) != "order#1" || dl.Header(messaging.HeaderDLQAttempts) != "5" || dl.Header(messaging.HeaderDLQSourceOffset) != "1" {
		t.Fatalf("dead letter %+v", dl)
	}
	want := messaging.ConsumerStats{Handled: 3, HandlerAttempts: 8, HandlerErrorsUnclassified: 5, DeadLettered: 1, DeadLetteredWhole: 1, DeadLetteredUnclassified: 1}
	if got := cons.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// TestOversizedPoisonDeadLetteredAsEnvelope: a record under the producer
// limit whose dead-letter copy (plus the dlq-* headers) is over it goes to
// the dead-letter topic as a JSON envelope with the first 64 KiB of the
// value, and the records behind it are processed.
func TestOversizedPoisonDeadLetteredAsEnvelope(t *testing.T) {
	topic, kc, p := startTopic(t, 1, events.TopicDeadLetter)
	poison := testkit.NearLimitPoison(topic, "order")
	send(t, p, record(t, topic, "order", 0))
	send(t, p, poison)
	send(t, p, record(t, topic, "order", 2))

	var h handled
	cons := startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}, DeadLetter: p,
		RetryBackoff: 10 * time.Millisecond}, decodingHandler(&h))
	dead := deadLetters(t, kc)
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		return h.count() == 2 && dead.count() == 1, fmt.Sprintf("handled %d/2, dead letters %d/1", h.count(), dead.count())
	})
	dl := dead.All()[0]
	if dl.Header(messaging.HeaderDLQFormat) != messaging.DLQFormatEnvelope || dl.Header(messaging.HeaderDLQSourceTopic) != topic ||
		dl.Header(events.HeaderContentType) != events.ContentType || dl.Key != "order" {
		t.Fatalf("envelope record headers %+v key %q", dl.Headers, dl.Key)
	}
	var env messaging.DeadLetterEnvelope
	if err := json.Unmarshal(dl.Value, &env); err != nil {
		t.Fatalf("envelope is not JSON: %v", err)
	}
	if env.SourceTopic != topic || env.SourcePartition != 0 || env.SourceOffset != 1 || env.Key != "order" ||
		env.OriginalSize != messaging.RecordSize(poison) || env.ValueSize != len(poison.Value) || env.Attempts != messaging.DefaultMaxAttempts ||
		!strings.Contains(env.Reason, events.ErrInvalid.Error()) || env.ValueEncoding != "utf8" || !env.ValueTruncated ||
		env.ValuePrefix != string(poison.Value[:messaging.DeadLetterValuePrefix]) || env.DeadLetteredAt.IsZero() ||
		len(env.Headers) != 1 || env.Headers[0] != poison.Headers[0] {
		env.ValuePrefix = env.ValuePrefix[:20] + "..."
		t.Fatalf("envelope %+v", env)
	}
	st := cons.Stats()
	if st.DeadLettered != 1 || st.DeadLetteredEnvelope != 1 || st.DeadLetteredWhole != 0 || st.DeadLettersDropped != 0 || st.Handled != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// flakySender fails the first n sends with err, then passes them to next.
type flakySender struct {
	next messaging.Sender
	err  error
	n    atomic.Int32
	mu   sync.Mutex
	seen int
}

func (f *flakySender) Send(ctx context.Context, m events.Message) error {
	f.mu.Lock()
	f.seen++
	f.mu.Unlock()
	if f.n.Add(-1) >= 0 {
		return f.err
	}
	return f.next.Send(ctx, m)
}

// TestDeadLetterPublishFailures: a transient dead-letter publish failure
// is retried until it succeeds (nothing dropped); a permanent one, even
// for the envelope, drops the record, counts it and moves on.
func TestDeadLetterPublishFailures(t *testing.T) {
	topic, kc, p := startTopic(t, 1, events.TopicDeadLetter)
	send(t, p, events.Message{Topic: topic, Key: "order", Value: []byte("{not json")})
	send(t, p, record(t, topic, "order", 1))

	for _, tc := range []struct {
		name          string
		err           error
		fails         int32
		dead, dropped int64
		sends         int
	}{
		{"transient", errors.New("broker unreachable"), 3, 1, 0, 4},
		{"permanent", fmt.Errorf("produce: %w", messaging.ErrTooLarge), 1 << 20, 0, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &flakySender{next: p, err: tc.err}
			fs.n.Store(tc.fails)
			var h handled
			cons := startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}, DeadLetter: fs,
				MaxAttempts: 1, RetryBackoff: 10 * time.Millisecond}, decodingHandler(&h))
			testkit.Eventually(t, 20*time.Second, func() (bool, string) { return h.count() == 1, fmt.Sprintf("handled %d/1", h.count()) })
			st := cons.Stats()
			fs.mu.Lock()
			sends := fs.seen
			fs.mu.Unlock()
			if st.DeadLettered != tc.dead || st.DeadLettersDropped != tc.dropped || sends != tc.sends {
				t.Fatalf("stats %+v after %d dead-letter sends; want dead-lettered %d, dropped %d, %d sends", st, sends, tc.dead, tc.dropped, tc.sends)
			}
		})
	}
}

// TestTransientOutageDeadLettersNothing: a handler failing with the
// known-transient errors of an outage (broker unreachable, the producer's
// breaker open, a publish deadline, a refused dial, a commit failure
// marked Transient) many more times than MaxAttempts and
// MaxUnclassifiedAttempts is retried until the outage ends; nothing is
// dead-lettered and order is kept.
func TestTransientOutageDeadLettersNothing(t *testing.T) {
	topic, kc, p := startTopic(t, 1, events.TopicDeadLetter)
	for i := range 3 {
		send(t, p, record(t, topic, "order", i))
	}
	var outage atomic.Bool
	outage.Store(true)
	var calls atomic.Int64
	outageErrors := []error{
		fmt.Errorf("publish stock-reserved:o1: produce to stock-reserved: %w", fmt.Errorf("%w: dial tcp 127.0.0.1:1: connect: connection refused", sarama.ErrOutOfBrokers)),
		fmt.Errorf("publish stock-reserved:o1: produce to stock-reserved: %w", breaker.ErrBreakerOpen),
		fmt.Errorf("publish stock-reserved:o1: %w", context.DeadlineExceeded),
		fmt.Errorf("publish: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
		messaging.Transient(errors.New("commit offsets: coordinator unreachable")),
	}
	var h handled
	cons := startBatchConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}, DeadLetter: p,
		MaxAttempts: 2, MaxUnclassifiedAttempts: 2, RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond},
		func(_ context.Context, batch []events.Message) []error {
			errs := make([]error, len(batch))
			for i, m := range batch {
				if outage.Load() {
					errs[i] = outageErrors[calls.Add(1)%int64(len(outageErrors))]
					continue
				}
				h.add(m)
			}
			return errs
		})
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		n := cons.Stats().HandlerErrorsTransient
		return n >= 10, fmt.Sprintf("%d transient failures so far", n)
	})
	outage.Store(false)
	testkit.Eventually(t, 20*time.Second, func() (bool, string) { return h.count() == 3, fmt.Sprintf("handled %d/3", h.count()) })
	if ids := h.eventIDs(); !slices.Equal(ids, []string{"order#0", "order#1", "order#2"}) {
		t.Fatalf("handled %v", ids)
	}
	if st := cons.Stats(); st.DeadLettered != 0 || st.DeadLettersDropped != 0 || st.HandlerErrorsPermanent != 0 || st.HandlerErrorsUnclassified != 0 || st.Handled != 3 {
		t.Fatalf("stats %+v: a transient outage must dead-letter nothing", st)
	}
}

// TestBatchConsumerIsolatesPoison: records arrive in batches of more than
// one; a poison record inside a batch is dead-lettered alone, the others
// are handled once each.
func TestBatchConsumerIsolatesPoison(t *testing.T) {
	topic, kc, p := startTopic(t, 1, events.TopicDeadLetter)
	const n = 50
	for i := range n {
		if i == 20 {
			send(t, p, events.Message{Topic: topic, Key: "order", Value: []byte("[]")})
			continue
		}
		send(t, p, record(t, topic, "order", i))
	}
	var h handled
	var biggest atomic.Int32
	cons := startBatchConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}, DeadLetter: p,
		RetryBackoff: 5 * time.Millisecond},
		func(ctx context.Context, batch []events.Message) []error {
			if int32(len(batch)) > biggest.Load() {
				biggest.Store(int32(len(batch)))
			}
			errs := make([]error, len(batch))
			for i, m := range batch {
				errs[i] = decodingHandler(&h)(ctx, m)
			}
			return errs
		})
	testkit.Eventually(t, 20*time.Second, func() (bool, string) {
		return h.count() == n-1 && cons.DeadLettered() == 1, fmt.Sprintf("handled %d/%d, dead-lettered %d/1", h.count(), n-1, cons.DeadLettered())
	})
	seen := map[string]int{}
	for _, id := range h.eventIDs() {
		seen[id]++
	}
	if len(seen) != n-1 {
		t.Fatalf("handled %d distinct records, want %d", len(seen), n-1)
	}
	if biggest.Load() < 2 {
		t.Fatalf("largest batch %d: records were never handed over together", biggest.Load())
	}
}
