package notification_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/notification"
)

// TestHandleOrderPlacedRecordsOneNotificationPerOrder: the first event of
// an order records the notification (created_at from the service's clock,
// occurred_at from the event) and one send; the same record again and a
// second event for the order with another event ID change nothing and are
// counted apart.
func TestHandleOrderPlacedRecordsOneNotificationPerOrder(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	svc := newService(t, notification.Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	e := placedEvent("o-1")
	e.OccurredAt = now.Add(-1500 * time.Millisecond)
	m := record(t, e)
	for range 3 {
		if err := svc.HandleOrderPlaced(ctx, m); err != nil {
			t.Fatalf("HandleOrderPlaced: %v", err)
		}
	}
	other := e
	other.EventID, other.SKU, other.Quantity = "placed-again:o-1", "SKU-2", 9
	if err := svc.HandleOrderPlaced(ctx, record(t, other)); err != nil {
		t.Fatalf("HandleOrderPlaced(second event): %v", err)
	}
	n, sends, err := svc.Store().Notification(ctx, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	want := notification.Notification{OrderID: "o-1", SKU: "SKU-1", Quantity: 2, EventID: "placed:o-1",
		Channel: notification.ChannelEmail, OccurredAt: e.OccurredAt, CreatedAt: now}
	if n != want || sends != 1 {
		t.Fatalf("notification %+v with %d sends, want %+v with 1 (the first event wins)", n, sends, want)
	}
	if svc.Redelivered() != 2 || svc.Conflicting() != 1 {
		t.Fatalf("redelivered %d, conflicting %d; want 2, 1", svc.Redelivered(), svc.Conflicting())
	}
	st, err := svc.Store().Stats(ctx)
	if err != nil || st != (notification.Stats{Notifications: 1, Sends: 1}) {
		t.Fatalf("stats %+v (%v), want one notification, one send", st, err)
	}
}

// TestHandleOrderPlacedRejectsPoison: records that do not decode, break
// the schema or carry another event type return events.ErrInvalid (the
// consumer dead-letters them) and store nothing.
func TestHandleOrderPlacedRejectsPoison(t *testing.T) {
	svc := newService(t, notification.Config{})
	reserved := placedEvent("o-2")
	reserved.Type = events.StockReserved
	noQty, _ := json.Marshal(map[string]any{"event_id": "e", "type": "order-placed", "order_id": "o-3", "sku": "SKU-1", "occurred_at": time.Now()})
	for name, value := range map[string][]byte{
		"not json":          []byte("{not json"),
		"empty":             nil,
		"json null":         []byte("null"),
		"missing quantity":  noQty,
		"stock-reserved":    record(t, reserved).Value,
		"wrong field types": []byte(`{"event_id":1,"type":"order-placed"}`),
	} {
		err := svc.HandleOrderPlaced(context.Background(), events.Message{Topic: events.TopicOrderPlaced, Key: "k", Value: value})
		if !errors.Is(err, events.ErrInvalid) || !messaging.IsPermanent(err) {
			t.Errorf("%s: HandleOrderPlaced = %v, want a permanent error wrapping events.ErrInvalid", name, err)
		}
	}
	if st, err := svc.Store().Stats(context.Background()); err != nil || st.Notifications != 0 || st.Sends != 0 {
		t.Fatalf("stats %+v (%v) after poison only, want nothing stored", st, err)
	}
}

// TestHandleOrderPlacedStoreFailureIsTransient: a database failure is not
// poison: the error does not wrap events.ErrInvalid and is not permanent,
// so the consumer retries the record instead of dead-lettering it.
func TestHandleOrderPlacedStoreFailureIsTransient(t *testing.T) {
	svc, err := notification.New(notification.Config{DBPath: filepath.Join(t.TempDir(), "n.db")}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	err = svc.HandleOrderPlaced(context.Background(), record(t, placedEvent("o-4")))
	if err == nil || errors.Is(err, events.ErrInvalid) || messaging.IsPermanent(err) {
		t.Fatalf("HandleOrderPlaced on a closed database = %v, want a transient error", err)
	}
}

// TestStatsCountDuplicatedEffects: the send ledger has no unique
// constraint, so a second send for an order (broken idempotency) shows up
// in duplicated_effects instead of being hidden.
func TestStatsCountDuplicatedEffects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.db")
	svc := newService(t, notification.Config{DBPath: path})
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if err := svc.HandleOrderPlaced(ctx, record(t, placedEvent(id))); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := svc.Store().Stats(ctx); err != nil || st != (notification.Stats{Notifications: 2, Sends: 2}) {
		t.Fatalf("stats %+v (%v) before the fault", st, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO sends (order_id, event_id, channel, sent_at) VALUES ('a', 'placed:a', 'email', '2026-12-03T10:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Store().Stats(ctx)
	if err != nil || st != (notification.Stats{Notifications: 2, Sends: 3, DuplicatedEffects: 1}) {
		t.Fatalf("stats %+v (%v) after a second send of order a, want duplicated_effects 1", st, err)
	}
	if _, sends, err := svc.Store().Notification(ctx, "a"); err != nil || sends != 2 {
		t.Fatalf("order a: %d sends (%v), want 2", sends, err)
	}
}

func TestNotificationNotFound(t *testing.T) {
	svc := newService(t, notification.Config{})
	if _, _, err := svc.Store().Notification(context.Background(), "nope"); !errors.Is(err, notification.ErrNotFound) {
		t.Fatalf("Notification(nope) = %v, want ErrNotFound", err)
	}
}

// TestRestartKeepsNotifications: a new service on the same file still has
// the notification and does not notify the order again.
func TestRestartKeepsNotifications(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.db")
	ctx := context.Background()
	first, err := notification.New(notification.Config{DBPath: path}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.HandleOrderPlaced(ctx, record(t, placedEvent("r"))); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := newService(t, notification.Config{DBPath: path})
	if err := second.HandleOrderPlaced(ctx, record(t, placedEvent("r"))); err != nil {
		t.Fatal(err)
	}
	if _, sends, err := second.Store().Notification(ctx, "r"); err != nil || sends != 1 || second.Redelivered() != 1 {
		t.Fatalf("after restart: %d sends (%v), redelivered %d; want 1 send, 1 redelivery", sends, err, second.Redelivered())
	}
}

// TestHandleOrderPlacedBatch: one batch, one transaction: a poison record
// fails alone (ErrInvalid), an order repeated within the batch is notified
// once (redelivered and conflicting copies counted), the others are
// notified.
func TestHandleOrderPlacedBatch(t *testing.T) {
	svc := newService(t, notification.Config{})
	ctx := context.Background()
	a, b := placedEvent("o-a"), placedEvent("o-b")
	other := a
	other.EventID = "placed-again:o-a"
	batch := []events.Message{record(t, a), {Topic: events.TopicOrderPlaced, Key: "x", Value: []byte(`{`)}, record(t, a), record(t, other), record(t, b)}
	errs := svc.HandleOrderPlacedBatch(ctx, batch)
	if len(errs) != len(batch) {
		t.Fatalf("%d errors for %d records", len(errs), len(batch))
	}
	for i, err := range errs {
		if wantErr := i == 1; wantErr != (err != nil) || (wantErr && !errors.Is(err, events.ErrInvalid)) {
			t.Errorf("record %d: err = %v", i, err)
		}
	}
	st, err := svc.Store().Stats(ctx)
	if err != nil || st != (notification.Stats{Notifications: 2, Sends: 2}) {
		t.Fatalf("stats %+v (%v), want two notifications, two sends", st, err)
	}
	if svc.Redelivered() != 1 || svc.Conflicting() != 1 {
		t.Fatalf("redelivered %d, conflicting %d; want 1, 1", svc.Redelivered(), svc.Conflicting())
	}
}
