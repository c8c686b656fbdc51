//go:build pact

package consumer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	message "github.com/pact-foundation/pact-go/v2/message/v4"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/notification"
)

// What notification-service depends on in an order-placed record, stated
// as its own team would (literals, not order-service's constants): the
// topic it subscribes to, the event type it accepts (anything else is
// dead-lettered), and the fields it stores: event_id (the idempotency
// witness), order_id (one notification per order), sku, an integer
// quantity and an RFC 3339 occurred_at.
const (
	notificationTopic     = "order-placed"
	notificationEventType = "order-placed"
)

// TestNotificationConsumesOrderPlaced feeds the pact's order-placed message
// to notification-service's real HandleOrderPlaced (real SQLite store) and
// checks the effect: one notification for the order with the event's
// SKU, quantity, event ID and time, and one (simulated) send; the same
// record delivered again changes nothing.
func TestNotificationConsumesOrderPlaced(t *testing.T) {
	reg := registered(t, contracts.NotificationService, contracts.OrderService)
	in := interaction(t, reg, contracts.DescOrderPlaced, contracts.Message)
	p, err := message.NewAsynchronousPact(message.Config{Consumer: reg.Consumer, Provider: reg.Provider, PactDir: testkit.PactDir(t)})
	if err != nil {
		t.Fatalf("new message pact: %v", err)
	}
	metadata := messageMetadata(notificationTopic, contracts.OrderPlaced)

	b := p.AddAsynchronousMessage()
	for _, s := range in.States {
		b = b.Given(s)
	}
	err = b.ExpectsToReceive(in.Description).
		WithMetadata(metadata).
		WithJSONContent(eventBody(notificationEventType, "5f0c3a52-8f1e-4c55-9a8e-2d0e4c1b7a90", anyID, contracts.OrderPlaced, contracts.SKU, "")).
		ConsumedBy(func(m message.AsynchronousMessage) error {
			rec, err := keyedRecord(metadata, m)
			if err != nil {
				return err
			}
			svc, err := notification.New(notification.Config{DBPath: filepath.Join(t.TempDir(), "notification.db")}, testkit.Logger(t))
			if err != nil {
				return fmt.Errorf("new notification service: %w", err)
			}
			defer svc.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			for range 2 { // the second delivery is a redelivery: no effect
				if err := svc.HandleOrderPlaced(ctx, rec); err != nil {
					return fmt.Errorf("HandleOrderPlaced: %w", err)
				}
			}

			n, sends, err := svc.Store().Notification(ctx, rec.Key)
			if err != nil {
				return fmt.Errorf("notification of %s: %w", rec.Key, err)
			}
			if n.OrderID != rec.Key || n.SKU != contracts.SKU || n.Quantity != contracts.Quantity || n.EventID == "" || n.OccurredAt.IsZero() {
				return fmt.Errorf("notification %+v, want order %s, %d x %s, the event's ID and time", n, rec.Key, contracts.Quantity, contracts.SKU)
			}
			if sends != 1 || svc.Redelivered() != 1 {
				return fmt.Errorf("%d sends and %d redeliveries absorbed, want 1 send and 1 redelivery absorbed", sends, svc.Redelivered())
			}
			return nil
		}).
		Verify(t)
	if err != nil {
		t.Fatalf("%s: %v", in.Description, err)
	}
}
