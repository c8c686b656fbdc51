package notification

import (
	"errors"
	"net/http"

	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/web"
)

// Wire shapes of the HTTP API.
type (
	notificationResponse struct {
		Notification
		// Sends is the number of (simulated) sends recorded for the
		// order: 1; more means a duplicated effect.
		Sends int `json:"sends"`
	}
	// statsResponse is GET /stats. notifications, sends and
	// duplicated_effects come from the database (all time); the others
	// are this process's: consumer_lag is what the order-placed consumer
	// last computed (high-water mark minus its position, summed over its
	// partitions; a consumer cut off from the broker keeps its last
	// value, so measure lag at the broker), the consumer's counters
	// (messaging.ConsumerStats: handled, handler_attempts,
	// handler_errors_transient, handler_errors_permanent,
	// handler_errors_unclassified, dead_lettered, dead_lettered_whole,
	// dead_lettered_envelope, dead_lettered_unclassified,
	// dead_letters_dropped),
	// redelivered and conflicting_events the order-placed records that
	// changed nothing (see Service.Redelivered).
	statsResponse struct {
		Stats
		ConsumerLag int64 `json:"consumer_lag"`
		messaging.ConsumerStats
		Redelivered int64 `json:"redelivered"`
		Conflicting int64 `json:"conflicting_events"`
	}
)

// routes builds the HTTP API:
//
//	GET /notifications/{order_id} 200 {"order_id","sku","quantity","event_id","channel",
//	                              "occurred_at","created_at","sends"}; 404 not_found
//	GET /stats                    200 {"notifications","sends","duplicated_effects","consumer_lag",
//	                              "handled","dead_lettered","redelivered","conflicting_events"}
//	GET /healthz                  200 {"status":"ok"}
//	GET /metrics                  200 Prometheus text format (telemetry.Metrics: HTTP requests by route
//	                              and code, handler attempts, dead letters, self-reported lag by partition)
//
// Every error has the web.ErrorBody shape, including unrouted paths (404
// not_found) and wrong methods (405 method_not_allowed).
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notifications/{order_id}", s.getNotification)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /stats", s.getStats)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return web.WithJSONErrors(mux)
}

func (s *Service) getNotification(w http.ResponseWriter, r *http.Request) {
	n, sends, err := s.store.Notification(r.Context(), r.PathValue("order_id"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, notificationResponse{Notification: n, Sends: sends})
}

func (s *Service) getStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	resp := statsResponse{Stats: st, Redelivered: s.Redelivered(), Conflicting: s.Conflicting()}
	if c := s.consumer.Load(); c != nil {
		resp.ConsumerLag, resp.ConsumerStats = c.Lag(), c.Stats()
	}
	web.WriteJSON(w, http.StatusOK, resp)
}

// writeErr is the one place that maps store errors to HTTP responses.
func (s *Service) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		web.WriteError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		web.WriteError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}
