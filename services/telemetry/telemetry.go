// Package telemetry is the services' tracing: OpenTelemetry
// (go.opentelemetry.io/otel) with W3C trace context (the traceparent
// header), carried over HTTP by otelhttp and over Kafka in a record header
// named "traceparent".
//
// One order's trace, async mode:
//
//	order-service   POST /orders (server span; attribute order.id)
//	                 └ the outbox row stores the traceparent (column outbox.traceparent)
//	order-service   outbox publish order-placed (producer span, one per send: a re-send is a sibling)
//	inventory       process order-placed (consumer span)
//	                 └ publish stock-reserved|stock-rejected (producer span; header traceparent)
//	order-service   process stock-reserved|stock-rejected (consumer span)
//	notification    process order-placed (consumer span)
//
// Sync mode: POST /orders (server) → POST /reservations (client span,
// otelhttp transport) → POST /reservations (inventory's server span).
//
// Spans are collected in-process by a Collector (a bounded in-memory
// SpanProcessor the harness reads) and, when Config.OTLP is set, exported
// over OTLP/HTTP (otlptracehttp, configured by the standard
// OTEL_EXPORTER_OTLP_* environment variables). Both are off unless a
// service's Config carries a TracerProvider: with none, the services use a
// no-op tracer that still passes the trace context on unchanged.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/faultline-harness/faultline/services/events"
)

// HeaderTraceParent is the W3C trace context header, on HTTP requests and
// on Kafka records alike: "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>".
const HeaderTraceParent = "traceparent"

// Propagator is the only propagator the services use: W3C trace context
// (traceparent, tracestate). It does not read or set otel's global one.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Attribute keys set on the services' spans.
const (
	AttrOrderID = attribute.Key("order.id")
	AttrService = attribute.Key("service.name")
)

// OrNoop returns tp, or a no-op TracerProvider when tp is nil.
func OrNoop(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

// Config configures a TracerProvider for one service.
type Config struct {
	// Service is the resource attribute service.name ("order-service").
	Service string
	// Collector, when set, receives every finished span (in-process).
	Collector *Collector
	// OTLP exports spans over OTLP/HTTP as well (batched), to the
	// endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (read by otlptracehttp). Off by
	// default; the binaries set it when OTLPFromEnv reports true.
	OTLP bool
}

// OTLPFromEnv reports whether an OTLP endpoint is configured in the
// environment (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT non-empty). Called by the binaries'
// main, never by the services.
func OTLPFromEnv() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// NewProvider returns a TracerProvider sampling every span, with
// service.name = cfg.Service, feeding cfg.Collector and, with cfg.OTLP, an
// OTLP/HTTP exporter. Shut it down (Shutdown(ctx)) to flush the exporter.
// It fails only when the OTLP exporter cannot be created (a malformed
// endpoint); an unreachable collector shows up later as export errors.
func NewProvider(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, error) {
	if cfg.Service == "" {
		return nil, errors.New("telemetry config: service name is required")
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewSchemaless(AttrService.String(cfg.Service))),
	}
	if cfg.Collector != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(cfg.Collector))
	}
	if cfg.OTLP {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: otlp http exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// HeaderCarrier is a propagation.TextMapCarrier over Kafka record headers
// (events.Header). Keys match case-insensitively; Set replaces an
// existing header of that name, so a re-sent record never carries two
// traceparents.
type HeaderCarrier struct{ Headers *[]events.Header }

// Get returns the value of header key, or "".
func (c HeaderCarrier) Get(key string) string {
	for _, h := range *c.Headers {
		if strings.EqualFold(h.Key, key) {
			return h.Value
		}
	}
	return ""
}

// Set sets header key to value, replacing any header of that name.
func (c HeaderCarrier) Set(key, value string) {
	for i, h := range *c.Headers {
		if strings.EqualFold(h.Key, key) {
			(*c.Headers)[i].Value = value
			return
		}
	}
	*c.Headers = append(*c.Headers, events.Header{Key: key, Value: value})
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	out := make([]string, 0, len(*c.Headers))
	for _, h := range *c.Headers {
		out = append(out, h.Key)
	}
	return out
}

// Inject returns hs (a copy) with ctx's trace context in its traceparent
// (and tracestate) header. Without a valid span context in ctx it returns
// hs unchanged.
func Inject(ctx context.Context, hs []events.Header) []events.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return hs
	}
	out := append([]events.Header(nil), hs...)
	Propagator.Inject(ctx, HeaderCarrier{&out})
	return out
}

// Extract returns ctx carrying the remote span context of hs's
// traceparent header (ctx unchanged when absent or malformed).
func Extract(ctx context.Context, hs []events.Header) context.Context {
	return Propagator.Extract(ctx, HeaderCarrier{&hs})
}

// TraceParent returns ctx's span context as a traceparent value, or ""
// when ctx has none.
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c[HeaderTraceParent]
}

// WithTraceParent returns ctx carrying the remote span context tp (a
// traceparent value); ctx unchanged when tp is empty or malformed.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{HeaderTraceParent: tp})
}

// Handler is the shape of messaging.Handler (kept here so this package
// does not import messaging).
type Handler = func(ctx context.Context, m events.Message) error

// ConsumerHandler wraps a record handler: it extracts the record's
// traceparent, runs h under a consumer span "process <topic>" (a child of
// the producer's span) and records h's error on it. Each call is one
// handling attempt, so a retried record shows one span per attempt.
func ConsumerHandler(tp trace.TracerProvider, h Handler) Handler {
	tr := OrNoop(tp).Tracer("github.com/faultline-harness/faultline/services/messaging")
	return func(ctx context.Context, m events.Message) error {
		ctx = Extract(ctx, m.Headers)
		ctx, span := tr.Start(ctx, "process "+m.Topic, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(messagingAttrs(m)...))
		defer span.End()
		err := h(ctx, m)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}

// BatchHandler is the shape of messaging.BatchHandler.
type BatchHandler = func(ctx context.Context, batch []events.Message) []error

// BatchConsumerHandler wraps a batch handler: for each record it extracts
// the record's traceparent and starts a consumer span "process <topic>"
// (a child of the producer's span), and hands h the records with that
// span's traceparent in their headers (copies: the consumer's own records,
// and so their dead-letter copies, keep the producer's header). h continues
// record i's trace with Extract(ctx, batch[i].Headers). Each span ends
// when h returns, with record i's error; an error matching notAttempted
// (errors.Is; messaging.ErrNotAttempted) is not an error, the span gets
// the attribute messaging.not_attempted=true instead.
func BatchConsumerHandler(tp trace.TracerProvider, notAttempted error, h BatchHandler) BatchHandler {
	tr := OrNoop(tp).Tracer("github.com/faultline-harness/faultline/services/messaging")
	return func(ctx context.Context, batch []events.Message) []error {
		spans := make([]trace.Span, len(batch))
		in := make([]events.Message, len(batch))
		for i, m := range batch {
			rctx, span := tr.Start(Extract(ctx, m.Headers), "process "+m.Topic, trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(append(messagingAttrs(m), attribute.Int("messaging.batch.message_count", len(batch)))...))
			m.Headers = Inject(rctx, m.Headers)
			spans[i], in[i] = span, m
		}
		errs := h(ctx, in)
		for i, span := range spans {
			var err error
			if i < len(errs) {
				err = errs[i]
			}
			if notAttempted != nil && errors.Is(err, notAttempted) {
				span.SetAttributes(attribute.Bool("messaging.not_attempted", true))
				err = nil
			}
			EndSpan(span, err)
		}
		return errs
	}
}

// StartProducer starts a producer span "publish <topic>" under ctx and
// returns m with the new span's traceparent in its headers. The caller
// ends the span after the send, passing the send's error to EndSpan.
func StartProducer(ctx context.Context, tp trace.TracerProvider, m events.Message) (context.Context, trace.Span, events.Message) {
	tr := OrNoop(tp).Tracer("github.com/faultline-harness/faultline/services/messaging")
	ctx, span := tr.Start(ctx, "publish "+m.Topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttrs(m)...))
	m.Headers = Inject(ctx, m.Headers)
	return ctx, span, m
}

// EndSpan records err (when non-nil) on span and ends it.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func messagingAttrs(m events.Message) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.destination.name", m.Topic),
		attribute.String("messaging.kafka.message.key", m.Key),
		attribute.String("messaging.message.id", m.Header(events.HeaderEventID)),
		AttrOrderID.String(m.Key),
	}
}

// HTTPHandler wraps a service's HTTP handler in otelhttp's server
// middleware (W3C trace context in, one server span per request). The span
// is named by the route pattern once the mux has routed the request
// (r.Pattern, e.g. "GET /orders/{id}"; otelhttp renames it after the
// handler), "<METHOD> <path>" for a request no pattern matched.
func HTTPHandler(tp trace.TracerProvider, service string, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, service,
		otelhttp.WithTracerProvider(OrNoop(tp)),
		otelhttp.WithPropagators(Propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(spanName))
}

// spanName is the route pattern when the request was routed (it carries
// the method: "GET /orders/{id}"), else "<METHOD> <path>".
func spanName(_ string, r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}

// Transport wraps base (nil: http.DefaultTransport) in otelhttp's client
// middleware: one client span per request, traceparent injected.
func Transport(tp trace.TracerProvider, base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(OrNoop(tp)),
		otelhttp.WithPropagators(Propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// ForBinary is the tracing of a service binary (cmd/*-service): when
// OTLPFromEnv reports an endpoint it returns a TracerProvider exporting
// over OTLP/HTTP and a stop function that flushes it (bounded by 5 s);
// otherwise nil (no tracing) and a no-op stop. Errors: a malformed OTLP
// configuration.
func ForBinary(ctx context.Context, service string) (trace.TracerProvider, func(), error) {
	if !OTLPFromEnv() {
		return nil, func() {}, nil
	}
	tp, err := NewProvider(ctx, Config{Service: service, OTLP: true})
	if err != nil {
		return nil, nil, err
	}
	return tp, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}, nil
}
