// Package web holds the HTTP plumbing both services share: JSON responses,
// the JSON error body, strict request decoding with a size limit, and a
// server runner with graceful shutdown.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// MaxBodyBytes is the request body limit (1 MiB); a larger body gets 413.
const MaxBodyBytes = 1 << 20

// ErrorBody is the JSON body of every 4xx/5xx response:
//
//	{"error": {"code": "unknown_sku", "message": "sku \"X\" is not in the catalog"}}
//
// Code is a stable, machine-readable snake_case word; Message is for people.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "quantity must be > 0", not "\u003e"
	_ = enc.Encode(v)
}

// WriteError writes an ErrorBody with the given status.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// RequestError is a decoding failure with the HTTP status it maps to.
type RequestError struct {
	Status int
	Code   string
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }

// Decode reads one JSON object from r's body into dst: at most MaxBodyBytes
// (413 body_too_large), no unknown fields and no trailing data (400
// malformed_json), content type JSON when given (415). On error it has
// already written the error response; the caller just returns.
func Decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if err := decode(w, r, dst); err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			WriteError(w, re.Status, re.Code, re.Msg)
		} else {
			WriteError(w, http.StatusBadRequest, "malformed_json", err.Error())
		}
		return false
	}
	return true
}

func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &RequestError{http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf("content type %q is not application/json", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &RequestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes)}
		}
		if errors.Is(err, io.EOF) {
			return &RequestError{http.StatusBadRequest, "malformed_json", "request body is empty"}
		}
		return &RequestError{http.StatusBadRequest, "malformed_json", "malformed JSON: " + err.Error()}
	}
	// Read to the end: trailing data is malformed, and a body padded past
	// the limit after a small valid object is still too large.
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, new(*http.MaxBytesError)):
		return &RequestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes)}
	default:
		return &RequestError{http.StatusBadRequest, "malformed_json", "request body has data after the JSON object"}
	}
}

// Serve runs srv on ln until ctx ends, then shuts it down gracefully,
// waiting up to grace for in-flight requests. It returns nil after a clean
// shutdown, or the serve/shutdown error.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("http server shutting down", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown http on %s: %w", ln.Addr(), err)
	}
	<-errc
	return nil
}

// WithJSONErrors serves mux, but answers requests no pattern matches with
// an ErrorBody instead of the mux's plain text: 404 not_found for an
// unrouted path, 405 method_not_allowed (keeping the Allow header) for a
// known path with another method.
func WithJSONErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // ServeHTTP, not h, so r.PathValue works
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
}

// statusRecorder captures the status and headers of the mux's fallback
// handlers and discards their plain-text body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.status = code }
