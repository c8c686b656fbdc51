package order

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/telemetry"
	"github.com/faultline-harness/faultline/services/web"
)

// MaxIdempotencyKeyLen bounds the Idempotency-Key header (400 beyond it).
const MaxIdempotencyKeyLen = 255

// routes is the HTTP API:
//
//	POST /orders       {"sku":"SKU-1","quantity":2} [Idempotency-Key: …]
//	                   -> 201 (sync) / 202 (async, hybrid) Order JSON; errors below
//	GET  /orders/{id}  -> 200 Order JSON | 404 not_found
//	GET  /stats        -> 200 {"orders":{"PENDING":n,"CONFIRMED":n,"REJECTED":n,"FAILED":n},
//	                           "outbox_backlog":n,"outbox_parked":n,"outbox_lanes":n,
//	                           "outbox_published":n,"outbox_publish_failures":n,
//	                           "consumer_lag":n,"stock_outcomes_unknown_order":n,"promises_broken":n,
//	                           "handled":n,"handler_attempts":n,"handler_errors_transient":n,"handler_errors_permanent":n,
//	                           "dead_lettered":n,"dead_lettered_whole":n,"dead_lettered_envelope":n,"dead_letters_dropped":n,
//	                           "handler_errors_unclassified":n,"dead_lettered_unclassified":n,
//	                           "in_flight_requests":n,"waiting_requests":n,"workers":n,"goroutines":n,
//	                           "inventory":{…ResilienceStats…} (sync mode only),
//	                           "hybrid":{…HybridStats…} (hybrid mode only)}
//	GET  /outbox/parked[?limit=n]
//	                   -> 200 [ParkedRow JSON, …] oldest first, at most limit
//	                      (default 100, 1 to 10,000; else 400 invalid_request);
//	                      [] when none (and in sync mode)
//	GET  /healthz      -> 200 {"status":"ok","mode":"sync|async|hybrid"}
//	GET  /metrics      -> 200 Prometheus text format (see metrics.go)
//
// Every error body is web.ErrorBody {"error":{"code","message"}}, unrouted
// paths (404 not_found) and wrong methods (405 method_not_allowed) included.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.handleCreate)
	mux.HandleFunc("GET /orders/{id}", s.handleGet)
	mux.HandleFunc("GET /stats", s.handleStats)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /outbox/parked", s.handleParked)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "mode": string(s.cfg.Mode)})
	})
	return web.WithJSONErrors(mux)
}

type createRequest struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// check applies the bounds shared with inventory and the event schema
// (events.MaxSKULen, events.MaxQuantity) and the Idempotency-Key limit. It
// returns every violation, joined by "; ", or nil.
func (req createRequest) check(key string) error {
	var errs []string
	if err := events.CheckSKU(req.SKU); err != nil {
		errs = append(errs, err.Error())
	}
	if err := events.CheckQuantity(req.Quantity); err != nil {
		errs = append(errs, err.Error())
	}
	if len(key) > MaxIdempotencyKeyLen {
		errs = append(errs, fmt.Sprintf("Idempotency-Key must be at most %d bytes, got %d", MaxIdempotencyKeyLen, len(key)))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// handleCreate is POST /orders.
//
// Request errors, in both modes, store nothing and leave the
// Idempotency-Key unused:
//   - 415 unsupported_media_type: Content-Type present and not the media
//     type application/json (see web.Decode; a missing one is read as JSON);
//   - 413 body_too_large (> 1 MiB);
//   - 400 malformed_json: not one strict JSON object (web.Decode: unknown or
//     other-case field, duplicate field, invalid UTF-8, quantity not an
//     integer or beyond int64, wrong type, empty body, trailing data);
//   - 400 invalid_request, naming each field and its bound: sku not 1 to
//     64 bytes of printable UTF-8 (events.MaxSKULen), quantity not 1 to
//     10,000 (events.MaxQuantity), Idempotency-Key over 255 bytes, or an
//     order-placed record over the producer's limit (cannot happen within
//     these bounds; checked anyway);
//   - 422 unknown_sku: SKU not in Config.Catalog (when a catalog is set);
//   - 422 idempotency_key_reused: the key was used with another sku/quantity;
//   - 409 request_in_progress (Retry-After: 1): the key's first request is
//     still waiting for inventory.
//
// Sync mode answers with the reservation outcome (the order is stored in
// every case):
//   - 201 Order JSON, status CONFIRMED;
//   - 409 insufficient_stock: order stored REJECTED (reason insufficient_stock);
//   - 422 unknown_sku: inventory does not know the SKU; order stored
//     REJECTED (reason unknown_sku);
//   - 503 inventory_unavailable, see syncOutcome;
//   - 503 circuit_open / bulkhead_full (only with Config.Resilience): turned
//     away before anything was stored, see writeFastFail.
//
// Async mode answers 202 Order JSON (status PENDING) once the order and its
// order-placed outbox row are committed.
//
// Hybrid mode reads the stock first and answers 202 (stock_check
// "verified" or "unverified"), 409 insufficient_stock, 422 unknown_sku or
// 503 stock_unavailable; only a 202 stores anything (see hybrid.go).
//
// Idempotency-Key: a repeat with the same key and body gets the first
// response again, same status and byte-identical body (plus header
// Idempotent-Replayed: true), and creates nothing. A replayed 503 is final
// for that key: retry with a new key.
func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !web.Decode(w, r, &req) {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if err := req.check(key); err != nil {
		web.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if len(s.cfg.Catalog) > 0 {
		if _, ok := s.cfg.Catalog[req.SKU]; !ok {
			web.WriteError(w, http.StatusUnprocessableEntity, "unknown_sku", fmt.Sprintf("sku %q is not in the catalog", req.SKU))
			return
		}
	}
	now := time.Now().UTC()
	o := Order{ID: uuid.NewString(), SKU: req.SKU, Quantity: req.Quantity, Mode: s.cfg.Mode, Status: StatusPending, CreatedAt: now, UpdatedAt: now}
	trace.SpanFromContext(r.Context()).SetAttributes(telemetry.AttrOrderID.String(o.ID), attribute.String("order.mode", string(o.Mode)))
	// Both modes: no order is accepted whose event could not be published.
	msg, err := orderPlacedRecord(o, uuid.NewString())
	switch {
	case errors.Is(err, events.ErrInvalid) || errors.Is(err, messaging.ErrTooLarge):
		web.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	case err != nil:
		s.internalError(w, "build order-placed event", err)
		return
	}
	if key != "" && s.replay(r.Context(), w, key, req) {
		return
	}
	switch s.cfg.Mode {
	case ModeAsync:
		s.placeAsync(w, r, o, key, msg)
	case ModeHybrid:
		s.placeHybrid(w, r, o, key, msg)
	default:
		s.placeSync(w, r, o, key)
	}
}

// placeAsync commits the order and its order-placed outbox row msg in one
// transaction and answers 202 (the committer wakes the running relay).
func (s *Service) placeAsync(w http.ResponseWriter, r *http.Request, o Order, key string, msg events.Message) {
	// The outbox_bypass negative control, only in binaries built with the
	// negativecontrol tag (outbox_bypass_negativecontrol.go); elsewhere
	// *Service has no such method and this is never taken.
	if nc, ok := any(s).(interface {
		bypassOutbox(http.ResponseWriter, *http.Request, Order, events.Message) bool
	}); ok && nc.bypassOutbox(w, r, o, msg) {
		return
	}
	resp := response{status: http.StatusAccepted, body: jsonBody(o)}
	created, err := s.store.create(r.Context(), o, key, resp, &msg)
	if err != nil {
		s.internalError(w, "store order", err)
		return
	}
	if !created { // a concurrent request with the same key won
		if !s.replay(r.Context(), w, key, createRequest{o.SKU, o.Quantity}) {
			s.internalError(w, "replay idempotent request", errors.New("key vanished"))
		}
		return
	}
	writeResponse(w, o.ID, resp)
}

// placeSync stores the order PENDING, reserves stock and stores the outcome.
// The inventory call is bounded by Config.InventoryTimeout and is not
// cancelled when the client goes away, so the outcome is always recorded.
//
// With Config.Resilience, a request the bulkhead or the breaker (open, or
// half-open with its probes taken) turns away gets 503 bulkhead_full or
// circuit_open at once, before anything is stored (so its Idempotency-Key
// stays unused and can be retried later). An admitted request holds the
// breaker's permit for its first inventory call.
func (s *Service) placeSync(w http.ResponseWriter, r *http.Request, o Order, key string) {
	adm, err := s.guard.admit()
	if err != nil {
		s.log.Debug("reservation refused fast", "err", err)
		s.writeFastFail(w, err)
		return
	}
	defer adm.release()
	created, err := s.store.create(r.Context(), o, key, response{}, nil)
	if err != nil {
		s.internalError(w, "store order", err)
		return
	}
	if !created {
		if !s.replay(r.Context(), w, key, createRequest{o.SKU, o.Quantity}) {
			s.internalError(w, "replay idempotent request", errors.New("key vanished"))
		}
		return
	}
	ctx := context.WithoutCancel(r.Context())
	_, err = s.guard.reserve(ctx, adm, ReservationRequest{OrderID: o.ID, SKU: o.SKU, Quantity: o.Quantity})
	if err != nil {
		s.log.Info("reservation not made", "order_id", o.ID, "err", err)
	}
	o, resp := syncOutcome(o, err, time.Now())
	if err := s.store.finish(ctx, o, resp); err != nil {
		s.internalError(w, "store order outcome", err)
		return
	}
	writeResponse(w, o.ID, resp)
}

// syncOutcome maps a Reserve result to the order's final state and the
// HTTP response. This is the contract of sync-mode POST /orders:
//
//	Reserve result             order                        response
//	nil                        CONFIRMED                    201 Order JSON, Location: /orders/<id>
//	ErrInsufficientStock       REJECTED insufficient_stock  409 {"error":{"code":"insufficient_stock","message":"order <id> rejected: …"}}
//	ErrUnknownSKU              REJECTED unknown_sku         422 {"error":{"code":"unknown_sku","message":"order <id> rejected: …"}}
//	ErrCircuitOpen (the        FAILED "circuit_open: <cause>"  503 {"error":{"code":"circuit_open","message":"order <id> failed: …"}}
//	breaker refused a retry of this admitted request; Resilience.Breaker and Retry only)
//	any other error (refused,  FAILED "inventory_unavailable: <cause>"
//	timeout, 5xx, bad answer)                               503 {"error":{"code":"inventory_unavailable","message":"order <id> failed: <cause>; retry later"}}
//	                                                        with header Retry-After: 1 (seconds)
//
// The 503 body has exactly the two fields code and message; the order ID is
// in the message and the FAILED order is readable with GET /orders/{id}.
// A 503 arrives within about Config.InventoryTimeout.
func syncOutcome(o Order, err error, now time.Time) (Order, response) {
	o.UpdatedAt = now.UTC()
	switch {
	case err == nil:
		o.Status, o.Reason = StatusConfirmed, ""
		return o, response{http.StatusCreated, jsonBody(o)}
	case errors.Is(err, ErrInsufficientStock):
		o.Status, o.Reason = StatusRejected, "insufficient_stock"
		return o, errorResponse(http.StatusConflict, o.Reason, fmt.Sprintf("order %s rejected: insufficient stock for %d x %q", o.ID, o.Quantity, o.SKU))
	case errors.Is(err, ErrUnknownSKU):
		o.Status, o.Reason = StatusRejected, "unknown_sku"
		return o, errorResponse(http.StatusUnprocessableEntity, o.Reason, fmt.Sprintf("order %s rejected: sku %q is unknown to inventory", o.ID, o.SKU))
	case errors.Is(err, ErrCircuitOpen):
		o.Status, o.Reason = StatusFailed, "circuit_open: "+err.Error()
		return o, errorResponse(http.StatusServiceUnavailable, "circuit_open", fmt.Sprintf("order %s failed: %v; retry later", o.ID, err))
	default:
		o.Status, o.Reason = StatusFailed, "inventory_unavailable: "+err.Error()
		return o, errorResponse(http.StatusServiceUnavailable, "inventory_unavailable", fmt.Sprintf("order %s failed: %v; retry later", o.ID, err))
	}
}

// replay answers a request whose Idempotency-Key is already stored. It
// returns false when the key is unknown (nothing written).
func (s *Service) replay(ctx context.Context, w http.ResponseWriter, key string, req createRequest) bool {
	o, resp, err := s.store.byIdempotencyKey(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return false
	case err != nil:
		s.internalError(w, "look up idempotency key", err)
	case o.SKU != req.SKU || o.Quantity != req.Quantity:
		web.WriteError(w, http.StatusUnprocessableEntity, "idempotency_key_reused",
			fmt.Sprintf("Idempotency-Key was used for order %s with another sku or quantity", o.ID))
	case resp.status == 0:
		w.Header().Set("Retry-After", "1")
		web.WriteError(w, http.StatusConflict, "request_in_progress",
			fmt.Sprintf("order %s for this Idempotency-Key is still being processed", o.ID))
	default:
		w.Header().Set("Idempotent-Replayed", "true")
		writeResponse(w, o.ID, resp)
	}
	return true
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, err := s.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		web.WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("order %q not found", id))
	case err != nil:
		s.internalError(w, "get order", err)
	default:
		web.WriteJSON(w, http.StatusOK, o)
	}
}

// statsBody is the GET /stats answer. outbox_backlog counts rows waiting
// to be published, outbox_parked the rows parked after a permanent failure
// or MaxUnclassifiedAttempts unclassified ones (from the database);
// outbox_lanes is how many relay lanes (partitions) run; outbox_published,
// outbox_publish_failures and outbox_parked_unclassified count this
// process's relay publishes, failed lane sends and rows parked after
// unclassified failures; consumer_lag is the stock-outcome
// consumer's lag (0 in sync mode or before it joined); promises_broken
// counts orders answered 202 and now REJECTED (Store.PromisesBroken;
// always 0 in sync mode).
type statsBody struct {
	Stats
	OutboxLanes        int   `json:"outbox_lanes"`
	OutboxPublished    int64 `json:"outbox_published"`
	PublishFailures    int64 `json:"outbox_publish_failures"`
	ParkedUnclassified int64 `json:"outbox_parked_unclassified"`
	ConsumerLag        int64 `json:"consumer_lag"`
	// The stock-outcome consumer's counters (zero in sync mode): handled,
	// handler_attempts, handler_errors_transient, handler_errors_permanent,
	// dead_lettered, dead_lettered_whole, dead_lettered_envelope,
	// dead_letters_dropped, handler_errors_unclassified,
	// dead_lettered_unclassified.
	messaging.ConsumerStats
	// UnknownOutcomes: stock outcomes for orders this service does not
	// hold (placed through another instance), skipped.
	UnknownOutcomes int64 `json:"stock_outcomes_unknown_order"`
	PromisesBroken  int   `json:"promises_broken"`
	Load
	Inventory *ResilienceStats `json:"inventory,omitempty"`
	Hybrid    *HybridStats     `json:"hybrid,omitempty"`
}

func (s *Service) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.internalError(w, "read stats", err)
		return
	}
	body := statsBody{Stats: st}
	if body.PromisesBroken, err = s.store.PromisesBroken(r.Context()); err != nil {
		s.internalError(w, "read stats", err)
		return
	}
	if h, ok, err := s.HybridStats(r.Context()); err != nil {
		s.internalError(w, "read stats", err)
		return
	} else if ok {
		body.Hybrid = &h
	}
	if s.relay != nil {
		body.OutboxPublished = s.relay.Published()
		body.OutboxLanes = s.relay.Lanes()
		body.PublishFailures = s.relay.Failures()
		body.ParkedUnclassified = s.relay.ParkedUnclassified()
	}
	if c := s.consumer.Load(); c != nil {
		body.ConsumerLag, body.ConsumerStats = c.Lag(), c.Stats()
	}
	body.UnknownOutcomes = s.unknownOutcomes.Load()
	body.Load = s.Load()
	if inv, ok := s.InventoryStats(); ok {
		body.Inventory = &inv
	}
	web.WriteJSON(w, http.StatusOK, body)
}

// writeFastFail answers a request the inventory guard refused before
// anything was stored:
//
//	ErrCircuitOpen   503 circuit_open,  Retry-After: seconds until the breaker lets a probe through (>= 1)
//	ErrBulkheadFull  503 bulkhead_full, Retry-After: 1
func (s *Service) writeFastFail(w http.ResponseWriter, err error) {
	code, retryAfter := "bulkhead_full", "1"
	if errors.Is(err, ErrCircuitOpen) {
		code, retryAfter = "circuit_open", s.guard.retryAfterSeconds()
	}
	w.Header().Set("Retry-After", retryAfter)
	web.WriteError(w, http.StatusServiceUnavailable, code, err.Error()+"; nothing was stored, retry later")
}

func (s *Service) internalError(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	web.WriteError(w, http.StatusInternalServerError, "internal", what+" failed")
}

// jsonBody encodes v as web.WriteJSON does (JSON plus a newline).
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err)) // only plain structs are encoded here
	}
	return append(b, '\n')
}

func errorResponse(status int, code, msg string) response {
	return response{status, jsonBody(web.ErrorBody{Error: web.ErrorDetail{Code: code, Message: msg}})}
}

// writeResponse writes a recorded response: Location for 201/202,
// Retry-After: 1 for 503.
func writeResponse(w http.ResponseWriter, orderID string, resp response) {
	w.Header().Set("Content-Type", "application/json")
	switch resp.status {
	case http.StatusCreated, http.StatusAccepted:
		w.Header().Set("Location", "/orders/"+orderID)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// Bounds of GET /outbox/parked's limit.
const (
	defaultParkedLimit = 100
	maxParkedLimit     = 10_000
)

// handleParked is GET /outbox/parked: the parked outbox rows, oldest
// first (see routes).
func (s *Service) handleParked(w http.ResponseWriter, r *http.Request) {
	limit := defaultParkedLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxParkedLimit {
			web.WriteError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("limit must be an integer from 1 to %d, got %q", maxParkedLimit, v))
			return
		}
		limit = n
	}
	rows, err := s.store.Parked(r.Context(), limit)
	if err != nil {
		s.internalError(w, "list parked outbox rows", err)
		return
	}
	web.WriteJSON(w, http.StatusOK, rows)
}
