package order

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestStockOutcomeOversizedPoisonOnEachTopic: on stock-reserved and on
// stock-rejected, a poison record too large to dead-letter whole sits in
// front of an order's outcome on the same partition. Each is dead-lettered
// as an envelope naming its source topic after its bounded attempts, and
// the outcome behind it is applied.
func TestStockOutcomeOversizedPoisonOnEachTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	base, svc, kc := runAsyncWithKafka(t)
	p, err := messaging.NewProducer(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	dead := consumeAll(t, kc, events.TopicDeadLetter)

	cases := []struct {
		topic  string
		typ    events.Type
		reason string
		want   Status
	}{
		{events.TopicStockReserved, events.StockReserved, "", StatusConfirmed},
		{events.TopicStockRejected, events.StockRejected, "insufficient_stock", StatusRejected},
	}
	ids := make([]string, len(cases))
	for i, tc := range cases {
		o, _ := postHTTP(t, base)
		ids[i] = o.ID
		for _, m := range []events.Message{testkit.NearLimitPoison(tc.topic, o.ID), outcome(t, tc.typ, o.ID, tc.reason)} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := p.Send(ctx, m); err != nil {
				t.Fatalf("send to %s: %v", tc.topic, err)
			}
			cancel()
		}
	}
	for i, tc := range cases {
		testkit.Eventually(t, 30*time.Second, func() (bool, string) {
			got, err := svc.Store().Get(context.Background(), ids[i])
			return err == nil && got.Status == tc.want, fmt.Sprintf("order behind the %s poison: %+v, %v", tc.topic, got, err)
		})
	}
	sources := map[string]bool{}
	for range cases {
		select {
		case cm := <-dead:
			dl := messaging.FromSarama(cm)
			var env messaging.DeadLetterEnvelope
			if err := json.Unmarshal(dl.Value, &env); err != nil || dl.Header(messaging.HeaderDLQFormat) != messaging.DLQFormatEnvelope ||
				env.SourceTopic != dl.Header(messaging.HeaderDLQSourceTopic) || env.Attempts != messaging.DefaultMaxAttempts || !env.ValueTruncated {
				t.Fatalf("dead letter headers %+v, envelope from %s attempts %d (%v)", dl.Headers, env.SourceTopic, env.Attempts, err)
			}
			sources[env.SourceTopic] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("dead letters only from %v", sources)
		}
	}
	if !sources[events.TopicStockReserved] || !sources[events.TopicStockRejected] {
		t.Fatalf("envelopes from %v, want both outcome topics", sources)
	}
	st := getStats(t, base)
	if st.DeadLettered != 2 || st.DeadLetteredEnvelope != 2 || st.DeadLettersDropped != 0 || st.Handled != 2 || st.HandlerErrorsPermanent != 6 {
		t.Fatalf("stats %+v", st.ConsumerStats)
	}
}
