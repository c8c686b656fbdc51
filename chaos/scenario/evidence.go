package scenario

// Did the fault take effect? Right after applying each step the engine
// asks the control plane (is the proxy disabled, is the toxic listed with
// its attributes) and probes the hop itself from outside (a connection or
// a request through the proxy's listen address, or straight to a stopped
// broker). A step took effect only when both agree. Specs check this
// first (Result.FaultsTookEffect), so a fault that silently did nothing
// fails them instead of passing vacuously.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline-harness/faultline/chaos/faults"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// Evidence is what the harness saw of one hop right after a step applied
// its fault.
type Evidence struct {
	// Hop is the proxy, or "broker <id>" for broker_stop.
	Hop string `json:"hop"`
	// Listed is the control plane's view: "disabled", the toxic with its
	// attributes, "process stopped"; "" when it shows nothing of the fault.
	Listed string `json:"listed"`
	// Probe says what was tried from outside, Observed what happened.
	Probe    string `json:"probe"`
	Observed string `json:"observed"`
	// TookEffect: listed and observed as the fault should be.
	TookEffect bool `json:"took_effect"`
}

// FaultsTookEffect returns nil when every step of the run was applied and
// took effect on every hop (listed and observed), or an error naming each
// step that did not, with what was seen.
func (r *Result) FaultsTookEffect() error {
	if len(r.Schedule.Steps) == 0 {
		return errors.New("the run applied no fault step")
	}
	var errs []error
	for _, s := range r.Schedule.Steps {
		if s.AppliedAt.IsZero() {
			errs = append(errs, fmt.Errorf("step %d (%s) was never applied: %s", s.Index, s.Fault, s.Error))
			continue
		}
		if len(s.Evidence) == 0 {
			errs = append(errs, fmt.Errorf("step %d (%s): no evidence recorded", s.Index, s.Fault))
		}
		for _, e := range s.Evidence {
			if !e.TookEffect {
				errs = append(errs, fmt.Errorf("step %d (%s) did not take effect on %s: listed %q; %s: %s", s.Index, s.Fault, e.Hop, e.Listed, e.Probe, e.Observed))
			}
		}
	}
	return errors.Join(errs...)
}

// probeTimeout bounds every evidence probe.
const probeTimeout = 2 * time.Second

// observe gathers the evidence of one applied step.
func observe(ctx context.Context, st *stack.Stack, f Fault, proxies []string) []Evidence {
	if f.Type == FaultBrokerStop {
		var out []Evidence
		for _, b := range st.Brokers {
			out = append(out, observeBroker(ctx, b))
		}
		return out
	}
	out := make([]Evidence, 0, len(proxies))
	for _, p := range proxies {
		if f.Type == FaultStockOut {
			out = append(out, observeStock(ctx, st, f, p)) // p is a SKU
			continue
		}
		out = append(out, observeProxy(ctx, st.Faults, f, p))
	}
	return out
}

// observeBroker dials the broker's own listener, around every proxy: a
// stopped broker refuses the connection.
func observeBroker(ctx context.Context, b stack.BrokerInfo) Evidence {
	e := Evidence{Hop: fmt.Sprintf("broker %d", b.ID), Listed: "stop requested", Probe: "TCP connect to the broker's own listener " + b.Upstream}
	start := time.Now()
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", b.Upstream)
	if err == nil {
		c.Close()
		e.Observed = fmt.Sprintf("connected in %s: the broker is still listening", since(start))
		return e
	}
	e.Observed = fmt.Sprintf("%s after %s", describe(err), since(start))
	e.TookEffect = errors.Is(err, syscall.ECONNREFUSED)
	return e
}

// observeProxy reads the proxy's state from the Toxiproxy API and probes
// through its listen address, as f should have left it.
func observeProxy(ctx context.Context, in *faults.Injector, f Fault, proxy string) Evidence {
	e := Evidence{Hop: proxy}
	ps, err := in.Inspect(ctx, proxy)
	if err != nil {
		e.Probe, e.Observed = "read the proxy from the Toxiproxy API", err.Error()
		return e
	}
	listed := false
	if f.Type == FaultDown {
		if !ps.Enabled {
			e.Listed, listed = "disabled", true
		}
	} else if t := findToxic(ps.Toxics, f); t != nil {
		e.Listed, listed = fmt.Sprintf("toxic %s %s, toxicity %g, attributes %v", t.Type, t.Stream, t.Toxicity, t.Attributes), true
	}
	protocol := stack.ProxyProtocol(proxy)
	a := f.Attributes
	var ok bool
	// A toxic with toxicity < 1 does not hit every connection: a few
	// probes, one of which must show it.
	tries := 1
	if f.Toxicity > 0 && f.Toxicity < 1 {
		tries = 5
	}
	for range tries {
		switch f.Type {
		case FaultDown:
			e.Probe = "TCP connect to " + ps.Listen
			start := time.Now()
			d := net.Dialer{Timeout: 500 * time.Millisecond}
			c, err := d.DialContext(ctx, "tcp", ps.Listen)
			if err == nil {
				c.Close()
				e.Observed = "connected in " + since(start)
			} else {
				e.Observed = fmt.Sprintf("%s after %s", describe(err), since(start))
				ok = errors.Is(err, syscall.ECONNREFUSED)
			}
		case FaultLatency:
			// Slow: no complete answer within 60% of the least latency.
			want := time.Duration(max(a["latency"]-a["jitter"], 0)) * time.Millisecond * 6 / 10
			rt := roundTrip(ctx, protocol, ps.Listen, min(want, probeTimeout), 0)
			e.Probe = fmt.Sprintf("%s through %s, expecting no answer within %s", rt.what, ps.Listen, min(want, probeTimeout))
			e.Observed = rt.String()
			ok = want > 0 && (rt.timedOut() || rt.elapsed >= want)
		case FaultTimeout:
			wait := 300 * time.Millisecond
			rt := roundTrip(ctx, protocol, ps.Listen, wait, 0)
			e.Probe = fmt.Sprintf("%s through %s, expecting no answer", rt.what, ps.Listen)
			e.Observed = rt.String()
			if a["timeout"] == 0 {
				ok = rt.timedOut()
			} else {
				ok = rt.err != nil && rt.got == 0
			}
		case FaultResetPeer:
			rt := roundTrip(ctx, protocol, ps.Listen, time.Duration(a["timeout"])*time.Millisecond+time.Second, 0)
			e.Probe = fmt.Sprintf("%s through %s, expecting the connection reset", rt.what, ps.Listen)
			e.Observed = rt.String()
			ok = rt.err != nil && !rt.timedOut() && rt.got == 0
		case FaultBandwidth:
			rate := a["rate"] * 1000 // bytes per second
			var pad int
			if f.Stream == faults.Upstream {
				pad = int(rate * 6 / 10) // 0.6 s of upstream bytes
			}
			rt := roundTrip(ctx, protocol, ps.Listen, probeTimeout, pad)
			bytes := rt.got
			if f.Stream == faults.Upstream {
				bytes = rt.sent
			}
			want := time.Duration(0)
			if rate > 0 {
				want = time.Duration(bytes) * time.Second / time.Duration(rate) / 2
			}
			e.Probe = fmt.Sprintf("%s through %s (%d bytes %s), expecting at least %s", rt.what, ps.Listen, bytes, f.Stream, want)
			e.Observed = rt.String()
			ok = want >= 100*time.Millisecond && (rt.timedOut() || rt.elapsed >= want)
		default:
			e.Probe, e.Observed = "none", "no probe for fault type "+f.Type
		}
		if ok {
			break
		}
	}
	e.TookEffect = listed && ok
	return e
}

func findToxic(ts []toxiclient.Toxic, f Fault) *toxiclient.Toxic {
	for i, t := range ts {
		if t.Type != f.Type || t.Stream != string(f.Stream) {
			continue
		}
		match := true
		for k, v := range f.Attributes {
			if n, ok := t.Attributes[k].(float64); !ok || int64(n) != v {
				match = false
			}
		}
		if match {
			return &ts[i]
		}
	}
	return nil
}

// trip is one probe request through a hop.
type trip struct {
	what      string
	elapsed   time.Duration
	sent, got int // bytes written, bytes of answer read
	err       error
}

func (t trip) timedOut() bool {
	var ne net.Error
	return errors.As(t.err, &ne) && ne.Timeout()
}

func (t trip) String() string {
	if t.err != nil {
		return fmt.Sprintf("%s after %s (%d bytes of answer)", describe(t.err), t.elapsed.Round(time.Millisecond), t.got)
	}
	return fmt.Sprintf("complete answer (%d bytes) in %s", t.got, t.elapsed.Round(time.Millisecond))
}

// roundTrip sends one request on a fresh connection to addr and reads the
// whole answer, within timeout: GET /healthz for an HTTP hop, a Kafka
// ApiVersions (v0) request for a Kafka hop. pad adds that many bytes to
// the request (a header, or the Kafka client ID), to measure an upstream
// bandwidth cap.
func roundTrip(ctx context.Context, protocol, addr string, timeout time.Duration, pad int) trip {
	t := trip{what: "GET /healthz"}
	if protocol == stack.ProtocolKafka {
		t.what = "Kafka ApiVersions request"
	}
	start := time.Now()
	defer func() { t.elapsed = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.err = err
		t.elapsed = time.Since(start)
		return t
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	var req []byte
	if protocol == stack.ProtocolKafka {
		req = apiVersionsRequest(min(pad, 32000))
	} else {
		req = []byte("GET /healthz HTTP/1.1\r\nHost: faultline-probe\r\nConnection: close\r\n")
		if pad > 0 {
			req = append(req, "X-Faultline-Pad: "+strings.Repeat("x", pad)+"\r\n"...)
		}
		req = append(req, "\r\n"...)
	}
	n, err := c.Write(req)
	t.sent = n
	if err != nil {
		t.err = err
		t.elapsed = time.Since(start)
		return t
	}
	if protocol == stack.ProtocolKafka {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			t.err = err
		} else {
			t.got = 4
			m, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:])))
			t.got += int(m)
			t.err = err
		}
	} else {
		m, err := io.Copy(io.Discard, c) // Connection: close: the answer ends at EOF
		t.got, t.err = int(m), err
		if err == nil && m == 0 {
			t.err = io.EOF // closed without an answer
		}
	}
	t.elapsed = time.Since(start)
	return t
}

// apiVersionsRequest frames a Kafka ApiVersions v0 request (API key 18)
// with a client ID of "faultline-probe" padded by pad bytes.
func apiVersionsRequest(pad int) []byte {
	clientID := "faultline-probe" + strings.Repeat("x", pad)
	body := binary.BigEndian.AppendUint16(nil, 18) // api_key ApiVersions
	body = binary.BigEndian.AppendUint16(body, 0)  // api_version
	body = binary.BigEndian.AppendUint32(body, 7)  // correlation_id
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// describe names a network error by what the peer did.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (EOF)"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (timeout)"
	}
	return err.Error()
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Microsecond).String() }
