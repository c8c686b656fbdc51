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
	UpdatedAt time.Time `json:"updated_at"`
}

type reservationView struct {
	StockMovements int `json:"stock_movements"`
}

type fate struct {
	final      bool
	finalAt    time.Time
	duplicated bool
}

// account fills Accepted, Completed, Lost, DuplicatedEffects and
// RecoverySeconds of mr.
func (a *accountant) account(ctx context.Context, orderURL string, samples []sample, mr *ModeResult, start time.Time, sch Schedule) error {
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
		if f.duplicated {
			mr.DuplicatedEffects++
		}
	}
	mr.Lost = mr.Accepted - mr.Completed
	mr.RecoverySeconds = recoverySeconds(mr.Timeline, mr.Phases[PhaseBaseline].SuccessRate, sch.FaultEnd)
	if mr.Lost > 0 {
		mr.RecoverySeconds = -1
	} else if mr.RecoverySeconds >= 0 {
		mr.RecoverySeconds = math.Round(math.Max(mr.RecoverySeconds, drain)*10) / 10
	}
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
		f.final = o.Status == "CONFIRMED" || o.Status == "REJECTED"
		f.finalAt = o.UpdatedAt
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
