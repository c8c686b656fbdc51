package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestSendBatchReportsEachRecordAndKeepsKeyOrder sends one batch with a
// record over MaxMessageBytes in the middle: that record alone fails,
// permanently; every other one is acknowledged and consumed in the order
// it was sent (one key, one partition).
func TestSendBatchReportsEachRecordAndKeepsKeyOrder(t *testing.T) {
	topic, kc, p := startTopic(t, 3)

	const n, bad = 200, 117
	msgs := make([]events.Message, n)
	for i := range msgs {
		msgs[i] = record(t, topic, "order-1", i)
	}
	msgs[bad].Value = []byte(strings.Repeat("x", messaging.MaxMessageBytes+1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := p.SendBatch(ctx, msgs)
	if len(errs) != n {
		t.Fatalf("SendBatch returned %d errors for %d records", len(errs), n)
	}
	for i, err := range errs {
		switch {
		case i == bad && (err == nil || !messaging.IsPermanent(err)):
			t.Fatalf("oversized record %d: err = %v, want a permanent error", i, err)
		case i != bad && err != nil:
			t.Fatalf("record %d: %v", i, err)
		}
	}

	var h handled
	startConsumer(t, messaging.ConsumerConfig{Kafka: kc, Group: testkit.Uniq(t, "group"), Topics: []string{topic}}, h.handler())
	testkit.Eventually(t, 20*time.Second, func() (bool, string) { return h.count() == n-1, fmt.Sprintf("consumed %d/%d", h.count(), n-1) })
	want := make([]string, 0, n-1)
	for i, m := range msgs {
		if i != bad {
			want = append(want, m.Header(events.HeaderEventID))
		}
	}
	for i, m := range h.All() {
		if got := m.Header(events.HeaderEventID); got != want[i] {
			t.Fatalf("record %d consumed out of order: event %s, want %s", i, got, want[i])
		}
	}
}

func TestSendBatchEdgeCases(t *testing.T) {
	topic, _, p := startTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if errs := p.SendBatch(ctx, nil); errs != nil {
		t.Fatalf("SendBatch(nil) = %v, want nil", errs)
	}
	gone, stop := context.WithCancel(ctx)
	stop()
	for i, err := range p.SendBatch(gone, []events.Message{record(t, topic, "o", 1), record(t, topic, "o", 2)}) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("record %d with a cancelled context: %v", i, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for i, err := range p.SendBatch(ctx, []events.Message{record(t, topic, "o", 3)}) {
		if !errors.Is(err, messaging.ErrClosed) {
			t.Fatalf("record %d after Close: %v, want ErrClosed", i, err)
		}
	}
}
