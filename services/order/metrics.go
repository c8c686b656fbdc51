package order

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

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
//	faultline_breaker_state{service,breaker}          gauge: 0 closed, 1 half-open, 2 open
//	faultline_breaker_opened_total{service,breaker}   counter: transitions to open
//	faultline_breaker_rejected_total{service,breaker} counter: calls failed fast by the open breaker
//
// breaker is "inventory-reservations" (sync mode with the breaker on) or
// "inventory-stock-read" (hybrid mode). The SQLite gauges are read at
// scrape time, each query bounded by 2 s (NaN when it fails).
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
	m.GaugeFunc("faultline_outbox_backlog_rows", "Outbox rows waiting to be published (neither published nor parked), counted in SQLite.", nil,
		count(`SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL`))
	m.GaugeFunc("faultline_outbox_parked_rows", "Outbox rows parked after a permanent publish failure or too many unclassified ones (their orders are FAILED), counted in SQLite.", nil,
		count(`SELECT COUNT(*) FROM outbox WHERE parked_at IS NOT NULL`))
	if s.relay != nil {
		m.CounterFunc("faultline_outbox_published_total", "Outbox rows the relay published since the process started.", nil,
			func() float64 { return float64(s.relay.Published()) })
		m.CounterFunc("faultline_outbox_publish_failures_total", "Failed relay sends (each followed by a backoff) since the process started.", nil,
			func() float64 { return float64(s.relay.Failures()) })
		m.CounterFunc("faultline_outbox_parked_unclassified_total", "Outbox rows parked after -relay-max-unclassified-attempts unclassified publish failures since the process started (also in faultline_outbox_parked_rows).", nil,
			func() float64 { return float64(s.relay.ParkedUnclassified()) })
		m.Consumer(s.cfg.Group, func() telemetry.ConsumerReport {
			if c := s.consumer.Load(); c != nil {
				return c
			}
			return nil
		})
	}
	breaker := func(name string, state func() gobreaker.State, opened, rejected *atomic.Int64) {
		l := prometheus.Labels{"breaker": name}
		m.GaugeFunc("faultline_breaker_state", "State of a circuit breaker around inventory calls: 0 closed, 1 half-open, 2 open.", l,
			func() float64 {
				switch state() {
				case gobreaker.StateHalfOpen:
					return 1
				case gobreaker.StateOpen:
					return 2
				}
				return 0
			})
		m.CounterFunc("faultline_breaker_opened_total", "Transitions of a circuit breaker around inventory calls to open.", l,
			func() float64 { return float64(opened.Load()) })
		m.CounterFunc("faultline_breaker_rejected_total", "Calls a circuit breaker around inventory failed fast while open.", l,
			func() float64 { return float64(rejected.Load()) })
	}
	if s.guard != nil && s.guard.cb != nil {
		breaker("inventory-reservations", s.guard.cb.State, &s.guard.opened, &s.guard.rejOpen)
	}
	if s.stock != nil && s.stock.cb != nil {
		breaker("inventory-stock-read", s.stock.cb.State, &s.stock.opened, &s.stock.rejOpen)
	}
	return m
}
