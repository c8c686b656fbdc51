package order

import (
	"net/http"
	"runtime"
	"sync/atomic"

	"github.com/faultline-harness/faultline/services/web"
)

// workerPool is Config.MaxConcurrentRequests: a fixed number of workers;
// a request waits (FIFO: Go's channel senders queue in order) until one is
// free or its context ends.
type workerPool struct {
	slots   chan struct{}
	waiting atomic.Int64
}

func newWorkerPool(n int) *workerPool { return &workerPool{slots: make(chan struct{}, n)} }

// Load is a snapshot of the HTTP server's load, served by GET /stats.
type Load struct {
	InFlight   int64 `json:"in_flight_requests"` // requests inside the handler, waiting ones included
	Waiting    int64 `json:"waiting_requests"`   // requests waiting for a worker (MaxConcurrentRequests)
	Workers    int   `json:"workers"`            // MaxConcurrentRequests; 0: no cap
	Goroutines int   `json:"goroutines"`         // runtime.NumGoroutine() of the process
}

// Load returns the current HTTP load of the service.
func (s *Service) Load() Load {
	l := Load{InFlight: s.inFlight.Load(), Goroutines: runtime.NumGoroutine()}
	if s.workers != nil {
		l.Waiting = s.workers.waiting.Load()
		l.Workers = cap(s.workers.slots)
	}
	return l
}

// InventoryStats returns the sync-mode inventory guard's counters; false
// in async mode.
func (s *Service) InventoryStats() (ResilienceStats, bool) {
	if s.guard == nil {
		return ResilienceStats{}, false
	}
	return s.guard.stats(), true
}

// track counts requests in flight and, with a worker pool, makes every
// request but GET /stats and GET /metrics wait for a worker.
func (s *Service) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		if s.workers == nil || (r.Method == http.MethodGet && (r.URL.Path == "/stats" || r.URL.Path == "/metrics")) {
			next.ServeHTTP(w, r)
			return
		}
		s.workers.waiting.Add(1)
		select {
		case s.workers.slots <- struct{}{}:
			s.workers.waiting.Add(-1)
		case <-r.Context().Done():
			s.workers.waiting.Add(-1)
			w.Header().Set("Retry-After", "1")
			web.WriteError(w, http.StatusServiceUnavailable, "overloaded", "no worker became free before the client gave up")
			return
		}
		defer func() { <-s.workers.slots }()
		next.ServeHTTP(w, r)
	})
}
