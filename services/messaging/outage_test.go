package messaging_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestSendBatchFailsFastAndRecoversAfterACut cuts the producer's link
// (proxy disabled: connection refused) while a batch is sent: every
// record fails promptly (not one Producer.Retry.Backoff per record), and
// a batch sent once the link is back is acknowledged within about a
// second (sarama's partition breaker, open for 10 s, does not hold it).
func TestSendBatchFailsFastAndRecoversAfterACut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka and Toxiproxy")
	}
	topic := testkit.Uniq(t, "topic")
	c := testkit.StartKafka(t, 1, []string{topic})
	tp := testkit.Toxiproxy(t)
	proxy, err := tp.CreateProxy(testkit.Uniq(t, "kafka"), "127.0.0.1:0", c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	kc := messaging.Config{Brokers: []string{proxy.Listen}, ClientID: testkit.Uniq(t, "client"),
		Route: map[string]string{c.ListenAddrs()[0]: proxy.Listen}} // the services' default timeouts and backoff
	p := newProducer(t, kc)
	batch := func(what string, n int) []events.Message {
		msgs := make([]events.Message, n)
		for i := range msgs {
			msgs[i] = record(t, topic, fmt.Sprintf("%s-%d", what, i), 1)
		}
		return msgs
	}
	send(t, p, record(t, topic, "before", 1))
	if err := proxy.Disable(); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		errs := p.SendBatch(ctx, batch(fmt.Sprintf("during%d", round), 40))
		cancel()
		took := time.Since(start)
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
			}
		}
		t.Logf("round %d: %d of 40 failed after %v (first: %v)", round, failed, took, errs[0])
		if failed != len(errs) {
			t.Fatalf("round %d: %d of %d records failed with the link cut, want all", round, failed, len(errs))
		}
		// Round 0 waits for the records in flight at the cut (EOF, then
		// Producer.Retry.Max retries with metadata refreshes). Later rounds
		// meet sarama's open partition breaker: they used to take one
		// Producer.Retry.Backoff (250 ms) per record, 40 records 10.8 s.
		if limit := 2 * time.Second; round > 0 && took > limit {
			t.Fatalf("round %d: 40 records failed after %v, want within %v (no backoff per fresh record)", round, took, limit)
		}
	}
	if err := proxy.Enable(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs := p.SendBatch(ctx, batch("after", 10))
		for _, err := range errs {
			if err != nil {
				return false, err.Error()
			}
		}
		return true, ""
	})
	took := time.Since(back)
	t.Logf("acknowledged %v after the link returned", took)
	if limit := 5 * time.Second; took > limit {
		t.Fatalf("first batch acknowledged %v after the link returned, want within %v", took, limit)
	}
}
