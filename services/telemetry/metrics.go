package telemetry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline-harness/faultline/services/events"
)

// Metrics is one service's Prometheus registry (its own, never the global
// one, so several services in one process keep their series apart) and the
// instruments every service shares. Every series carries the constant
// label service ("order-service", …). The names (documented in the README):
//
//	faultline_http_requests_total{service,route,code}            counter
//	faultline_http_request_duration_seconds{service,route}       histogram (seconds)
//	faultline_consumer_handler_attempts_total{service,topic,outcome}  counter; outcome ok|invalid|error
//
// plus the Go and process collectors (go_*, process_*). A service adds its
// own gauges with GaugeFunc / CounterFunc / PartitionLagFunc. route is the
// ServeMux pattern ("POST /orders", "GET /orders/{id}"), "unmatched" for
// a request no pattern matched, so IDs never become label values.
type Metrics struct {
	// Registry holds the service's collectors; GET /metrics serves it.
	Registry *prometheus.Registry
	service  string
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	attempts *prometheus.CounterVec
}

// NewMetrics returns a registry for service with the shared instruments.
func NewMetrics(service string) *Metrics {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"service": service}
	m := &Metrics{
		Registry: reg,
		service:  service,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faultline_http_requests_total", Help: "HTTP requests served, by route pattern and status code.", ConstLabels: labels,
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faultline_http_request_duration_seconds", Help: "HTTP request duration in seconds, from the first byte read to the handler's return, by route pattern.",
			ConstLabels: labels, Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faultline_consumer_handler_attempts_total", ConstLabels: labels,
			Help: "Kafka record handling attempts, by topic and outcome: ok, invalid (poison: dead-lettered), error (transient: retried).",
		}, []string{"topic", "outcome"}),
	}
	reg.MustRegister(m.requests, m.duration, m.attempts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// HTTP counts and times every request next serves. next must route with
// an http.ServeMux on the same *http.Request (web.WithJSONErrors does),
// which sets r.Pattern.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// codeRecorder remembers the status code; Unwrap keeps
// http.ResponseController working through it.
type codeRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (c *codeRecorder) WriteHeader(code int) {
	if !c.written {
		c.code, c.written = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	c.written = true
	return c.ResponseWriter.Write(b)
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// ConsumerHandler counts each call of h (one handling attempt) in
// faultline_consumer_handler_attempts_total by the record's topic and the
// outcome: ok (nil), invalid (wraps events.ErrInvalid), error (anything
// else).
func (m *Metrics) ConsumerHandler(h Handler) Handler {
	return func(ctx context.Context, msg events.Message) error {
		err := h(ctx, msg)
		m.attempts.WithLabelValues(msg.Topic, outcome(err)).Inc()
		return err
	}
}

// BatchConsumerHandler is ConsumerHandler for a batch handler: one
// attempt per record, by the record's own error; records whose error
// matches notAttempted (messaging.ErrNotAttempted) were not attempted and
// are not counted.
func (m *Metrics) BatchConsumerHandler(notAttempted error, h BatchHandler) BatchHandler {
	return func(ctx context.Context, batch []events.Message) []error {
		errs := h(ctx, batch)
		for i, msg := range batch {
			var err error
			if i < len(errs) {
				err = errs[i]
			}
			if notAttempted != nil && errors.Is(err, notAttempted) {
				continue
			}
			m.attempts.WithLabelValues(msg.Topic, outcome(err)).Inc()
		}
		return errs
	}
}

func outcome(err error) string {
	switch {
	case errors.Is(err, events.ErrInvalid):
		return "invalid"
	case err != nil:
		return "error"
	}
	return "ok"
}

// GaugeFunc registers a gauge read from fn at each scrape, with the
// constant labels service and labels (nil: none).
func (m *Metrics) GaugeFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.labels(labels)}, fn))
}

// CounterFunc registers a counter read from fn at each scrape (fn must
// never decrease), with the constant labels service and labels.
func (m *Metrics) CounterFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: m.labels(labels)}, fn))
}

func (m *Metrics) labels(extra prometheus.Labels) prometheus.Labels {
	l := prometheus.Labels{"service": m.service}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// PartitionLag is one partition's consumer lag in records.
type PartitionLag struct {
	Topic     string
	Partition int32
	Lag       int64
}

// PartitionLagFunc registers
//
//	faultline_consumer_lag_self_reported{service,group,topic,partition}  gauge, records
//
// read from fn at each scrape: the lag as the consumer itself sees it
// (high-water mark of its last fetch minus its next offset). It is what the
// consumer reports, not the broker's committed-offset lag: it stays stale
// while the consumer fetches nothing (a cut link, a stuck record). fn
// returns nil while nothing is claimed.
func (m *Metrics) PartitionLagFunc(group string, fn func() []PartitionLag) {
	m.Registry.MustRegister(&lagCollector{
		desc: prometheus.NewDesc("faultline_consumer_lag_self_reported",
			"Consumer lag in records per claimed partition, as the consumer itself reports it (high-water mark of its last fetch minus its next offset); not measured at the broker.",
			[]string{"topic", "partition"}, prometheus.Labels{"service": m.service, "group": group}),
		fn: fn,
	})
}

type lagCollector struct {
	desc *prometheus.Desc
	fn   func() []PartitionLag
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.fn() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(p.Lag), p.Topic, strconv.Itoa(int(p.Partition)))
	}
}

// ConsumerReport is what a consumer tells about itself;
// *messaging.Consumer implements it.
type ConsumerReport interface {
	DeadLettered() int64
	DeadLetteredUnclassified() int64
	HandlerErrorsUnclassified() int64
	LagByPartition() []PartitionLag
}

// Consumer registers a consumer's self-reported series, read at each
// scrape from current() (nil while the consumer is not connected):
//
//	faultline_dead_lettered_total{service,group}                          counter, records sent to the dead-letter topic
//	faultline_dead_lettered_unclassified_total{service,group}             counter, records given up on after their bounded unclassified errors
//	faultline_consumer_handler_errors_unclassified_total{service,group}   counter, failed attempts with an unclassified error
//	faultline_consumer_lag_self_reported{service,group,topic,partition}   gauge, records (see PartitionLagFunc)
func (m *Metrics) Consumer(group string, current func() ConsumerReport) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "faultline_dead_lettered_total", Help: "Records this consumer sent to the dead-letter topic since the process started.",
		ConstLabels: prometheus.Labels{"service": m.service, "group": group},
	}, func() float64 {
		if c := current(); c != nil {
			return float64(c.DeadLettered())
		}
		return 0
	}))
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "faultline_dead_lettered_unclassified_total",
		Help:        "Records this consumer gave up on after its bounded attempts with an unclassified handler error (dead-lettered with reason unclassified_error_after_N_attempts, or dropped).",
		ConstLabels: prometheus.Labels{"service": m.service, "group": group},
	}, func() float64 {
		if c := current(); c != nil {
			return float64(c.DeadLetteredUnclassified())
		}
		return 0
	}))
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "faultline_consumer_handler_errors_unclassified_total",
		Help:        "Handler attempts of this consumer that failed with an unclassified error (neither poison nor a known outage).",
		ConstLabels: prometheus.Labels{"service": m.service, "group": group},
	}, func() float64 {
		if c := current(); c != nil {
			return float64(c.HandlerErrorsUnclassified())
		}
		return 0
	}))
	m.PartitionLagFunc(group, func() []PartitionLag {
		if c := current(); c != nil {
			return c.LagByPartition()
		}
		return nil
	})
}
