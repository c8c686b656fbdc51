package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Error classes of a failed request.
const (
	ClassTimeout = "timeout" // client deadline hit
	ClassRefused = "refused" // connection refused
	ClassReset   = "reset"   // connection reset or closed mid-request
	Class5xx     = "5xx"
	Class4xx     = "4xx"
	ClassShed    = "shed"  // not sent: the generator's in-flight cap was reached
	ClassOther   = "other" // anything else
)

var errorClasses = []string{ClassTimeout, ClassRefused, ClassReset, Class5xx, Class4xx, ClassShed, ClassOther}

// sample is one request as the load generator saw it.
type sample struct {
	sentAt   time.Duration // since the load started
	latency  time.Duration
	status   int    // 0 when no response
	class    string // "" on success
	orderID  string // set when accepted
	code     string // the error code of an error body, "" otherwise
	accepted bool
}

// recorder collects one mode's samples and live counters. Safe for
// concurrent use.
type recorder struct {
	mu       sync.Mutex
	samples  []sample
	sent, ok atomic.Int64
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
	r.sent.Add(1)
	if s.class == "" {
		r.ok.Add(1)
	}
}

func (r *recorder) snapshot() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sample(nil), r.samples...)
}

// loadSpec is one mode's open-loop load: Count requests, one every
// 1/Rate seconds from Start, whatever the responses do (open loop: a slow
// server does not slow the arrivals).
type loadSpec struct {
	URL         string // order-service base URL
	SuccessCode int    // 201 sync, 202 async
	Rate        int
	Count       int
	Start       time.Time
	Timeout     time.Duration // per request
	MaxInFlight int
	SKU         string
	Quantity    int
	// Jitter (0..1 of the interval) moves each send time by a uniform
	// random offset in ±Jitter/2 intervals, drawn from PCG(Seed, Stream).
	Jitter       float64
	Seed, Stream uint64
}

// generate sends the load and returns when every request has completed
// (each bounded by spec.Timeout) or ctx ended. Bounded in count
// (spec.Count) and time (Count/Rate + Timeout).
func generate(ctx context.Context, spec loadSpec, client *http.Client, rec *recorder) {
	body, _ := json.Marshal(map[string]any{"sku": spec.SKU, "quantity": spec.Quantity})
	sem := make(chan struct{}, spec.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	offsets := arrivalOffsets(spec)
	for i := 0; i < spec.Count; i++ {
		due := spec.Start.Add(offsets[i])
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			rec.add(sample{sentAt: time.Since(spec.Start), class: ClassShed})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec.add(send(ctx, client, spec, body))
		}()
	}
}

func send(ctx context.Context, client *http.Client, spec loadSpec, body []byte) sample {
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	begin := time.Now()
	s := sample{sentAt: begin.Sub(spec.Start)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, spec.URL+"/orders", bytes.NewReader(body))
	if err != nil {
		s.class = ClassOther
		return s
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		s.latency = time.Since(begin)
		s.class = classify(err)
		return s
	}
	defer resp.Body.Close()
	var o struct {
		ID    string `json:"id"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	decErr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&o)
	s.latency = time.Since(begin)
	s.status = resp.StatusCode
	s.code = o.Error.Code
	switch {
	case resp.StatusCode == spec.SuccessCode && decErr == nil && o.ID != "":
		s.accepted, s.orderID = true, o.ID
	case resp.StatusCode >= 500:
		s.class = Class5xx
	case resp.StatusCode >= 400:
		s.class = Class4xx
	default:
		s.class = ClassOther
	}
	return s
}

// classify maps a transport error to an error class.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return ClassReset
	default:
		return ClassOther
	}
}

// newLoadClient returns an HTTP client for load: keep-alive, enough idle
// connections for the in-flight cap, no client-wide timeout (each request
// has its own deadline).
func newLoadClient(maxInFlight int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxInFlight
	tr.MaxIdleConnsPerHost = maxInFlight
	return &http.Client{Transport: tr}
}
