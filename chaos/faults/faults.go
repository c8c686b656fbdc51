// Package faults injects network faults into one hop between two
// components, through a Toxiproxy proxy (github.com/Shopify/toxiproxy/v2).
//
// Every helper takes a context and returns an Undo that removes exactly
// what it added. The Toxiproxy client has no context of its own, so every
// control call runs under the context's deadline (and DefaultTimeout when
// the context has none): a hung control plane fails the call with
// context.DeadlineExceeded instead of hanging the run.
//
// Toxic semantics (https://github.com/Shopify/toxiproxy#toxics):
//   - latency: delays data by latency ± jitter milliseconds;
//   - down: proxy disabled; open connections are closed, new ones refused;
//   - reset_peer: connections are reset (TCP RST) after timeout ms;
//   - timeout: a blackhole; data is dropped and the connection closed after
//     timeout ms (0 = never closed: the peer hangs until its own timeout);
//   - bandwidth: limits throughput to rate KB/s.
package faults

import (
	"context"
	"errors"
	"fmt"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
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

// AddToxic adds a toxic of the given type to proxy with toxicity 1 (every
// connection). The toxic is named "<proxy>-<type>-<stream>". Undo removes it.
func (in *Injector) AddToxic(ctx context.Context, proxy, typ string, stream Stream, attrs map[string]any) (Undo, error) {
	p, err := in.proxy(ctx, proxy)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%s-%s", proxy, typ, stream)
	if _, err := call(ctx, func() (*toxiclient.Toxic, error) {
		return p.AddToxic(name, typ, string(stream), 1, toxiclient.Attributes(attrs))
	}); err != nil {
		return nil, fmt.Errorf("add %s toxic to %q: %w", typ, proxy, err)
	}
	return once(func(ctx context.Context) error {
		if _, err := call(ctx, func() (struct{}, error) { return struct{}{}, p.RemoveToxic(name) }); err != nil {
			return fmt.Errorf("remove %s toxic from %q: %w", typ, proxy, err)
		}
		return nil
	}), nil
}

// Latency delays every byte from upstream to client by latency ± jitter
// (millisecond resolution).
func (in *Injector) Latency(ctx context.Context, proxy string, latency, jitter time.Duration) (Undo, error) {
	return in.AddToxic(ctx, proxy, "latency", Downstream, map[string]any{
		"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds(),
	})
}

// Down disables the proxy: open connections close, new ones are refused
// (ECONNREFUSED). Undo enables it again.
func (in *Injector) Down(ctx context.Context, proxy string) (Undo, error) {
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

// ResetPeer resets every connection (TCP RST) after the given delay.
func (in *Injector) ResetPeer(ctx context.Context, proxy string, after time.Duration) (Undo, error) {
	return in.AddToxic(ctx, proxy, "reset_peer", Upstream, map[string]any{"timeout": after.Milliseconds()})
}

// Timeout blackholes the hop: data is dropped, and the connection is
// closed after closeAfter (0 = held open until the client gives up).
func (in *Injector) Timeout(ctx context.Context, proxy string, closeAfter time.Duration) (Undo, error) {
	return in.AddToxic(ctx, proxy, "timeout", Upstream, map[string]any{"timeout": closeAfter.Milliseconds()})
}

// Bandwidth limits data from upstream to client to kbps kilobytes per
// second.
func (in *Injector) Bandwidth(ctx context.Context, proxy string, kbps int64) (Undo, error) {
	return in.AddToxic(ctx, proxy, "bandwidth", Downstream, map[string]any{"rate": kbps})
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
// (POST /reset). Use it as a last-resort cleanup.
func (in *Injector) Reset(ctx context.Context) error {
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, in.client.ResetState() })
	if err != nil {
		return fmt.Errorf("reset toxiproxy: %w", err)
	}
	return nil
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
