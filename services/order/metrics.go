package order

import (
	"context"
	"math"
	"time"

	"github.com/faultline-harness/faultline/services/telemetry"
)

// newMetrics builds order-service's Prometheus registry (GET /metrics).
// Besides telemetry.Metrics' shared series (HTTP requests and durations by
// route, handler attempts of the stock-outcome consumer):
//
//	faultline_outbox_backlog_rows{service}            gauge: outbox rows neither published nor parked (SQLite)
//	faultline_outbox_parked_rows{service}             gauge: outbox rows parked after a permanent publish failure (SQLite)
//	faultline_outbox_published_total{service}         counter: rows the relay published since start
//	faultline_outbox_publish_failures_total{service}  counter: failed relay sends since start
//	faultline_dead_lettered_total{service,group}      counter: stock outcomes dead-lettered
//	faultline_consumer_lag_self_reported{service,group,topic,partition}  gauge, records
//	faultline_breaker_state{service}                  gauge: 0 closed, 1 half-open, 2 open (sync mode with the breaker on)
//	faultline_breaker_opened_total{service}           counter: transitions to open
//	faultline_breaker_rejected_total{service}         counter: requests failed fast by the open breaker
//
// The SQLite gauges are read at scrape time, each query bounded by 2 s
// (NaN when it fails).
func (s *Service) newMetrics() *telemetry.Metrics {
	m := telemetry.NewMetrics("order-service")
	count := func(query string) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var n int64
			if err := s.store.db.QueryRowContext(ctx, query).Scan(&n); err != nil {
				return math.NaN()
			}
			return float64(n)
		}
	}
	m.GaugeFunc("faultline_outbox_backlog_rows", "Outbox rows waiting to be published (neither published nor parked), counted in SQLite.",
		count(`SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL`))
	m.GaugeFunc("faultline_outbox_parked_rows", "Outbox rows parked after a permanent publish failure (their orders are FAILED), counted in SQLite.",
		count(`SELECT COUNT(*) FROM outbox WHERE parked_at IS NOT NULL`))
	if s.relay != nil {
		m.CounterFunc("faultline_outbox_published_total", "Outbox rows the relay published since the process started.",
			func() float64 { return float64(s.relay.Published()) })
		m.CounterFunc("faultline_outbox_publish_failures_total", "Failed relay sends (each followed by a backoff) since the process started.",
			func() float64 { return float64(s.relay.Failures()) })
		m.Consumer(s.cfg.Group, func() telemetry.ConsumerReport {
			if c := s.consumer.Load(); c != nil {
				return c
			}
			return nil
		})
	}
	if s.guard != nil && s.guard.cb != nil {
		m.GaugeFunc("faultline_breaker_state", "State of the circuit breaker around inventory calls: 0 closed, 1 half-open, 2 open.",
			func() float64 {
				switch s.guard.stats().Breaker {
				case "half-open":
					return 1
				case "open":
					return 2
				}
				return 0
			})
		m.CounterFunc("faultline_breaker_opened_total", "Transitions of the inventory circuit breaker to open.",
			func() float64 { return float64(s.guard.opened.Load()) })
		m.CounterFunc("faultline_breaker_rejected_total", "Requests failed fast (503 circuit_open) by the inventory circuit breaker.",
			func() float64 { return float64(s.guard.rejOpen.Load()) })
	}
	return m
}
