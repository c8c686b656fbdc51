// Package web holds the HTTP plumbing both services share: JSON responses,
// the JSON error body, strict request decoding with a size limit, and a
// server runner with graceful shutdown.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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

// Decode reads one JSON object from r's body into dst and reports whether
// it did. On false it has already written the error response (an
// ErrorBody); the caller just returns. The rules, in order:
//
//   - Content-Type, when present, must be the media type application/json
//     (parsed with mime.ParseMediaType: case and parameters such as
//     charset=utf-8 are fine; a charset other than utf-8 is not), else 415
//     unsupported_media_type. A request without Content-Type is read as
//     JSON.
//   - At most MaxBodyBytes, else 413 body_too_large.
//   - Exactly one JSON object and nothing after it but whitespace, decoded
//     strictly (github.com/go-json-experiment/json, the encoding/json/v2
//     design): unknown members, member names in another case ("SKU" for
//     "sku"), duplicate members, invalid UTF-8 (raw or as a lone surrogate
//     escape), a number into an integer field that is not a whole number
//     in the field's range (1.5, 1e3, 2^63), a wrong type, an empty body,
//     null or an array are all 400 malformed_json, with a message naming
//     the problem and where it is.
//
// Decode checks syntax and types only; bounds (a quantity range, a SKU
// length) are the handler's, answered with 400 invalid_request.
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
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return &RequestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes)}
		}
		return &RequestError{http.StatusBadRequest, "malformed_json", "read request body: " + err.Error()}
	}
	switch trimmed := bytes.TrimLeft(body, " \t\r\n"); {
	case len(trimmed) == 0:
		return &RequestError{http.StatusBadRequest, "malformed_json", "request body is empty"}
	case trimmed[0] != '{':
		return &RequestError{http.StatusBadRequest, "malformed_json", "request body must be a JSON object"}
	}
	if err := jsonv2.Unmarshal(body, dst, jsonv2.RejectUnknownMembers(true)); err != nil {
		return &RequestError{http.StatusBadRequest, "malformed_json", "malformed JSON: " + describe(err)}
	}
	return nil
}

// describe words a decoding error for the client, in JSON terms (field
// names, JSON kinds, byte offsets) rather than Go types.
func describe(err error) string {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		field := strings.TrimPrefix(string(se.JSONPointer), "/")
		switch {
		case errors.Is(se.Err, jsonv2.ErrUnknownName):
			return fmt.Sprintf("unknown field %q (field names are case-sensitive)", se.JSONPointer.LastToken())
		case field != "" && se.GoType != nil:
			got := "JSON " + se.JSONKind.String()
			if v := string(se.JSONValue); v != "" && len(v) <= 40 {
				got += " " + v
			}
			return fmt.Sprintf("field %q: %s is not %s", field, got, goKindName(se.GoType.Kind()))
		}
	}
	var sx *jsontext.SyntacticError
	if errors.As(err, &sx) {
		if sx.JSONPointer != "" {
			return fmt.Sprintf("%v within %q at byte %d", sx.Err, sx.JSONPointer, sx.ByteOffset)
		}
		return fmt.Sprintf("%v at byte %d", sx.Err, sx.ByteOffset)
	}
	return err.Error()
}

func goKindName(k reflect.Kind) string {
	switch {
	case k >= reflect.Int && k <= reflect.Uint64:
		return "an integer in the field's range (digits only: no fraction or exponent)"
	case k == reflect.Float32 || k == reflect.Float64:
		return "a number"
	case k == reflect.String:
		return "a string"
	case k == reflect.Bool:
		return "a boolean"
	case k == reflect.Struct || k == reflect.Map:
		return "an object"
	case k == reflect.Slice || k == reflect.Array:
		return "an array"
	}
	return "of the expected type"
}

// checkContentType accepts an empty value or the media type
// application/json with any parameters but a charset other than utf-8.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	unsupported := func(why string) error {
		return &RequestError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("content type %q %s; send Content-Type: application/json", ct, why)}
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return unsupported("is not a valid media type")
	case mediaType != "application/json":
		return unsupported("is not application/json")
	case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
		return unsupported("has a charset other than utf-8 (JSON is UTF-8)")
	}
	return nil
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
