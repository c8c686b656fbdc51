package order

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/faultline-harness/faultline/services/events"
)

// TestOutcomesForOrdersHeldElsewhereWriteNothing: a batch of outcomes for
// orders this instance does not hold (hybrid and async instances read the
// same topics) or that are already settled is answered from one read, with
// no write transaction: it completes while another connection holds the
// database's write lock (a write would wait for busy_timeout, 5 s).
func TestOutcomesForOrdersHeldElsewhereWriteNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orders.db")
	s := newService(t, Config{Mode: ModeAsync, DBPath: path})
	settled := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	ctx := context.Background()
	if errs := s.HandleStockOutcomeBatch(ctx, []events.Message{outcome(t, events.StockReserved, settled.ID, "")}); errs[0] != nil {
		t.Fatal(errs[0])
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, `ROLLBACK`) }()

	batch := []events.Message{
		outcome(t, events.StockReserved, uuid.NewString(), ""),
		outcome(t, events.StockRejected, uuid.NewString(), "insufficient_stock"),
		outcome(t, events.StockRejected, settled.ID, "insufficient_stock"),
	}
	start := time.Now()
	errs := s.HandleStockOutcomeBatch(ctx, batch)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("batch took %v: it waited for the write lock", took)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if n := s.unknownOutcomes.Load(); n != 2 {
		t.Errorf("unknown-order outcomes %d, want 2", n)
	}
	if got, _ := s.Store().Get(ctx, settled.ID); got.Status != StatusConfirmed {
		t.Errorf("settled order %s, want still CONFIRMED", got.Status)
	}
}

// TestTransitionBatchFirstOutcomeOfAnOrderWins: two outcomes of one order in
// a batch apply in order (the first moves it, the second finds it settled),
// whatever the order of the (status, reason) groups; unknown orders get
// ErrNotFound, each request its own answer.
func TestTransitionBatchFirstOutcomeOfAnOrderWins(t *testing.T) {
	s := newService(t, Config{Mode: ModeAsync})
	a := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	b := postOrder(t, s.Handler(), "SKU-1", 1, "").order(t)
	ctx := context.Background()
	unknown := uuid.NewString()
	reqs := []transitionReq{
		{id: b.ID, to: StatusRejected, reason: "insufficient_stock"},
		{id: a.ID, to: StatusConfirmed},
		{id: a.ID, to: StatusRejected, reason: "insufficient_stock"},
		{id: unknown, to: StatusConfirmed},
		{id: b.ID, to: StatusConfirmed},
	}
	moved, errs := s.Store().transitionBatch(ctx, reqs, time.Now())
	wantMoved := []bool{true, true, false, false, false}
	for i := range reqs {
		if wantNotFound := reqs[i].id == unknown; moved[i] != wantMoved[i] || wantNotFound != errors.Is(errs[i], ErrNotFound) || (!wantNotFound && errs[i] != nil) {
			t.Errorf("request %d: moved %v, err %v; want moved %v", i, moved[i], errs[i], wantMoved[i])
		}
	}
	if got, _ := s.Store().Get(ctx, a.ID); got.Status != StatusConfirmed {
		t.Errorf("a %s, want CONFIRMED (its first outcome)", got.Status)
	}
	if got, _ := s.Store().Get(ctx, b.ID); got.Status != StatusRejected || got.Reason != "insufficient_stock" {
		t.Errorf("b %s (%s), want REJECTED insufficient_stock (its first outcome)", got.Status, got.Reason)
	}
}
