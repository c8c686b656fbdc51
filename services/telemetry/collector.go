package telemetry

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMaxSpans bounds a Collector made with NewCollector(0).
const DefaultMaxSpans = 200_000

// Span is one finished span as the Collector keeps it, and as the
// harness writes it to a run's spans file (one JSON object per line):
//
//	{"trace_id":"4bf9…","span_id":"00f0…","parent_span_id":"…","name":"process order-placed",
//	 "service":"inventory-service","kind":"consumer","start":"2026-12-03T07:00:00.1Z",
//	 "end":"…","duration_ms":1.25,"status":"error","error":"…","attributes":{"order.id":"…"}}
//
// IDs are lower-case hex (trace 32, span 16 digits); parent_span_id is
// absent on a root span; status is "ok", "error" or "unset"; times UTC.
type Span struct {
	TraceID      string            `json:"trace_id"`
	SpanID       string            `json:"span_id"`
	ParentSpanID string            `json:"parent_span_id,omitempty"`
	Name         string            `json:"name"`
	Service      string            `json:"service"`
	Kind         string            `json:"kind"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	DurationMS   float64           `json:"duration_ms"`
	Status       string            `json:"status"`
	Error        string            `json:"error,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
}

// Collector is an in-memory sdktrace.SpanProcessor: it keeps the last
// max finished spans of every TracerProvider it is registered with
// (oldest dropped first, counted by Dropped). Safe for concurrent use.
//
// OnEnd only keeps the SDK's read-only snapshot of the span, in a ring of
// max entries: the conversion to Span (hex IDs, attribute map) happens
// when the spans are read, not on the services' hot paths (it was ~7% of
// the CPU of `faultline bench`'s placement run, 2026-12-03).
type Collector struct {
	mu      sync.Mutex
	max     int
	ring    []sdktrace.ReadOnlySpan // len < max: not wrapped yet; then oldest at head
	head    int
	dropped int64
}

// NewCollector keeps up to max spans (0: DefaultMaxSpans).
func NewCollector(max int) *Collector {
	if max <= 0 {
		max = DefaultMaxSpans
	}
	return &Collector{max: max}
}

// OnStart is part of sdktrace.SpanProcessor.
func (c *Collector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd is part of sdktrace.SpanProcessor.
func (c *Collector) OnEnd(s sdktrace.ReadOnlySpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ring) < c.max {
		c.ring = append(c.ring, s)
		return
	}
	c.ring[c.head] = s
	c.head = (c.head + 1) % c.max
	c.dropped++
}

// Shutdown is part of sdktrace.SpanProcessor; the spans stay readable.
func (c *Collector) Shutdown(context.Context) error { return nil }

// ForceFlush is part of sdktrace.SpanProcessor.
func (c *Collector) ForceFlush(context.Context) error { return nil }

// raw returns the kept snapshots, in the order they ended.
func (c *Collector) raw() []sdktrace.ReadOnlySpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]sdktrace.ReadOnlySpan, 0, len(c.ring))
	out = append(out, c.ring[c.head:]...)
	return append(out, c.ring[:c.head]...)
}

// Spans returns the kept spans, in the order they ended.
func (c *Collector) Spans() []Span {
	raw := c.raw()
	out := make([]Span, len(raw))
	for i, s := range raw {
		out[i] = convert(s)
	}
	return out
}

// Trace returns the kept spans of trace id (hex), ordered by start time.
func (c *Collector) Trace(id string) []Span {
	var out []Span
	for _, s := range c.raw() {
		if s.SpanContext().TraceID().String() == id {
			out = append(out, convert(s))
		}
	}
	slices.SortStableFunc(out, func(a, b Span) int { return a.Start.Compare(b.Start) })
	return out
}

// TraceOfOrder returns the trace ID of the first kept span whose
// attribute order.id is orderID, or "".
func (c *Collector) TraceOfOrder(orderID string) string {
	for _, s := range c.raw() {
		for _, kv := range s.Attributes() {
			if kv.Key == AttrOrderID && kv.Value.String() == orderID {
				return s.SpanContext().TraceID().String()
			}
		}
	}
	return ""
}

// Dropped is the number of spans dropped because the collector was full.
func (c *Collector) Dropped() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

func convert(s sdktrace.ReadOnlySpan) Span {
	sp := Span{
		TraceID:    s.SpanContext().TraceID().String(),
		SpanID:     s.SpanContext().SpanID().String(),
		Name:       s.Name(),
		Kind:       kindName(s.SpanKind()),
		Start:      s.StartTime().UTC(),
		End:        s.EndTime().UTC(),
		DurationMS: float64(s.EndTime().Sub(s.StartTime()).Microseconds()) / 1000,
		Status:     "unset",
	}
	if p := s.Parent(); p.IsValid() {
		sp.ParentSpanID = p.SpanID().String()
	}
	if r := s.Resource(); r != nil {
		if v, ok := r.Set().Value(AttrService); ok {
			sp.Service = v.AsString()
		}
	}
	switch st := s.Status(); st.Code {
	case codes.Error:
		sp.Status, sp.Error = "error", st.Description
	case codes.Ok:
		sp.Status = "ok"
	}
	if attrs := s.Attributes(); len(attrs) > 0 {
		sp.Attributes = make(map[string]string, len(attrs))
		for _, kv := range attrs {
			sp.Attributes[string(kv.Key)] = kv.Value.String()
		}
	}
	return sp
}

func kindName(k trace.SpanKind) string {
	switch k {
	case trace.SpanKindServer:
		return "server"
	case trace.SpanKindClient:
		return "client"
	case trace.SpanKindProducer:
		return "producer"
	case trace.SpanKindConsumer:
		return "consumer"
	}
	return "internal"
}
