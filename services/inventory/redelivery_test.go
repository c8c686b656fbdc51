package inventory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
)

// TestDuplicateOrderPlacedOverKafkaReservesOnce is the lost-ack case end
// to end: the outbox relay published the same order-placed record again
// (its acknowledgement was lost), and a consumer rebalance redelivers it a
// few more times. Inventory reserves once and answers every copy with the
// same stock-reserved event, which order-service absorbs (the order is no
// longer PENDING).
func TestDuplicateOrderPlacedOverKafkaReservesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	kafka := newKafka(t)
	id := fmt.Sprint(time.Now().UnixNano())
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{Kafka: kafka, Group: "inventory-" + id})
	base, ctx := serve(t, svc)

	reserved := tail(t, kafka, events.TopicStockReserved)
	prod := newProducer(t, kafka)
	order := "order-dup-" + id
	m := orderPlaced(t, order, "SKU-A", 3)
	const copies = 5
	for range copies {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		if err := prod.Send(sctx, m); err != nil {
			t.Fatal(err)
		}
		scancel()
	}
	for i := range copies {
		got := await(t, reserved, 30*time.Second, fmt.Sprintf("stock-reserved %d/%d for %s", i+1, copies, order), func(m events.Message) bool { return m.Key == order })
		if e := decodeOutcome(t, got); e.EventID != "stock-reserved:"+order {
			t.Fatalf("outcome %d: %+v", i, e)
		}
	}
	if n := available(t, svc.Store(), "SKU-A"); n != 7 {
		t.Fatalf("available %d after %d copies, want 7 (reserved once)", n, copies)
	}
	if _, moves, err := svc.Store().Reservation(context.Background(), order); err != nil || moves != 1 {
		t.Fatalf("%d stock movements (%v), want 1", moves, err)
	}
	awaitStats(t, base, 10*time.Second, func(s map[string]int) bool {
		return s["reserved"] == 1 && s["duplicated_effects"] == 0 && s["consumer_lag"] == 0
	})
}
