package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// stockOut applies a stock_out fault: each SKU's available units set to
// units in inventory's store, and the undo restocks each to its level
// before.
func stockOut(ctx context.Context, st *stack.Stack, units int64, skus []string) (faults.Undo, error) {
	store := st.Inventory.Store()
	before := map[string]int{}
	for _, sku := range skus {
		n, err := store.Available(ctx, sku)
		if err != nil {
			return nil, fmt.Errorf("read the stock of %s: %w", sku, err)
		}
		before[sku] = n
	}
	undo := func(ctx context.Context) error {
		var errs []error
		for sku, n := range before {
			if err := store.SetStock(ctx, sku, n); err != nil {
				errs = append(errs, fmt.Errorf("restock %s to %d: %w", sku, n, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, sku := range skus {
		if err := store.SetStock(ctx, sku, int(units)); err != nil {
			return nil, errors.Join(fmt.Errorf("set the stock of %s to %d: %w", sku, units, err), undo(context.WithoutCancel(ctx)))
		}
	}
	return undo, nil
}

// observeStock is a stock_out step's evidence: inventory's own HTTP API
// (GET /stock/{sku}, around every proxy) shows at most units available.
func observeStock(ctx context.Context, st *stack.Stack, f Fault, sku string) Evidence {
	units := f.Attributes["units"]
	e := Evidence{Hop: "sku " + sku, Listed: fmt.Sprintf("set to %d units", units), Probe: "GET " + st.InventoryURL + "/stock/" + sku}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var stock struct {
		Available int `json:"available"`
	}
	c := &http.Client{Timeout: probeTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer c.CloseIdleConnections()
	start := time.Now()
	code, err := getJSON(ctx, c, st.InventoryURL+"/stock/"+url.PathEscape(sku), &stock)
	switch {
	case err != nil:
		e.Observed = fmt.Sprintf("%v after %s", err, since(start))
	case code != http.StatusOK:
		e.Observed = fmt.Sprintf("status %d after %s", code, since(start))
	default:
		e.Observed = fmt.Sprintf("%d available", stock.Available)
		e.TookEffect = int64(stock.Available) <= units
	}
	return e
}
