package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/web"
)

// Hybrid mode: a synchronous stock read decides the answer, the
// reservation itself goes asynchronously through the outbox.
//
// POST /orders reads GET /stock/{sku} from inventory (InventoryClient.Stock,
// bounded by HybridConfig.ReadTimeout, behind its own circuit breaker) and
// then:
//
//	stock read                         answer                                stored
//	available >= quantity              202 Order JSON, stock_check "verified"    order PENDING + order-placed outbox row
//	available <  quantity              409 insufficient_stock                    nothing
//	404 (unknown SKU)                  422 unknown_sku                           nothing
//	failed (timeout, refused, 5xx,     accept: 202, stock_check "unverified"     order PENDING + outbox row
//	bad answer, breaker open)          refuse: 503 stock_unavailable, Retry-After nothing
//
// The decision on a failed read is HybridConfig.OnReadFailure; the default
// is accept: an outage of inventory's read path must not stop order
// intake (that is what the asynchronous reservation is for), and inventory
// still has the last word when it consumes order-placed. The price is
// measured: an accepted order that inventory later rejects is a broken
// promise (GET /stats "promises_broken", split by stock_check). A verified
// read can be wrong too: stock read at t can be gone when the reservation
// runs (orders racing for the last units). refuse trades availability for
// fewer broken promises: no order is accepted without a verified read.
//
// The answer is inventory's read of one moment; only the reservation
// (inventory consuming order-placed) settles the order, as in async mode:
// the stock-outcome consumer moves it to CONFIRMED or REJECTED.

// ReadFailurePolicy is what hybrid mode does when the stock read fails.
type ReadFailurePolicy string

// Read-failure policies.
const (
	// AcceptOnReadFailure: 202 with stock_check "unverified"; inventory
	// decides when it consumes order-placed (default).
	AcceptOnReadFailure ReadFailurePolicy = "accept"
	// RefuseOnReadFailure: 503 stock_unavailable, nothing stored.
	RefuseOnReadFailure ReadFailurePolicy = "refuse"
)

// Stock check results, in the 202 body and GET /orders/{id} of hybrid
// orders under "stock_check" (absent in the other modes).
const (
	StockVerified   = "verified"   // inventory showed enough stock
	StockUnverified = "unverified" // the read failed and OnReadFailure is accept
)

// HybridConfig configures hybrid mode. Zero values take the defaults.
type HybridConfig struct {
	// ReadTimeout bounds each GET /stock read (client timeout and
	// context). Default 200ms. Env ORDER_HYBRID_READ_TIMEOUT, flag
	// -hybrid-read-timeout.
	ReadTimeout time.Duration
	// OnReadFailure: accept (default) or refuse. Env
	// ORDER_HYBRID_ON_READ_FAILURE, flag -hybrid-on-read-failure.
	OnReadFailure ReadFailurePolicy
	// BreakerFailures: consecutive failed reads (transport errors,
	// timeouts, 5xx, bad answers; a 404 is an answer) that open the
	// stock-read breaker. Default 5. While open, reads are not made and
	// count as failed (the policy applies); after BreakerOpenTimeout
	// (default 2s) one read is let through as a probe.
	BreakerFailures    int
	BreakerOpenTimeout time.Duration
}

func (h HybridConfig) withDefaults() HybridConfig {
	if h.ReadTimeout <= 0 {
		h.ReadTimeout = 200 * time.Millisecond
	}
	if h.OnReadFailure == "" {
		h.OnReadFailure = AcceptOnReadFailure
	}
	if h.BreakerFailures <= 0 {
		h.BreakerFailures = 5
	}
	if h.BreakerOpenTimeout <= 0 {
		h.BreakerOpenTimeout = 2 * time.Second
	}
	return h
}

func (h HybridConfig) check() error {
	switch h.OnReadFailure {
	case AcceptOnReadFailure, RefuseOnReadFailure:
		return nil
	}
	return fmt.Errorf("order config: unknown hybrid read-failure policy %q (want %q or %q)", h.OnReadFailure, AcceptOnReadFailure, RefuseOnReadFailure)
}

// stockReader is hybrid mode's stock read: the inventory client's Stock
// behind a circuit breaker (github.com/sony/gobreaker/v2). Safe for
// concurrent use.
type stockReader struct {
	read     func(ctx context.Context, sku string) (Stock, error)
	cfg      HybridConfig
	cb       *gobreaker.CircuitBreaker[Stock]
	openedAt atomic.Int64 // unix nanos of the last transition to open

	reads, failures, rejOpen, opened                 atomic.Int64
	refusedShort, refusedUnknown, refusedUnavailable atomic.Int64
}

func newStockReader(read func(ctx context.Context, sku string) (Stock, error), cfg HybridConfig) *stockReader {
	r := &stockReader{read: read, cfg: cfg}
	threshold := uint32(cfg.BreakerFailures)
	r.cb = gobreaker.NewCircuitBreaker[Stock](gobreaker.Settings{
		Name:        "inventory-stock-read",
		MaxRequests: 1,
		Timeout:     cfg.BreakerOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// A 404 is an answer: inventory is up.
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, ErrUnknownSKU) },
		// The client went away: says nothing about inventory.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				r.openedAt.Store(time.Now().UnixNano())
				r.opened.Add(1)
			}
		},
	})
	return r
}

// stock reads sku's stock through the breaker within ReadTimeout. Errors:
// ErrUnknownSKU (an answer), or ErrInventoryUnavailable wrapping the cause;
// a read the breaker refused also wraps ErrCircuitOpen.
func (r *stockReader) stock(ctx context.Context, sku string) (Stock, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ReadTimeout)
	defer cancel()
	s, err := r.cb.Execute(func() (Stock, error) {
		r.reads.Add(1)
		return r.read(ctx, sku)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		r.rejOpen.Add(1)
		err = fmt.Errorf("%w: %d stock reads failed in a row, next probe in %s: %w",
			ErrCircuitOpen, r.cfg.BreakerFailures, r.retryAfter().Round(time.Millisecond), ErrInventoryUnavailable)
	}
	if err != nil && !errors.Is(err, ErrUnknownSKU) {
		r.failures.Add(1)
	}
	return s, err
}

// retryAfter is the time left until the open breaker lets a probe through.
func (r *stockReader) retryAfter() time.Duration {
	if r.cb.State() != gobreaker.StateOpen {
		return 0
	}
	return max(r.cfg.BreakerOpenTimeout-time.Since(time.Unix(0, r.openedAt.Load())), 0)
}

// HybridStats is served under "hybrid" by GET /stats in hybrid mode. The
// counters marked "this process" reset on restart; the others are read
// from the order store.
type HybridStats struct {
	OnReadFailure ReadFailurePolicy `json:"on_read_failure"` // "accept" or "refuse"
	ReadTimeoutMs int64             `json:"read_timeout_ms"` // HybridConfig.ReadTimeout
	Breaker       string            `json:"breaker"`         // stock-read breaker: "closed", "open" or "half-open"
	BreakerOpened int64             `json:"breaker_opened"`  // transitions to open, this process
	StockReads    int64             `json:"stock_reads"`     // GET /stock calls made, this process
	ReadFailures  int64             `json:"read_failures"`   // reads that failed or were not made (breaker open), this process
	RejectedOpen  int64             `json:"rejected_open"`   // reads the breaker refused, this process
	// Answers of this process that stored nothing.
	RefusedInsufficient int64 `json:"refused_insufficient"` // 409 insufficient_stock
	RefusedUnknownSKU   int64 `json:"refused_unknown_sku"`  // 422 unknown_sku
	RefusedUnavailable  int64 `json:"refused_unavailable"`  // 503 stock_unavailable (policy refuse)
	// From the store: hybrid orders accepted (202) by stock check, and
	// those later REJECTED (promises broken).
	AcceptedVerified         int `json:"accepted_verified"`
	AcceptedUnverified       int `json:"accepted_unverified"`
	PromisesBrokenVerified   int `json:"promises_broken_verified"`   // the stock was gone by the reservation
	PromisesBrokenUnverified int `json:"promises_broken_unverified"` // accepted on a failed read
}

// HybridStats returns the hybrid-mode snapshot; ok is false in the other
// modes.
func (s *Service) HybridStats(ctx context.Context) (HybridStats, bool, error) {
	r := s.stock
	if r == nil {
		return HybridStats{}, false, nil
	}
	h := HybridStats{
		OnReadFailure: r.cfg.OnReadFailure, ReadTimeoutMs: r.cfg.ReadTimeout.Milliseconds(),
		Breaker: r.cb.State().String(), BreakerOpened: r.opened.Load(),
		StockReads: r.reads.Load(), ReadFailures: r.failures.Load(), RejectedOpen: r.rejOpen.Load(),
		RefusedInsufficient: r.refusedShort.Load(), RefusedUnknownSKU: r.refusedUnknown.Load(),
		RefusedUnavailable: r.refusedUnavailable.Load(),
	}
	rows, err := s.store.db.QueryContext(ctx, `SELECT stock_check, status = ?, COUNT(*) FROM orders WHERE mode = ? GROUP BY 1, 2`, StatusRejected, ModeHybrid)
	if err != nil {
		return HybridStats{}, true, fmt.Errorf("count hybrid orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var check string
		var rejected bool
		var n int
		if err := rows.Scan(&check, &rejected, &n); err != nil {
			return HybridStats{}, true, fmt.Errorf("count hybrid orders: %w", err)
		}
		switch check {
		case StockVerified:
			h.AcceptedVerified += n
			if rejected {
				h.PromisesBrokenVerified += n
			}
		case StockUnverified:
			h.AcceptedUnverified += n
			if rejected {
				h.PromisesBrokenUnverified += n
			}
		}
	}
	return h, true, rows.Err()
}

// PromisesBroken counts orders that were answered 202 (accepted) and are
// now REJECTED, from the store: async and hybrid orders inventory turned
// down after the caller was told yes. Sync mode never has one (its 201 is
// final).
func (st *Store) PromisesBroken(ctx context.Context) (int, error) {
	var n int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE resp_status = ? AND status = ?`,
		http.StatusAccepted, StatusRejected).Scan(&n); err != nil {
		return 0, fmt.Errorf("count promises broken: %w", err)
	}
	return n, nil
}

// placeHybrid reads the stock and answers from it (see the table at the
// top of this file); accepted orders go through placeAsync.
func (s *Service) placeHybrid(w http.ResponseWriter, r *http.Request, o Order, key string, msg events.Message) {
	r0 := s.stock
	st, err := r0.stock(r.Context(), o.SKU)
	if r.Context().Err() != nil {
		return // the client went away during the read: nothing stored, no answer
	}
	switch {
	case err == nil && st.Available >= o.Quantity:
		o.StockCheck = StockVerified
	case err == nil:
		r0.refusedShort.Add(1)
		web.WriteError(w, http.StatusConflict, "insufficient_stock",
			fmt.Sprintf("sku %q has %d available, %d requested; nothing was stored", o.SKU, st.Available, o.Quantity))
		return
	case errors.Is(err, ErrUnknownSKU):
		r0.refusedUnknown.Add(1)
		web.WriteError(w, http.StatusUnprocessableEntity, "unknown_sku",
			fmt.Sprintf("sku %q is unknown to inventory; nothing was stored", o.SKU))
		return
	case s.cfg.Hybrid.OnReadFailure == RefuseOnReadFailure:
		r0.refusedUnavailable.Add(1)
		s.log.Info("stock read failed, order refused", "sku", o.SKU, "err", err)
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int((r0.retryAfter()+time.Second-1)/time.Second))))
		web.WriteError(w, http.StatusServiceUnavailable, "stock_unavailable",
			fmt.Sprintf("stock of %q could not be read: %v; nothing was stored, retry later", o.SKU, err))
		return
	default:
		s.log.Info("stock read failed, order accepted unverified", "sku", o.SKU, "err", err)
		o.StockCheck = StockUnverified
	}
	s.placeAsync(w, r, o, key, msg)
}

// addStockCheckColumn adds orders.stock_check to a database created before
// hybrid mode existed (the schema's CREATE TABLE IF NOT EXISTS leaves an
// existing table as it is).
func addStockCheckColumn(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('orders') WHERE name = 'stock_check'`).Scan(&n); err != nil {
		return fmt.Errorf("look for orders.stock_check: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE orders ADD COLUMN stock_check TEXT NOT NULL DEFAULT ''`); err != nil {
		return fmt.Errorf("add orders.stock_check: %w", err)
	}
	return nil
}
