package inventory_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/inventory"
)

func TestReserveIsIdempotentByOrderID(t *testing.T) {
	ctx := context.Background()
	st := newService(t, map[string]int{"SKU-A": 10, "SKU-B": 10}, inventory.Config{}).Store()

	first, err := st.Reserve(ctx, "order-1", "SKU-A", 3)
	if err != nil {
		t.Fatalf("first reserve: %v", err)
	}
	if first.Status != inventory.StatusReserved || first.Reason != "" || first.CreatedAt.IsZero() {
		t.Fatalf("first reserve = %+v, want reserved with a time", first)
	}
	// Same order, same SKU and quantity: the stored first outcome comes
	// back and nothing changes. Another SKU or quantity: ErrOrderIDReused
	// (reuse_test.go).
	for range 2 {
		got, err := st.Reserve(ctx, "order-1", "SKU-A", 3)
		if err != nil {
			t.Fatalf("repeat reserve: %v", err)
		}
		if !got.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("repeat CreatedAt %v, want %v", got.CreatedAt, first.CreatedAt)
		}
		got.CreatedAt = first.CreatedAt
		if got != first {
			t.Errorf("repeat reserve = %+v, want the first outcome %+v", got, first)
		}
	}
	if n := available(t, st, "SKU-A"); n != 7 {
		t.Errorf("SKU-A available %d, want 7", n)
	}
	if n := available(t, st, "SKU-B"); n != 10 {
		t.Errorf("SKU-B available %d, want 10", n)
	}
	r, moves, err := st.Reservation(ctx, "order-1")
	if err != nil || moves != 1 || r.Status != inventory.StatusReserved || r.Quantity != 3 {
		t.Errorf("Reservation = %+v, %d movements, %v; want reserved 3 with 1 movement", r, moves, err)
	}
}

func TestReserveRejectsInsufficientStockOnce(t *testing.T) {
	ctx := context.Background()
	st := newService(t, map[string]int{"SKU-LOW": 5}, inventory.Config{}).Store()

	r, err := st.Reserve(ctx, "big", "SKU-LOW", 6)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	if r.Status != inventory.StatusRejected || r.Reason != inventory.ReasonInsufficientStock || !errors.Is(r.Err(), inventory.ErrInsufficientStock) {
		t.Fatalf("reserve 6 of 5 = %+v (Err %v), want rejected insufficient_stock", r, r.Err())
	}
	// Stock arrives later; the order's first outcome still stands.
	if err := st.SetStock(ctx, "SKU-LOW", 100); err != nil {
		t.Fatal(err)
	}
	if r2, err := st.Reserve(ctx, "big", "SKU-LOW", 6); err != nil || r2.Status != inventory.StatusRejected {
		t.Errorf("repeat after restock = %+v, %v; want the stored rejection", r2, err)
	}
	if n := available(t, st, "SKU-LOW"); n != 100 {
		t.Errorf("available %d, want 100 (a rejection must not move stock)", n)
	}
	if _, moves, _ := st.Reservation(ctx, "big"); moves != 0 {
		t.Errorf("rejected order has %d stock movements, want 0", moves)
	}
	// Exactly all the stock is fine.
	if r, err := st.Reserve(ctx, "all", "SKU-LOW", 100); err != nil || r.Status != inventory.StatusReserved {
		t.Errorf("reserve all stock = %+v, %v; want reserved", r, err)
	}
	s, err := st.Stats(ctx)
	if err != nil || s != (inventory.Stats{Reserved: 1, Rejected: 1}) {
		t.Errorf("Stats = %+v, %v; want 1 reserved, 1 rejected", s, err)
	}
}

func TestReserveErrors(t *testing.T) {
	ctx := context.Background()
	st := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{}).Store()

	if _, err := st.Reserve(ctx, "o1", "NOPE", 1); !errors.Is(err, inventory.ErrUnknownSKU) {
		t.Errorf("unknown SKU: err %v, want ErrUnknownSKU", err)
	}
	if _, _, err := st.Reservation(ctx, "o1"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("unknown SKU stored a reservation: Reservation err %v, want ErrNotFound", err)
	}
	if _, err := st.Available(ctx, "NOPE"); !errors.Is(err, inventory.ErrUnknownSKU) {
		t.Errorf("Available(NOPE) err %v, want ErrUnknownSKU", err)
	}
	for _, qty := range []int{0, -1, events.MaxQuantity + 1} {
		if _, err := st.Reserve(ctx, "o2", "SKU-A", qty); err == nil || !strings.Contains(err.Error(), "quantity") {
			t.Errorf("Reserve quantity %d: err %v, want one naming quantity", qty, err)
		}
	}
	if _, err := st.Reserve(ctx, strings.Repeat("o", events.MaxOrderIDLen+1), "SKU-A", 1); err == nil || !strings.Contains(err.Error(), "order_id") {
		t.Errorf("Reserve with a 65-byte order ID: err %v, want one naming order_id", err)
	}
	if err := st.SetStock(ctx, "SKU-A", -1); err == nil {
		t.Error("SetStock -1: no error")
	}
	if n := available(t, st, "SKU-A"); n != 10 {
		t.Errorf("available %d after failed calls, want 10", n)
	}
}

func TestConcurrentReservationsNeverOversell(t *testing.T) {
	ctx := context.Background()
	st := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{}).Store()

	const workers = 50
	statuses := make([]string, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			r, err := st.Reserve(ctx, fmt.Sprintf("order-%d", i), "SKU-A", 1)
			if err != nil {
				t.Errorf("reserve order-%d: %v", i, err)
			}
			statuses[i] = r.Status
		})
	}
	wg.Wait()
	var reserved int
	for _, s := range statuses {
		if s == inventory.StatusReserved {
			reserved++
		}
	}
	if reserved != 10 {
		t.Errorf("%d/%d orders reserved, want exactly 10", reserved, workers)
	}
	if n := available(t, st, "SKU-A"); n != 0 {
		t.Errorf("available %d, want 0", n)
	}
	s, err := st.Stats(ctx)
	if err != nil || s != (inventory.Stats{Reserved: 10, Rejected: 40}) {
		t.Errorf("Stats = %+v, %v; want 10 reserved, 40 rejected, no duplicates", s, err)
	}
}

func TestConcurrentSameOrderReservesOnce(t *testing.T) {
	ctx := context.Background()
	st := newService(t, map[string]int{"SKU-A": 100}, inventory.Config{}).Store()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := st.Reserve(ctx, "same", "SKU-A", 2); err != nil {
				t.Errorf("reserve: %v", err)
			}
		})
	}
	wg.Wait()
	if n := available(t, st, "SKU-A"); n != 98 {
		t.Errorf("available %d, want 98", n)
	}
	if d, err := st.DuplicatedEffects(ctx); err != nil || d != 0 {
		t.Errorf("DuplicatedEffects = %d, %v; want 0", d, err)
	}
}

func TestDuplicatedEffectsSeesADoubleMovement(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inventory.db")
	st := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{DBPath: path}).Store()
	if _, err := st.Reserve(ctx, "o1", "SKU-A", 1); err != nil {
		t.Fatal(err)
	}
	// Simulate a broken idempotency: a second ledger row for o1, written by
	// another connection (the schema must allow it).
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO stock_movements (order_id, sku, delta, created_at) VALUES ('o1', 'SKU-A', -1, '2026-01-01T00:00:00Z')`); err != nil {
		t.Fatalf("insert duplicate movement: %v", err)
	}
	if d, err := st.DuplicatedEffects(ctx); err != nil || d != 1 {
		t.Errorf("DuplicatedEffects = %d, %v; want 1", d, err)
	}
	if _, moves, _ := st.Reservation(ctx, "o1"); moves != 2 {
		t.Errorf("stock movements of o1 = %d, want 2", moves)
	}
}

func TestRestartKeepsState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inventory.db")
	catalog := map[string]int{"SKU-A": 10}

	svc, err := inventory.New(inventory.Config{DBPath: path, Catalog: catalog}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store().Reserve(ctx, "o1", "SKU-A", 4); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Reopen with a catalog that also adds a SKU: SKU-A keeps its remaining
	// stock (it is not re-seeded), SKU-B is seeded.
	st := newService(t, map[string]int{"SKU-A": 10, "SKU-B": 3}, inventory.Config{DBPath: path}).Store()
	if n := available(t, st, "SKU-A"); n != 6 {
		t.Errorf("SKU-A after restart: %d, want 6", n)
	}
	if n := available(t, st, "SKU-B"); n != 3 {
		t.Errorf("SKU-B after restart: %d, want 3 (newly seeded)", n)
	}
	r, moves, err := st.Reservation(ctx, "o1")
	if err != nil || r.Status != inventory.StatusReserved || moves != 1 {
		t.Errorf("o1 after restart = %+v, %d movements, %v", r, moves, err)
	}
	if again, err := st.Reserve(ctx, "o1", "SKU-A", 4); err != nil || !again.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("repeat after restart = %+v, %v; want the stored outcome", again, err)
	}
	if n := available(t, st, "SKU-A"); n != 6 {
		t.Errorf("SKU-A after repeat: %d, want 6", n)
	}
}
