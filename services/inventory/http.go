package inventory

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/web"
)

// Wire shapes of the HTTP API.
type (
	stockResponse struct {
		SKU       string `json:"sku"`
		Available int    `json:"available"`
	}
	reserveRequest struct {
		OrderID  string `json:"order_id"`
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	}
	reservationResponse struct {
		OrderID        string `json:"order_id"`
		SKU            string `json:"sku"`
		Quantity       int    `json:"quantity"`
		Status         string `json:"status"`
		Reason         string `json:"reason,omitempty"`
		StockMovements *int   `json:"stock_movements,omitempty"`
	}
	statsResponse struct {
		Stats
		ConsumerLag int64 `json:"consumer_lag"`
		// The order-placed consumer's counters (zero without Kafka):
		// handled, handler_attempts, handler_errors_transient,
		// handler_errors_permanent, handler_errors_unclassified,
		// dead_lettered, dead_lettered_whole, dead_lettered_envelope,
		// dead_lettered_unclassified, dead_letters_dropped.
		messaging.ConsumerStats
		// ReservationRequests counts POST /reservations requests received
		// since start, whatever their outcome: the inventory-side load the
		// chaos harness compares with the client requests behind it.
		ReservationRequests int64 `json:"reservation_requests"`
	}
)

// routes builds the HTTP API:
//
//	GET  /stock/{sku}             200 {"sku","available"}; 400 invalid_request; 404 unknown_sku
//	POST /reservations            201 {"order_id","sku","quantity","status"};
//	                              400 malformed_json|invalid_request, 413 body_too_large,
//	                              415 unsupported_media_type, 404 unknown_sku,
//	                              409 insufficient_stock|order_id_reused
//	GET  /reservations/{order_id} 200 {…,"reason"?,"stock_movements"}; 400 invalid_request; 404 not_found
//	GET  /stats                   200 {"reserved","rejected","duplicated_effects","consumer_lag","reservation_requests",
//	                              "handled","handler_attempts","handler_errors_transient","handler_errors_permanent",
//	                              "handler_errors_unclassified","dead_lettered","dead_lettered_whole",
//	                              "dead_lettered_envelope","dead_lettered_unclassified","dead_letters_dropped"}
//	GET  /healthz                 200 {"status":"ok"}
//	GET  /metrics                 200 Prometheus text format (telemetry.Metrics: HTTP requests by route
//	                              and code, handler attempts, dead letters, self-reported lag by partition)
//
// Bounds, shared with order-service and the event schema: order_id 1 to
// 128 bytes (events.MaxOrderIDLen), sku 1 to 64 bytes (events.MaxSKULen),
// both printable UTF-8; quantity 1 to 10,000 (events.MaxQuantity). Outside
// them: 400 invalid_request naming each field and its bound, nothing
// stored. The body is decoded by web.Decode (strict JSON, Content-Type
// application/json or none, at most 1 MiB).
//
// Every error has the web.ErrorBody shape, including unrouted paths (404
// not_found) and wrong methods (405 method_not_allowed).
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{sku}", s.getStock)
	mux.HandleFunc("POST /reservations", s.postReservation)
	mux.HandleFunc("GET /reservations/{order_id}", s.getReservation)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /stats", s.getStats)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return web.WithJSONErrors(mux)
}

func (s *Service) getStock(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	if err := events.CheckSKU(sku); err != nil {
		web.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	n, err := s.store.Available(r.Context(), sku)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, stockResponse{SKU: sku, Available: n})
}

// postReservation is POST /reservations: idempotent by order_id. A repeat
// with the same sku and quantity gets the first outcome again (201, or 409
// insufficient_stock); with another sku or quantity it gets 409
// order_id_reused and nothing changes.
func (s *Service) postReservation(w http.ResponseWriter, r *http.Request) {
	s.reservationRequests.Add(1)
	var req reserveRequest
	if !web.Decode(w, r, &req) {
		return
	}
	var errs []string
	for _, err := range []error{events.CheckOrderID(req.OrderID), events.CheckSKU(req.SKU), events.CheckQuantity(req.Quantity)} {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		web.WriteError(w, http.StatusBadRequest, "invalid_request", strings.Join(errs, "; "))
		return
	}
	res, err := s.store.Reserve(r.Context(), req.OrderID, req.SKU, req.Quantity)
	if errors.Is(err, ErrOrderIDReused) {
		web.WriteError(w, http.StatusConflict, "order_id_reused", fmt.Sprintf(
			"order_id %q already has a reservation for %d x %q; a repeat must carry the same sku and quantity", res.OrderID, res.Quantity, res.SKU))
		return
	}
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, reservationResponse{OrderID: res.OrderID, SKU: res.SKU, Quantity: res.Quantity, Status: res.Status})
}

func (s *Service) getReservation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("order_id")
	if err := events.CheckOrderID(id); err != nil {
		web.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	res, moves, err := s.store.Reservation(r.Context(), id)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, reservationResponse{OrderID: res.OrderID, SKU: res.SKU, Quantity: res.Quantity,
		Status: res.Status, Reason: res.Reason, StockMovements: &moves})
}

func (s *Service) getStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	resp := statsResponse{Stats: st, ReservationRequests: s.reservationRequests.Load()}
	if c := s.consumer.Load(); c != nil {
		resp.ConsumerLag, resp.ConsumerStats = c.Lag(), c.Stats()
	}
	web.WriteJSON(w, http.StatusOK, resp)
}

// writeErr is the one place that maps store errors to HTTP responses.
func (s *Service) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnknownSKU):
		web.WriteError(w, http.StatusNotFound, "unknown_sku", err.Error())
	case errors.Is(err, ErrInsufficientStock):
		web.WriteError(w, http.StatusConflict, "insufficient_stock", err.Error())
	case errors.Is(err, ErrNotFound):
		web.WriteError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		web.WriteError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}
