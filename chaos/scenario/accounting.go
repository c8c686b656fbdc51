package scenario

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
)

// accountant reads every accepted order's fate from the services: its
// status from order-service (GET /orders/{id}) and its stock movements
// from inventory-service (GET /reservations/{order_id}).
type accountant struct {
	client       *http.Client
	inventoryURL string
	workers      int
}

func newAccountant(st *stack.Stack) *accountant {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &accountant{client: &http.Client{Timeout: 5 * time.Second, Transport: tr}, inventoryURL: st.InventoryURL, workers: 16}
}

type orderView struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type reservationView struct {
	StockMovements int `json:"stock_movements"`
}

type fate struct {
	final      bool // CONFIRMED, REJECTED or FAILED
	failed     bool // FAILED: final, its promise not kept (a parked outbox row)
	finalAt    time.Time
	duplicated bool
	// status, createdAt and updatedAt are order-service's own record of
	// the order (GET /orders/{id}); status "" when it does not know it.
	status               string
	createdAt, updatedAt time.Time
}

// account fills Accepted, Completed, Failed, Lost, DuplicatedEffects,
// RecoverySeconds and the consistency window of mr (mode's).
func (a *accountant) account(ctx context.Context, mode, orderURL string, samples []sample, mr *ModeResult, start time.Time, sch Schedule) error {
	acc := accepted(samples)
	fates := make([]fate, len(acc))
	errs := make([]error, len(acc))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < a.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fates[i], errs[i] = a.fate(ctx, orderURL, acc[i].orderID)
			}
		}()
	}
	for i := range acc {
		next <- i
	}
	close(next)
	wg.Wait()

	mr.Accepted = len(acc)
	faultEndAt := start.Add(time.Duration(sch.FaultEnd * float64(time.Second)))
	drain := 0.0
	for i, f := range fates {
		if errs[i] != nil {
			return errs[i]
		}
		if f.final {
			mr.Completed++
			if acc[i].sentAt.Seconds() < sch.FaultEnd {
				drain = math.Max(drain, f.finalAt.Sub(faultEndAt).Seconds())
			}
		}
		if f.failed {
			mr.Failed++
		}
		if f.duplicated {
			mr.DuplicatedEffects++
		}
	}
	mr.Lost = mr.Accepted - mr.Completed
	finishRecovery(mr, sch, drain)
	mr.Window = consistencyWindow(mode, acc, fates, sch, len(mr.Timeline))
	return nil
}

func (a *accountant) fate(ctx context.Context, orderURL, id string) (fate, error) {
	var o orderView
	code, err := getJSON(ctx, a.client, orderURL+"/orders/"+id, &o)
	if err != nil {
		return fate{}, fmt.Errorf("read order %s: %w", id, err)
	}
	var f fate
	switch code {
	case http.StatusOK:
		// An accepted order FAILED is final (its outbox row was parked
		// after a permanent publish failure): visible, not lost.
		f.failed = o.Status == "FAILED"
		f.final = o.Status == "CONFIRMED" || o.Status == "REJECTED" || f.failed
		f.finalAt = o.UpdatedAt
		f.status, f.createdAt, f.updatedAt = o.Status, o.CreatedAt, o.UpdatedAt
	case http.StatusNotFound:
		// accepted but unknown to the order service: lost
	default:
		return fate{}, fmt.Errorf("read order %s: status %d", id, code)
	}
	var r reservationView
	code, err = getJSON(ctx, a.client, a.inventoryURL+"/reservations/"+id, &r)
	if err != nil {
		return fate{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	if code == http.StatusOK && r.StockMovements > 1 {
		f.duplicated = true
	}
	return f, nil
}

// promisesBroken reads the order service's promises_broken (orders
// answered 202, now REJECTED) from its GET /stats.
func (a *accountant) promisesBroken(ctx context.Context, orderURL string) (int, error) {
	var o orderStats
	if code, err := getJSON(ctx, a.client, orderURL+"/stats", &o); err != nil || code != http.StatusOK {
		return 0, fmt.Errorf("read order stats at %s: status %d: %v", orderURL, code, err)
	}
	return o.PromisesBroken, nil
}

// orphanedReservations returns inventory's reserved count minus the orders
// the order services report CONFIRMED: stock held for orders whose
// caller was told they failed. A sync placement that times out after
// inventory already reserved (the response, not the request, was delayed)
// leaves one; async placements cannot, since every reservation's outcome
// reaches its order. It assumes the stack served only this run.
func (a *accountant) orphanedReservations(ctx context.Context, orderURLs ...string) (int, error) {
	var inv inventoryStats
	if code, err := getJSON(ctx, a.client, a.inventoryURL+"/stats", &inv); err != nil || code != http.StatusOK {
		return 0, fmt.Errorf("read inventory stats: status %d: %v", code, err)
	}
	confirmed := 0
	for _, u := range orderURLs {
		var o orderStats
		if code, err := getJSON(ctx, a.client, u+"/stats", &o); err != nil || code != http.StatusOK {
			return 0, fmt.Errorf("read order stats at %s: status %d: %v", u, code, err)
		}
		confirmed += o.Orders["CONFIRMED"]
	}
	return max(0, inv.Reserved-confirmed), nil
}
