// Package degraded states, as code, the contract of order-service's
// degraded answer: the 503 that POST /orders returns in sync mode when it
// cannot get a reservation from inventory-service (connection refused,
// timeout, 5xx, or a mitigation turning the call away). Chaos suites call
// Check503 (or Parse503) on such traffic to assert that degradation keeps
// its shape while faults are injected. Plain Go: no cgo, no Pact.
//
// The shape (services/order/http.go: syncOutcome and writeFastFail):
//
//	HTTP/1.1 503 Service Unavailable
//	Content-Type: application/json
//	Retry-After: 1
//
//	{"error":{"code":"inventory_unavailable",
//	          "message":"order <id> failed: <cause>; retry later"}}
//
// Check503 holds an answer to these rules:
//   - status 503;
//   - Content-Type application/json (parameters allowed);
//   - Retry-After in delay-seconds form, a whole number >= 1;
//   - the body is exactly one JSON object {"error":{"code","message"}}
//     (web.ErrorBody) with no other field at any level and nothing after it;
//   - code inventory_unavailable with message "order <id> failed: <cause>;
//     retry later": the call failed, the order is stored FAILED and readable
//     with GET /orders/{id} (Retry-After: 1);
//   - or code circuit_open with that same message: the breaker opened while
//     this request was admitted, the order is stored FAILED;
//   - or code circuit_open or bulkhead_full with message "<cause>; nothing
//     was stored, retry later": a mitigation (order.Config.Resilience)
//     turned the request away before anything was stored (Retry-After: the
//     seconds until the breaker lets a probe through, at least 1).
//
// A replay of the same request with the same Idempotency-Key returns the
// same 503 (plus Idempotent-Replayed: true), which keeps this shape too.
package degraded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Error codes of the degraded answer.
const (
	CodeInventoryUnavailable = "inventory_unavailable"
	CodeCircuitOpen          = "circuit_open"
	CodeBulkheadFull         = "bulkhead_full"
)

// ErrShape is wrapped by every error Check503 and Parse503 return.
var ErrShape = errors.New("not order-service's degraded 503")

var (
	// storedRE: the order was stored FAILED.
	storedRE = regexp.MustCompile(`^order (\S+) failed: (.+); retry later$`)
	// turnedAwayRE: nothing was stored.
	turnedAwayRE = regexp.MustCompile(`^(.+); nothing was stored, retry later$`)
)

// Answer is a degraded answer, parsed.
type Answer struct {
	Code string
	// OrderID is the order stored FAILED; "" when the request was turned
	// away before anything was stored.
	OrderID string
	// RetryAfter is the Retry-After header.
	RetryAfter time.Duration
}

// Check503 returns nil when status, header and body are order-service's
// degraded answer as documented above, or an error wrapping ErrShape that
// names every deviation.
func Check503(status int, header http.Header, body []byte) error {
	_, err := Parse503(status, header, body)
	return err
}

// Parse503 checks a degraded answer like Check503 and returns what it
// says.
func Parse503(status int, header http.Header, body []byte) (Answer, error) {
	var a Answer
	var errs []error
	if status != http.StatusServiceUnavailable {
		errs = append(errs, fmt.Errorf("status %d, want %d", status, http.StatusServiceUnavailable))
	}
	if ct := header.Get("Content-Type"); ct == "" {
		errs = append(errs, errors.New("no Content-Type header, want application/json"))
	} else if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		errs = append(errs, fmt.Errorf("Content-Type %q, want application/json", ct))
	}
	if ra := header.Get("Retry-After"); ra == "" {
		errs = append(errs, errors.New("no Retry-After header, want whole seconds >= 1"))
	} else if n, err := strconv.Atoi(ra); err != nil || n < 1 || strings.TrimSpace(ra) != ra {
		errs = append(errs, fmt.Errorf("Retry-After %q, want whole seconds >= 1", ra))
	} else {
		a.RetryAfter = time.Duration(n) * time.Second
	}
	errs = append(errs, checkBody(body, &a)...)
	if len(errs) > 0 {
		return Answer{}, fmt.Errorf("%w: %w", ErrShape, errors.Join(errs...))
	}
	return a, nil
}

func checkBody(body []byte, a *Answer) []error {
	var eb struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		return []error{fmt.Errorf("body is not {\"error\":{\"code\",\"message\"}}: %v: %s", err, truncate(body))}
	}
	if dec.More() {
		return []error{fmt.Errorf("body has data after the JSON object: %s", truncate(body))}
	}
	if eb.Error == nil {
		return []error{fmt.Errorf("body has no \"error\" object: %s", truncate(body))}
	}
	if eb.Error.Code == nil || eb.Error.Message == nil {
		var errs []error
		if eb.Error.Code == nil {
			errs = append(errs, errors.New("error.code is missing"))
		}
		if eb.Error.Message == nil {
			errs = append(errs, errors.New("error.message is missing"))
		}
		return errs
	}
	code, msg := *eb.Error.Code, *eb.Error.Message
	a.Code = code
	stored := storedRE.FindStringSubmatch(msg)
	turnedAway := turnedAwayRE.MatchString(msg)
	const storedForm = `"order <id> failed: <cause>; retry later"`
	const awayForm = `"<cause>; nothing was stored, retry later"`
	switch code {
	case CodeInventoryUnavailable:
		if stored == nil {
			return []error{fmt.Errorf("error.message %q, want %s for %s", msg, storedForm, code)}
		}
	case CodeCircuitOpen:
		if stored == nil && !turnedAway {
			return []error{fmt.Errorf("error.message %q, want %s or %s for %s", msg, storedForm, awayForm, code)}
		}
	case CodeBulkheadFull:
		if !turnedAway {
			return []error{fmt.Errorf("error.message %q, want %s for %s", msg, awayForm, code)}
		}
	default:
		return []error{fmt.Errorf("error.code %q, want %s, %s or %s", code, CodeInventoryUnavailable, CodeCircuitOpen, CodeBulkheadFull)}
	}
	if stored != nil {
		a.OrderID = stored[1]
	}
	return nil
}

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.Quote(s)
}
