package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/web"
)

// stockServer is an inventory whose GET /stock/{sku} answers with answer
// (set before use); it counts the reads it received.
type stockServer struct {
	*httptest.Server
	reads atomic.Int64
}

func newStockServer(t testing.TB, answer http.HandlerFunc) *stockServer {
	t.Helper()
	s := &stockServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{sku}", func(w http.ResponseWriter, r *http.Request) {
		s.reads.Add(1)
		answer(w, r)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// stockOf answers GET /stock with stock[sku], 404 unknown_sku when absent.
func stockOf(stock map[string]int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, ok := stock[r.PathValue("sku")]
		if !ok {
			web.WriteError(w, http.StatusNotFound, "unknown_sku", "no such sku")
			return
		}
		web.WriteJSON(w, http.StatusOK, Stock{SKU: r.PathValue("sku"), Available: n})
	}
}

// hung answers GET /stock only after the client gave up.
func hung(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func failing(w http.ResponseWriter, _ *http.Request) {
	web.WriteError(w, http.StatusInternalServerError, "boom", "database on fire")
}

func newHybrid(t testing.TB, inventoryURL string, h HybridConfig) *Service {
	t.Helper()
	return newService(t, Config{Mode: ModeHybrid, InventoryURL: inventoryURL, Hybrid: h})
}

func hybridStats(t testing.TB, s *Service) HybridStats {
	t.Helper()
	h, ok, err := s.HybridStats(context.Background())
	if err != nil || !ok {
		t.Fatalf("HybridStats: ok %v, %v", ok, err)
	}
	return h
}

// wantAccepted checks a 202 with stock_check check, one PENDING hybrid
// order stored as such with its outbox row, and GET /orders/{id} showing
// the same stock_check.
func wantAccepted(t *testing.T, s *Service, res httpResult, check string) Order {
	t.Helper()
	if res.status != http.StatusAccepted {
		t.Fatalf("status = %d, body %s; want 202", res.status, res.body)
	}
	o := res.order(t)
	if o.Status != StatusPending || o.Mode != ModeHybrid || o.StockCheck != check {
		t.Fatalf("order = %+v; want PENDING hybrid, stock_check %q", o, check)
	}
	if got := do(t, s.Handler(), http.MethodGet, "/orders/"+o.ID, nil, nil).order(t); got.StockCheck != check || got.ID != o.ID {
		t.Fatalf("GET /orders/%s = %+v; want stock_check %q", o.ID, got, check)
	}
	if n, ob := counts(t, s.Store()); n != 1 || ob != 1 {
		t.Fatalf("%d orders, %d outbox rows; want 1 and 1", n, ob)
	}
	return o
}

// wantRefused checks an error answer with nothing stored.
func wantRefused(t *testing.T, s *Service, res httpResult, status int, code string) {
	t.Helper()
	if res.status != status || res.errCode(t) != code {
		t.Fatalf("got %d %s; want %d %s", res.status, res.body, status, code)
	}
	if n, ob := counts(t, s.Store()); n != 0 || ob != 0 {
		t.Fatalf("%d orders, %d outbox rows stored; want none", n, ob)
	}
}

var policies = []ReadFailurePolicy{AcceptOnReadFailure, RefuseOnReadFailure}

func TestHybridStockVerified(t *testing.T) {
	for _, p := range policies {
		t.Run(string(p), func(t *testing.T) {
			inv := newStockServer(t, stockOf(map[string]int{"SKU-1": 5}))
			s := newHybrid(t, inv.URL, HybridConfig{OnReadFailure: p})
			o := wantAccepted(t, s, postOrder(t, s.Handler(), "SKU-1", 5, ""), StockVerified)
			rows, err := s.Store().unpublished(context.Background(), 10)
			if err != nil || len(rows) != 1 {
				t.Fatalf("unpublished = %v, %v", rows, err)
			}
			if e, err := events.Decode(rows[0].msg.Value); err != nil || e.OrderID != o.ID || e.Quantity != 5 || e.Type != events.OrderPlaced {
				t.Fatalf("outbox event %+v, %v", e, err)
			}
			if h := hybridStats(t, s); h.StockReads != 1 || h.AcceptedVerified != 1 || h.ReadFailures != 0 || h.OnReadFailure != p {
				t.Fatalf("stats %+v", h)
			}
		})
	}
}

func TestHybridStockInsufficientOrUnknown(t *testing.T) {
	for _, p := range policies {
		t.Run(string(p), func(t *testing.T) {
			var units atomic.Int64
			units.Store(4)
			inv := newStockServer(t, func(w http.ResponseWriter, r *http.Request) {
				stockOf(map[string]int{"SKU-1": int(units.Load())})(w, r)
			})
			s := newHybrid(t, inv.URL, HybridConfig{OnReadFailure: p})
			wantRefused(t, s, postOrder(t, s.Handler(), "SKU-1", 5, "k1"), http.StatusConflict, "insufficient_stock")
			wantRefused(t, s, postOrder(t, s.Handler(), "SKU-9", 1, "k2"), http.StatusUnprocessableEntity, "unknown_sku")
			h := hybridStats(t, s)
			if h.RefusedInsufficient != 1 || h.RefusedUnknownSKU != 1 || h.ReadFailures != 0 || h.Breaker != "closed" {
				t.Fatalf("stats %+v", h)
			}
			// Nothing was stored, so the key is unused: the same request
			// reads again, and now the stock is there.
			units.Store(5)
			wantAccepted(t, s, postOrder(t, s.Handler(), "SKU-1", 5, "k1"), StockVerified)
		})
	}
}

func TestHybridReadFailure(t *testing.T) {
	const timeout = 100 * time.Millisecond
	failures := map[string]func(t *testing.T) string{
		"timeout": func(t *testing.T) string { return newStockServer(t, hung).URL },
		"500":     func(t *testing.T) string { return newStockServer(t, failing).URL },
		"down": func(t *testing.T) string {
			inv := newStockServer(t, failing)
			inv.Close() // connection refused
			return inv.URL
		},
	}
	for name, url := range failures {
		for _, p := range policies {
			t.Run(name+"/"+string(p), func(t *testing.T) {
				s := newHybrid(t, url(t), HybridConfig{OnReadFailure: p, ReadTimeout: timeout})
				start := time.Now()
				res := postOrder(t, s.Handler(), "SKU-1", 1, "")
				if took := time.Since(start); took > timeout+time.Second {
					t.Fatalf("answered after %v, want within about the %v read timeout", took, timeout)
				}
				if p == AcceptOnReadFailure {
					wantAccepted(t, s, res, StockUnverified)
				} else {
					wantRefused(t, s, res, http.StatusServiceUnavailable, "stock_unavailable")
					if res.header.Get("Retry-After") != "1" {
						t.Fatalf("Retry-After = %q, want 1", res.header.Get("Retry-After"))
					}
				}
				if h := hybridStats(t, s); h.ReadFailures != 1 || h.AcceptedUnverified+int(h.RefusedUnavailable) != 1 {
					t.Fatalf("stats %+v", h)
				}
			})
		}
	}
}

func TestHybridBreakerOpen(t *testing.T) {
	for _, p := range policies {
		t.Run(string(p), func(t *testing.T) {
			inv := newStockServer(t, failing)
			s := newHybrid(t, inv.URL, HybridConfig{OnReadFailure: p, BreakerFailures: 2, BreakerOpenTimeout: time.Minute})
			for range 2 {
				postOrder(t, s.Handler(), "SKU-1", 1, "")
			}
			if h := hybridStats(t, s); h.Breaker != "open" || h.BreakerOpened != 1 || inv.reads.Load() != 2 {
				t.Fatalf("after 2 failed reads: stats %+v, %d reads; want the breaker open", h, inv.reads.Load())
			}
			start := time.Now()
			res := postOrder(t, s.Handler(), "SKU-1", 1, "")
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Fatalf("breaker open, answered after %v; want at once", took)
			}
			if inv.reads.Load() != 2 {
				t.Fatalf("%d reads reached inventory with the breaker open; want 2", inv.reads.Load())
			}
			h := hybridStats(t, s)
			if h.RejectedOpen != 1 || h.ReadFailures != 3 {
				t.Fatalf("stats %+v; want 1 read refused by the breaker, 3 failures", h)
			}
			if p == AcceptOnReadFailure {
				if res.status != http.StatusAccepted || res.order(t).StockCheck != StockUnverified || h.AcceptedUnverified != 3 {
					t.Fatalf("got %d %s, stats %+v; want 202 unverified, 3 accepted", res.status, res.body, h)
				}
				return
			}
			if res.status != http.StatusServiceUnavailable || res.errCode(t) != "stock_unavailable" {
				t.Fatalf("got %d %s; want 503 stock_unavailable", res.status, res.body)
			}
			if ra, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || ra < 59 || ra > 60 {
				t.Fatalf("Retry-After = %q; want the ~60 s until the probe", res.header.Get("Retry-After"))
			}
			if n, _ := counts(t, s.Store()); n != 0 {
				t.Fatalf("%d orders stored; want none", n)
			}
		})
	}
}

func TestHybridBreakerClosesAfterProbe(t *testing.T) {
	var ok atomic.Bool
	inv := newStockServer(t, func(w http.ResponseWriter, r *http.Request) {
		if ok.Load() {
			stockOf(map[string]int{"SKU-1": 5})(w, r)
			return
		}
		failing(w, r)
	})
	s := newHybrid(t, inv.URL, HybridConfig{OnReadFailure: RefuseOnReadFailure, BreakerFailures: 1, BreakerOpenTimeout: 50 * time.Millisecond})
	postOrder(t, s.Handler(), "SKU-1", 1, "")
	if h := hybridStats(t, s); h.Breaker != "open" {
		t.Fatalf("breaker %q after a failed read; want open", h.Breaker)
	}
	ok.Store(true)
	testkit.Eventually(t, 5*time.Second, func() (bool, string) {
		res := postOrder(t, s.Handler(), "SKU-1", 1, "")
		return res.status == http.StatusAccepted, strconv.Itoa(res.status)
	})
	if h := hybridStats(t, s); h.Breaker != "closed" || h.AcceptedVerified != 1 {
		t.Fatalf("stats %+v; want the breaker closed after its probe", h)
	}
}

func TestHybridIdempotentReplayDoesNotRead(t *testing.T) {
	inv := newStockServer(t, stockOf(map[string]int{"SKU-1": 5}))
	s := newHybrid(t, inv.URL, HybridConfig{})
	first := postOrder(t, s.Handler(), "SKU-1", 2, "key-1")
	again := postOrder(t, s.Handler(), "SKU-1", 2, "key-1")
	if again.status != http.StatusAccepted || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d %s %v; want the first 202 again", again.status, again.body, again.header)
	}
	if inv.reads.Load() != 1 {
		t.Fatalf("%d stock reads; the replay must not read", inv.reads.Load())
	}
}

// TestPromisesBroken: an accepted hybrid order that inventory then
// rejects counts as a promise broken, from the store, split by its stock
// check; GET /stats serves both.
func TestPromisesBroken(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	inv := newStockServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			failing(w, r)
			return
		}
		stockOf(map[string]int{"SKU-1": 5})(w, r)
	})
	s := newHybrid(t, inv.URL, HybridConfig{})
	ctx := context.Background()
	verified := postOrder(t, s.Handler(), "SKU-1", 5, "").order(t)
	kept := postOrder(t, s.Handler(), "SKU-1", 5, "").order(t)
	up.Store(false)
	unverified := postOrder(t, s.Handler(), "SKU-1", 5, "").order(t)
	if verified.StockCheck != StockVerified || unverified.StockCheck != StockUnverified {
		t.Fatalf("stock checks %q, %q", verified.StockCheck, unverified.StockCheck)
	}
	for _, id := range []string{verified.ID, unverified.ID} {
		if err := s.HandleStockOutcome(ctx, outcome(t, events.StockRejected, id, "insufficient_stock")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.HandleStockOutcome(ctx, outcome(t, events.StockReserved, kept.ID, "")); err != nil {
		t.Fatal(err)
	}
	var body struct {
		PromisesBroken int         `json:"promises_broken"`
		Hybrid         HybridStats `json:"hybrid"`
	}
	res := do(t, s.Handler(), http.MethodGet, "/stats", nil, nil)
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Fatalf("GET /stats %d %s: %v", res.status, res.body, err)
	}
	h := body.Hybrid
	if body.PromisesBroken != 2 || h.PromisesBrokenVerified != 1 || h.PromisesBrokenUnverified != 1 ||
		h.AcceptedVerified != 2 || h.AcceptedUnverified != 1 {
		t.Fatalf("GET /stats %s; want 2 promises broken (1 verified, 1 unverified) of 3 accepted", res.body)
	}
}

// TestPromisesBrokenNeverInSync: a sync order inventory turns down was
// never accepted.
func TestPromisesBrokenNeverInSync(t *testing.T) {
	inv := newFakeInventory(t, map[string]int{"SKU-1": 0}, nil)
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL})
	if res := postOrder(t, s.Handler(), "SKU-1", 1, ""); res.status != http.StatusConflict {
		t.Fatalf("status %d, want 409", res.status)
	}
	if n, err := s.Store().PromisesBroken(context.Background()); err != nil || n != 0 {
		t.Fatalf("PromisesBroken = %d, %v; want 0", n, err)
	}
	if _, ok, _ := s.HybridStats(context.Background()); ok {
		t.Fatal("HybridStats ok in sync mode")
	}
}

func TestHybridConfigRejectsUnknownPolicy(t *testing.T) {
	_, err := New(Config{Mode: ModeHybrid, DBPath: filepath.Join(t.TempDir(), "o.db"), Kafka: newService(t, Config{Mode: ModeAsync}).cfg.Kafka,
		Hybrid: HybridConfig{OnReadFailure: "maybe"}}, nil)
	if err == nil {
		t.Fatal("policy \"maybe\" accepted")
	}
	if _, err := New(Config{Mode: ModeHybrid, DBPath: filepath.Join(t.TempDir(), "o.db")}, nil); err == nil {
		t.Fatal("hybrid mode without Kafka brokers accepted")
	}
}

// TestStoreAddsStockCheckColumn opens a database made by the schema before
// hybrid mode (no orders.stock_check) and reads its orders.
func TestStoreAddsStockCheckColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE orders (id TEXT PRIMARY KEY, sku TEXT NOT NULL, quantity INTEGER NOT NULL, mode TEXT NOT NULL,
		status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', idempotency_key TEXT UNIQUE, resp_status INTEGER NOT NULL DEFAULT 0,
		resp_body BLOB, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
		INSERT INTO orders (id, sku, quantity, mode, status, created_at, updated_at)
		VALUES ('o1', 'SKU-1', 1, 'async', 'PENDING', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 { // the second open finds the column
		st, err := OpenStore(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		o, err := st.Get(context.Background(), "o1")
		st.Close()
		if err != nil || o.StockCheck != "" || o.SKU != "SKU-1" {
			t.Fatalf("Get = %+v, %v", o, err)
		}
	}
}
