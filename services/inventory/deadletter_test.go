package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
	"github.com/faultline-harness/faultline/services/messaging"
)

// TestOrderPlacedPoisonDoesNotWedgeThePartition: on order-placed, a poison
// record too large to dead-letter whole and a record reusing an order ID
// with another quantity (a permanent handler error) are dead-lettered
// after their bounded attempts (an envelope and the whole record), and the
// orders behind them on the same partition are reserved and answered.
func TestOrderPlacedPoisonDoesNotWedgeThePartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	kafka := newKafka(t)
	id := fmt.Sprint(time.Now().UnixNano())
	svc := newService(t, map[string]int{"SKU-A": 100}, inventory.Config{Kafka: kafka, Group: "inventory-" + id})
	base, ctx := serve(t, svc)
	reserved := tail(t, kafka, events.TopicStockReserved)
	dead := tail(t, kafka, events.TopicDeadLetter)

	prod := newProducer(t, kafka)
	key := "partition-key-" + id // every record on one partition, behind the poison
	first := orderPlaced(t, "o-first-"+id, "SKU-A", 1)
	reused := orderPlaced(t, "o-first-"+id, "SKU-A", 2)
	reused.Headers = append(reused.Headers, events.Header{Key: "case", Value: "reused"})
	msgs := []events.Message{first, testkit.NearLimitPoison(events.TopicOrderPlaced, key), reused}
	const after = 5
	for i := range after {
		msgs = append(msgs, orderPlaced(t, fmt.Sprintf("o-after-%d-%s", i, id), "SKU-A", 1))
	}
	for _, m := range msgs {
		m.Key = key
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		if err := prod.Send(sctx, m); err != nil {
			t.Fatal(err)
		}
		scancel()
	}
	want := map[string]bool{}
	for i := range after {
		want[fmt.Sprintf("stock-reserved:o-after-%d-%s", i, id)] = true
	}
	for range after { // outcomes of different orders may arrive in any order
		m := await(t, reserved, 30*time.Second, fmt.Sprintf("stock-reserved for one of %d orders", len(want)), func(m events.Message) bool { return want[m.Header(events.HeaderEventID)] })
		delete(want, m.Header(events.HeaderEventID))
	}
	env := await(t, dead, 30*time.Second, "envelope dead letter", func(m events.Message) bool {
		return m.Header(messaging.HeaderDLQFormat) == messaging.DLQFormatEnvelope
	})
	var e messaging.DeadLetterEnvelope
	if err := json.Unmarshal(env.Value, &e); err != nil || e.SourceTopic != events.TopicOrderPlaced || e.Key != key ||
		e.ValueSize < messaging.MaxMessageBytes-1000 || !e.ValueTruncated || e.Attempts != messaging.DefaultMaxAttempts {
		e.ValuePrefix = ""
		t.Fatalf("envelope %+v (%v)", e, err)
	}
	whole := await(t, dead, 30*time.Second, "whole dead letter of the reused order ID", func(m events.Message) bool {
		return m.Header("case") == "reused"
	})
	if whole.Header(messaging.HeaderDLQFormat) != messaging.DLQFormatRecord || whole.Header(messaging.HeaderDLQAttempts) != "3" {
		t.Fatalf("dead letter of the reused order ID: headers %+v", whole.Headers)
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 100-1-after {
		t.Fatalf("available %d, want %d (the reused order ID changed nothing)", n, 100-1-after)
	}
	awaitStats(t, base, 10*time.Second, func(s map[string]int) bool {
		return s["dead_lettered"] == 2 && s["dead_lettered_envelope"] == 1 && s["dead_lettered_whole"] == 1 &&
			s["dead_letters_dropped"] == 0 && s["handler_errors_permanent"] == 6 && s["handled"] == 1+after &&
			s["reserved"] == 1+after && s["duplicated_effects"] == 0
	})
}

// TestReserveBatch: one transaction, a savepoint per request. A failing
// request (unknown SKU, reused order ID, bad bounds) changes nothing and
// does not stop the others; a repeated order ID within the batch is
// reserved once; running the batch again changes nothing.
func TestReserveBatch(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, map[string]int{"SKU-A": 10, "SKU-LOW": 1}, inventory.Config{})
	st := svc.Store()
	if _, err := st.Reserve(ctx, "o-stored", "SKU-A", 1); err != nil {
		t.Fatal(err)
	}
	reqs := []inventory.ReserveRequest{
		{OrderID: "o1", SKU: "SKU-A", Quantity: 2},
		{OrderID: "o-stored", SKU: "SKU-A", Quantity: 5}, // reused with another quantity
		{OrderID: "o2", SKU: "SKU-NOPE", Quantity: 1},
		{OrderID: "o1", SKU: "SKU-A", Quantity: 2}, // repeated in the batch
		{OrderID: "o3", SKU: "SKU-LOW", Quantity: 2},
		{OrderID: "o4", SKU: "SKU-A", Quantity: 0},
		{OrderID: "o5", SKU: "SKU-A", Quantity: 3},
	}
	for round := range 2 {
		rs, errs := st.ReserveBatch(ctx, reqs)
		if len(rs) != len(reqs) || len(errs) != len(reqs) {
			t.Fatalf("round %d: %d reservations, %d errors for %d requests", round, len(rs), len(errs), len(reqs))
		}
		for i, want := range []struct {
			status string
			err    error
		}{
			{inventory.StatusReserved, nil}, {inventory.StatusReserved, inventory.ErrOrderIDReused}, {"", inventory.ErrUnknownSKU},
			{inventory.StatusReserved, nil}, {inventory.StatusRejected, nil}, {"", messaging.ErrPermanent}, {inventory.StatusReserved, nil},
		} {
			if rs[i].Status != want.status || (want.err == nil) != (errs[i] == nil) || (want.err != nil && !errors.Is(errs[i], want.err)) {
				t.Errorf("round %d request %d %+v: got %q, %v; want %q, %v", round, i, reqs[i], rs[i].Status, errs[i], want.status, want.err)
			}
		}
		if !messaging.IsPermanent(errs[1]) || messaging.IsPermanent(errs[0]) {
			t.Errorf("round %d: reused order ID permanent=%v", round, messaging.IsPermanent(errs[1]))
		}
	}
	if n := available(t, st, "SKU-A"); n != 10-1-2-3 {
		t.Fatalf("SKU-A available %d, want 4 (o-stored, o1 and o5 once each)", n)
	}
	if n := available(t, st, "SKU-LOW"); n != 1 {
		t.Fatalf("SKU-LOW available %d, want 1", n)
	}
	for _, o := range []string{"o1", "o5", "o-stored"} {
		if _, moves, err := st.Reservation(ctx, o); err != nil || moves != 1 {
			t.Fatalf("order %s: %d stock movements (%v), want 1", o, moves, err)
		}
	}
	if _, _, err := st.Reservation(ctx, "o2"); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("unknown SKU stored a reservation: %v", err)
	}
}
