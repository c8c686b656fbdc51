// Package faults injects network faults into one hop between two
// components, through a Toxiproxy proxy (github.com/Shopify/toxiproxy/v2).
//
// Every helper takes a context and returns an Undo that removes exactly
// what it added. The Toxiproxy client has no context of its own, so every
// control call runs under the context's deadline (and DefaultTimeout when
// the context has none): a hung control plane fails the call with
// context.DeadlineExceeded instead of hanging the run.
//
// Toxic semantics (https://github.com/Shopify/toxiproxy#toxics), as
// Toxiproxy 2.12 behaves:
//   - latency: delays data by latency ± jitter milliseconds; on removal the
//     held data is released;
//   - down: proxy disabled; open connections are closed, new ones refused;
//   - reset_peer: connections are reset (TCP RST) after timeout ms;
//   - timeout: a blackhole; data is dropped and the connection closed after
//     timeout ms (0 = never closed: the peer hangs until its own timeout).
//     The dropped bytes are never delivered: removing the toxic closes the
//     connection, so a request held by it gets EOF, not a late answer;
//   - bandwidth: limits throughput to rate KB/s (1 KB = 1000 bytes).
//
// A toxic with toxicity 0 is listed but never applied: remove it instead.
//
// Restoring: RestoreProxies enables the named proxies and removes their
// toxics, leaving every other proxy on the server alone (a Toxiproxy
// shared with docker-compose or another tool keeps its own faults).
// Reset resets the whole server and is not used by the harness.
//
// Negative controls: in a binary built with the tag negativecontrol, the
// fault named by internal/negativecontrol's environment variable is a
// no-op that still reports success (see internal/negativecontrol). Normal
// builds contain no such switch.
package faults

import (
	"context"
	"errors"
	"fmt"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline-harness/faultline/internal/negativecontrol"
)

// DefaultTimeout bounds a control call whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// Stream is the direction a toxic acts on: Downstream is data from the
// upstream (the server) to the client, Upstream the other way.
type Stream string

// Toxic streams.
const (
	Downstream Stream = "downstream"
	Upstream   Stream = "upstream"
)

// Undo removes a fault. It is safe to call more than once; later calls do
// nothing and return nil.
type Undo func(ctx context.Context) error

// Injector applies faults to named proxies of one Toxiproxy server.
type Injector struct {
	client *toxiclient.Client
}

// NewInjector returns an injector for the Toxiproxy API at url
// ("http://127.0.0.1:8474" or "127.0.0.1:8474").
func NewInjector(url string) *Injector {
	return &Injector{client: toxiclient.NewClient(url)}
}

// Client is the underlying Toxiproxy client, for proxy management.
func (in *Injector) Client() *toxiclient.Client { return in.client }

// call runs fn under ctx's deadline (or DefaultTimeout). When ctx ends
// first it returns ctx.Err(); fn keeps running in the background until the
// client's own 30 s HTTP timeout.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	v, err := RunWithContext(ctx, fn)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return v, fmt.Errorf("toxiproxy control call: %w", err)
	}
	return v, err
}

// RunWithContext runs a blocking call that takes no context (the Toxiproxy
// client, some sarama calls) and returns its result, or ctx.Err() as soon
// as ctx ends first; fn then finishes in the background, bounded by its
// own timeouts.
func RunWithContext[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Proxies lists the server's proxies by name.
func (in *Injector) Proxies(ctx context.Context) (map[string]*toxiclient.Proxy, error) {
	ps, err := call(ctx, in.client.Proxies)
	if err != nil {
		return nil, fmt.Errorf("list proxies: %w", err)
	}
	return ps, nil
}

func (in *Injector) proxy(ctx context.Context, name string) (*toxiclient.Proxy, error) {
	p, err := call(ctx, func() (*toxiclient.Proxy, error) { return in.client.Proxy(name) })
	if err != nil {
		return nil, fmt.Errorf("get proxy %q: %w", name, err)
	}
	return p, nil
}

// once wraps an undo so only its first call acts.
func once(fn Undo) Undo {
	done := false
	return func(ctx context.Context) error {
		if done {
			return nil
		}
		if err := fn(ctx); err != nil {
			return err
		}
		done = true
		return nil
	}
}

// Toxic types, as Toxiproxy names them.
const (
	TypeLatency   = "latency"
	TypeTimeout   = "timeout"
	TypeResetPeer = "reset_peer"
	TypeBandwidth = "bandwidth"
)

// Toxic is one toxic to add to a proxy.
type Toxic struct {
	Type   string // TypeLatency, TypeTimeout, TypeResetPeer, TypeBandwidth, ...
	Stream Stream
	// Toxicity is the probability (0..1] that a connection gets the toxic;
	// 0 means 1 here (a toxic with toxicity 0 would never apply).
	Toxicity float64
	// Attributes are the toxic's own (latency and jitter in ms, timeout in
	// ms, rate in KB/s).
	Attributes map[string]any
}

// Name is the toxic's name on the proxy: "<proxy>-<type>-<stream>".
func (t Toxic) Name(proxy string) string { return fmt.Sprintf("%s-%s-%s", proxy, t.Type, t.Stream) }

// AddToxic adds a toxic of the given type to proxy with toxicity 1 (every
// connection). The toxic is named "<proxy>-<type>-<stream>". Undo removes it.
func (in *Injector) AddToxic(ctx context.Context, proxy, typ string, stream Stream, attrs map[string]any) (Undo, error) {
	return in.Apply(ctx, proxy, Toxic{Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs})
}

// Apply adds t to proxy (named t.Name(proxy)); Undo removes it. Errors:
// the proxy does not exist, a toxic of that name is already on it, or the
// control call failed (context.DeadlineExceeded past ctx's deadline).
func (in *Injector) Apply(ctx context.Context, proxy string, t Toxic) (Undo, error) {
	if negativecontrol.Active(t.Type) {
		return once(func(context.Context) error { return nil }), nil // negative control: nothing added, success reported
	}
	toxicity := t.Toxicity
	if toxicity <= 0 {
		toxicity = 1
	}
	p, err := in.proxy(ctx, proxy)
	if err != nil {
		return nil, err
	}
	name := t.Name(proxy)
	if _, err := call(ctx, func() (*toxiclient.Toxic, error) {
		return p.AddToxic(name, t.Type, string(t.Stream), float32(toxicity), toxiclient.Attributes(t.Attributes))
	}); err != nil {
		return nil, fmt.Errorf("add %s toxic to %q: %w", t.Type, proxy, err)
	}
	return once(func(ctx context.Context) error {
		if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.RemoveToxic(name) }); err != nil {
			return fmt.Errorf("remove %s toxic from %q: %w", t.Type, proxy, err)
		}
		return nil
	}), nil
}

// Latency delays every byte from upstream to client by latency ± jitter
// (millisecond resolution).
func (in *Injector) Latency(ctx context.Context, proxy string, latency, jitter time.Duration) (Undo, error) {
	return in.AddToxic(ctx, proxy, TypeLatency, Downstream, map[string]any{
		"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds(),
	})
}

// Down disables the proxy: open connections close, new ones are refused
// (ECONNREFUSED). Undo enables it again.
func (in *Injector) Down(ctx context.Context, proxy string) (Undo, error) {
	if negativecontrol.Active(negativecontrol.Down) {
		return once(func(context.Context) error { return nil }), nil // negative control: the proxy stays up, success reported
	}
	p, err := in.proxy(ctx, proxy)
	if err != nil {
		return nil, err
	}
	if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.Disable() }); err != nil {
		return nil, fmt.Errorf("disable proxy %q: %w", proxy, err)
	}
	return once(func(ctx context.Context) error {
		if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.Enable() }); err != nil {
			return fmt.Errorf("enable proxy %q: %w", proxy, err)
		}
		return nil
	}), nil
}

// ResetPeer resets every connection (TCP RST) after the given delay, once
// data arrives from the client.
func (in *Injector) ResetPeer(ctx context.Context, proxy string, after time.Duration) (Undo, error) {
	return in.AddToxic(ctx, proxy, TypeResetPeer, Upstream, map[string]any{"timeout": after.Milliseconds()})
}

// Timeout blackholes the hop: data from the client is dropped, and the
// connection is closed after closeAfter (0 = held open until the client
// gives up). The dropped data is never delivered, and removing the toxic
// closes the connections it holds.
func (in *Injector) Timeout(ctx context.Context, proxy string, closeAfter time.Duration) (Undo, error) {
	return in.AddToxic(ctx, proxy, TypeTimeout, Upstream, map[string]any{"timeout": closeAfter.Milliseconds()})
}

// Bandwidth limits data flowing in stream to kbps kilobytes (1000 bytes)
// per second, on every connection of the proxy.
func (in *Injector) Bandwidth(ctx context.Context, proxy string, stream Stream, kbps int64) (Undo, error) {
	return in.AddToxic(ctx, proxy, TypeBandwidth, stream, map[string]any{"rate": kbps})
}

// All applies each fault in order. If one fails, those already applied are
// undone and the error returned. The Undo undoes all, in reverse order,
// and joins their errors.
func All(ctx context.Context, apply ...func(context.Context) (Undo, error)) (Undo, error) {
	var undos []Undo
	undoAll := func(ctx context.Context) error {
		var errs []error
		for i := len(undos) - 1; i >= 0; i-- {
			errs = append(errs, undos[i](ctx))
		}
		return errors.Join(errs...)
	}
	for _, a := range apply {
		u, err := a(ctx)
		if err != nil {
			return nil, errors.Join(err, undoAll(ctx))
		}
		undos = append(undos, u)
	}
	return undoAll, nil
}

// Reset removes every toxic and enables every proxy on the server
// (POST /reset), including proxies someone else created. The harness does
// not use it: see RestoreProxies.
func (in *Injector) Reset(ctx context.Context) error {
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, in.client.ResetState() })
	if err != nil {
		return fmt.Errorf("reset toxiproxy: %w", err)
	}
	return nil
}

// RestoreProxies enables each named proxy and removes all its toxics,
// touching no other proxy on the server. A named proxy that does not exist
// is skipped. It returns every failure, joined.
func (in *Injector) RestoreProxies(ctx context.Context, names ...string) error {
	proxies, err := in.Proxies(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		p, ok := proxies[name]
		if !ok {
			continue
		}
		for _, t := range p.ActiveToxics {
			if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.RemoveToxic(t.Name) }); err != nil {
				errs = append(errs, fmt.Errorf("remove toxic %s from %q: %w", t.Name, name, err))
			}
		}
		if !p.Enabled {
			if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.Enable() }); err != nil {
				errs = append(errs, fmt.Errorf("enable proxy %q: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ProxyState is what the Toxiproxy API reports about one proxy.
type ProxyState struct {
	Name     string
	Listen   string // the bound listen address, host:port
	Upstream string
	Enabled  bool
	Toxics   []toxiclient.Toxic
}

// Inspect reads one proxy's state from the API.
func (in *Injector) Inspect(ctx context.Context, proxy string) (ProxyState, error) {
	p, err := in.proxy(ctx, proxy)
	if err != nil {
		return ProxyState{}, err
	}
	return ProxyState{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: p.Enabled, Toxics: append([]toxiclient.Toxic(nil), p.ActiveToxics...)}, nil
}

// Proxy management, under the same deadlines as the faults.

// Ping checks that the Toxiproxy API answers and returns its version.
func (in *Injector) Ping(ctx context.Context) (string, error) {
	v, err := call(ctx, func() ([]byte, error) { return in.client.Version() })
	if err != nil {
		return "", fmt.Errorf("toxiproxy version: %w", err)
	}
	return string(v), nil
}

// CreateProxy creates the named proxy from listen to upstream, replacing
// one of the same name, and returns it (Listen holds the bound address
// when listen asked for port 0).
func (in *Injector) CreateProxy(ctx context.Context, name, listen, upstream string) (*toxiclient.Proxy, error) {
	if err := in.DeleteProxy(ctx, name); err != nil {
		return nil, err
	}
	p, err := call(ctx, func() (*toxiclient.Proxy, error) { return in.client.CreateProxy(name, listen, upstream) })
	if err != nil {
		return nil, fmt.Errorf("create proxy %s -> %s: %w", name, upstream, err)
	}
	return p, nil
}

// SetUpstream points the named proxy at another upstream address.
func (in *Injector) SetUpstream(ctx context.Context, name, upstream string) error {
	p, err := in.proxy(ctx, name)
	if err != nil {
		return err
	}
	p.Upstream = upstream
	if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.Save() }); err != nil {
		return fmt.Errorf("set upstream of %s to %s: %w", name, upstream, err)
	}
	return nil
}

// DeleteProxy deletes the named proxy; a proxy that does not exist is not
// an error.
func (in *Injector) DeleteProxy(ctx context.Context, name string) error {
	proxies, err := call(ctx, func() (map[string]*toxiclient.Proxy, error) { return in.client.Proxies() })
	if err != nil {
		return fmt.Errorf("list proxies: %w", err)
	}
	p, ok := proxies[name]
	if !ok {
		return nil
	}
	if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.Delete() }); err != nil {
		return fmt.Errorf("delete proxy %s: %w", name, err)
	}
	return nil
}
