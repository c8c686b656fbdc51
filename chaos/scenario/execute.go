package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/order"
)

// StackInfo describes the stack a run used, for the result and the
// journal: captured while it ran, since Execute closes it.
type StackInfo struct {
	Lane         string   `json:"lane"`
	KafkaBrokers []string `json:"kafka_brokers"`
	ToxiproxyURL string   `json:"toxiproxy_url"`
	// ToxiproxyVersion is what the server reports ("git" for the
	// in-process server built from the module); "" when it did not answer.
	ToxiproxyVersion string `json:"toxiproxy_version,omitempty"`
	RunID            string `json:"run_id"`
	// Proxies are the proxies the stack created (and restores).
	Proxies []string `json:"proxies"`
}

// Teardown is what Execute saw when it put things back after the run.
type Teardown struct {
	// Restored lists the proxies put back (enabled, no toxic); RestoreError
	// says what could not be, or which proxy was still faulted afterwards.
	Restored     []string `json:"restored"`
	RestoreError string   `json:"restore_error,omitempty"`
	// CloseError is what stopping the stack returned (a service's own run
	// error, a failed close); "" when it stopped cleanly.
	CloseError string `json:"close_error,omitempty"`
}

// Execute is the one owner of a scenario run, used by the faultline CLI
// and the suites. It starts a fresh stack with cfg adjusted by the
// scenario (Scenario.Stack: order-sync's mitigations, broker count),
// runs the scenario under ctx (load, fault schedule, settle, accounting),
// then removes every fault the run applied, restores every proxy the stack
// created (and only those: a shared Toxiproxy keeps others' proxies as
// they are), checks they are clean, and closes the stack.
//
// Cancelling ctx (Ctrl-C, a spec's timeout) stops the run at once; the
// restore and the close still happen, bounded by their own deadlines.
//
// Errors: bad options (before anything starts); a wrapped ErrNotApplicable
// when the scenario cannot run on this lane (skip it); ctx's error; any
// harness failure (the stack did not start, a fault could not be applied
// or removed, a service stopped, the restore failed). Poor numbers are not
// errors: they are the finding, in the result. On a harness failure the
// result, when non-nil, holds what was known (stack, steps applied), for
// the failure's journal. A failed close is not an error: it is reported in
// Result.Teardown.CloseError.
func Execute(ctx context.Context, sc Scenario, opts Options, cfg stack.Config) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	st, err := stack.Start(ctx, sc.StackConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	info := stackInfo(ctx, st)
	if opts.StackReady != nil {
		opts.StackReady(info)
	}
	res, runErr := run(ctx, st, sc, opts)
	if res == nil && !errors.Is(runErr, ErrNotApplicable) {
		res = &Result{Scenario: sc.Name, Description: sc.Description, Lane: st.Lane, Setup: sc.Setup, Actions: sc.Schedule}
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var td Teardown
	restoreErr := st.Restore(rctx)
	if restoreErr == nil {
		restoreErr = st.CheckRestored(rctx)
	}
	if restoreErr != nil {
		td.RestoreError = restoreErr.Error()
		restoreErr = fmt.Errorf("restore the proxies: %w", restoreErr)
	} else {
		td.Restored = st.Proxies()
	}
	if err := st.Close(); err != nil {
		td.CloseError = err.Error()
	}
	if res != nil {
		res.Stack, res.Teardown = info, &td
		res.Spans = st.Spans.Spans() // after Close: every service has ended its spans
		res.SpansDropped = st.Spans.Dropped()
		if !res.Schedule.FaultStartedAt.IsZero() {
			res.Traces = slowestTraces(res.Spans, res.Schedule.FaultStartedAt, res.Schedule.FaultEndedAt)
		}
	}
	return res, errors.Join(runErr, restoreErr)
}

func stackInfo(ctx context.Context, st *stack.Stack) StackInfo {
	info := StackInfo{Lane: st.Lane, KafkaBrokers: st.KafkaBrokers, ToxiproxyURL: st.ToxiproxyURL, RunID: st.RunID, Proxies: st.Proxies()}
	vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if b, err := st.Faults.Ping(vctx); err == nil {
		var v struct {
			Version string `json:"version"`
		}
		if json.Unmarshal([]byte(b), &v) == nil {
			info.ToxiproxyVersion = v.Version
		}
	}
	return info
}

// readSyncGuard reads order-sync's inventory guard (GET /stats
// "inventory") before the load: the mitigations as they really run, which
// a spec checks before crediting them; nil when it cannot be read.
func readSyncGuard(ctx context.Context, st *stack.Stack) *order.ResilienceStats {
	c := &http.Client{Timeout: time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer c.CloseIdleConnections()
	var body struct {
		Inventory *order.ResilienceStats `json:"inventory"`
	}
	if code, err := getJSON(ctx, c, st.OrderSyncURL+"/stats", &body); err != nil || code != http.StatusOK {
		return nil
	}
	return body.Inventory
}
