package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/faultline-harness/faultline/services/web"
)

type payload struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

func decode(t testing.TB, body, contentType string) (*httptest.ResponseRecorder, payload, bool) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	var p payload
	ok := web.Decode(w, r, &p)
	return w, p, ok
}

func errorBody(t testing.TB, w *httptest.ResponseRecorder) web.ErrorBody {
	t.Helper()
	var eb web.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not an error body (%v): %s", err, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return eb
}

func TestDecodeAccepts(t *testing.T) {
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON",
		"application/json;charset=UTF-8", "application/json ; charset=\"utf-8\"", "application/json; profile=x"} {
		w, p, ok := decode(t, ` {"sku":"SKU-1","quantity":2}`+"\n", ct)
		if !ok || p != (payload{"SKU-1", 2}) || w.Body.Len() != 0 {
			t.Errorf("content type %q: ok %v, %+v, wrote %s", ct, ok, p, w.Body)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	big := `{"sku":"` + strings.Repeat("x", web.MaxBodyBytes) + `"}`
	for name, tc := range map[string]struct {
		body, ct string
		status   int
		code     string
		msgHas   string // the message names the problem
	}{
		// Strict JSON: encoding/json v1 accepted each of these.
		"duplicate key":         {`{"sku":"a","quantity":1,"quantity":5}`, "", 400, "malformed_json", "duplicate"},
		"name in another case":  {`{"SKU":"a","QUANTITY":1}`, "", 400, "malformed_json", `unknown field "SKU"`},
		"invalid UTF-8":         {"{\"sku\":\"a\xff\"}", "", 400, "malformed_json", "invalid UTF-8"},
		"lone surrogate escape": {`{"sku":"\ud800"}`, "", 400, "malformed_json", "surrogate"},
		"fraction":              {`{"quantity":1.5}`, "", 400, "malformed_json", `field "quantity"`},
		"exponent":              {`{"quantity":1e3}`, "", 400, "malformed_json", `field "quantity"`},
		"beyond int64":          {`{"quantity":9223372036854775808}`, "", 400, "malformed_json", `field "quantity"`},
		"null body":             {`null`, "", 400, "malformed_json", "JSON object"},
		"string body":           {`"sku"`, "", 400, "malformed_json", "JSON object"},
		// Content-Type must be the media type application/json.
		"jsonp":                                  {`{"sku":"a"}`, "application/jsonp", 415, "unsupported_media_type", "application/jsonp"},
		"json prefix":                            {`{"sku":"a"}`, "application/jsonx", 415, "unsupported_media_type", ""},
		"json suffix type":                       {`{"sku":"a"}`, "application/merge-patch+json", 415, "unsupported_media_type", ""},
		"text/json":                              {`{"sku":"a"}`, "text/json", 415, "unsupported_media_type", ""},
		"latin-1 charset":                        {`{"sku":"a"}`, "application/json; charset=iso-8859-1", 415, "unsupported_media_type", "utf-8"},
		"invalid media type":                     {`{"sku":"a"}`, "application/json; =x", 415, "unsupported_media_type", "not a valid media type"},
		"empty body":                             {"", "", 400, "malformed_json", ""},
		"whitespace only":                        {"  \n", "", 400, "malformed_json", ""},
		"truncated":                              {`{"sku":`, "", 400, "malformed_json", ""},
		"unknown field":                          {`{"sku":"a","color":"red"}`, "", 400, "malformed_json", ""},
		"wrong type":                             {`{"quantity":"2"}`, "", 400, "malformed_json", ""},
		"trailing object":                        {`{"sku":"a"} {}`, "", 400, "malformed_json", ""},
		"trailing junk":                          {`{"sku":"a"}x`, "", 400, "malformed_json", ""},
		"not an object":                          {`[1,2]`, "", 400, "malformed_json", ""},
		"over 1 MiB":                             {big, "", 413, "body_too_large", ""},
		"padded past 1 MiB after a valid object": {`{"sku":"a"}` + strings.Repeat(" ", web.MaxBodyBytes+1), "", 413, "body_too_large", ""},
		"text/plain":                             {`{"sku":"a"}`, "text/plain", 415, "unsupported_media_type", ""},
		"form":                                   {`sku=a`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
	} {
		t.Run(name, func(t *testing.T) {
			w, _, ok := decode(t, tc.body, tc.ct)
			if ok {
				t.Fatal("Decode accepted it")
			}
			if eb := errorBody(t, w); w.Code != tc.status || eb.Error.Code != tc.code || !strings.Contains(eb.Error.Message, tc.msgHas) {
				t.Fatalf("got %d %s %q, want %d %s mentioning %q", w.Code, eb.Error.Code, eb.Error.Message, tc.status, tc.code, tc.msgHas)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	web.WriteError(w, http.StatusTeapot, "teapot", `short and "stout"`)
	if w.Code != http.StatusTeapot {
		t.Fatalf("status %d", w.Code)
	}
	var raw map[string]map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || len(raw) != 1 || len(raw["error"]) != 2 ||
		raw["error"]["code"] != "teapot" || raw["error"]["message"] != `short and "stout"` {
		t.Fatalf("body %s (%v): want exactly {\"error\":{\"code\",\"message\"}}", w.Body, err)
	}
	errorBody(t, w)
}

func TestWithJSONErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.PathValue("id")) })
	h := web.WithJSONErrors(mux)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodGet, "/nowhere", 404, "not_found", ""},
		{http.MethodPost, "/things/1", 405, "method_not_allowed", "GET, HEAD"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if eb := errorBody(t, w); w.Code != tc.status || eb.Error.Code != tc.code || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d %s Allow %q", tc.method, tc.path, w.Code, eb.Error.Code, w.Header().Get("Allow"))
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/things/42", nil))
	if w.Code != 200 || w.Body.String() != "42" {
		t.Fatalf("routed request: %d %s (path values must work)", w.Code, w.Body)
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestServeShutsDownGracefully: an in-flight request finishes after the
// context ends, new connections are refused, and Serve returns nil.
func TestServeShutsDownGracefully(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, srv, ln, 5*time.Second, slog.New(slog.DiscardHandler)) }()

	url := "http://" + ln.Addr().String()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond): // still draining, as it should
	}
	close(release)
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q", body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after shutdown")
	}
}

// TestServeGraceExpires: a request that outlives the grace makes Serve
// close the server and return an error, within about the grace.
func TestServeGraceExpires(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, srv, ln, 200*time.Millisecond, slog.New(slog.DiscardHandler)) }()
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		if resp, err := client.Get("http://" + ln.Addr().String()); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Serve = %v, want the shutdown deadline error", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("Serve returned after %v, want ~200ms", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the grace")
	}
}

func TestServeReportsAServeError(t *testing.T) {
	ln := listen(t)
	ln.Close() // Serve on a closed listener fails at once
	err := web.Serve(context.Background(), &http.Server{}, ln, time.Second, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

// FuzzDecode: whatever the body and content type, Decode never panics,
// answers either success (nothing written) or one of its documented
// errors with an ErrorBody. What it accepts has the media type
// application/json (or none) and is a JSON object that encoding/json v1,
// with unknown fields refused, reads the same way: no duplicate or
// other-case names, no invalid UTF-8.
func FuzzDecode(f *testing.F) {
	f.Add(`{"sku":"SKU-1","quantity":2}`, "application/json")
	f.Add(`{"sku":"SKU-1","quantity":2} {}`, "")
	f.Add(`{"sku":`, "application/json; charset=utf-8")
	f.Add(`{"sku":"a","extra":1}`, "")
	f.Add(`{"quantity":1e99}`, "")
	f.Add("\xff\xfe", "text/plain")
	f.Add(`null`, "")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		var p payload
		if web.Decode(w, r, &p) {
			if w.Body.Len() != 0 {
				t.Fatalf("Decode succeeded but wrote %s", w.Body)
			}
			if mt, _, err := mime.ParseMediaType(contentType); contentType != "" && (err != nil || mt != "application/json") {
				t.Fatalf("accepted content type %q", contentType)
			}
			var v1 payload
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&v1); err != nil || v1 != p || !utf8.ValidString(body) || strings.TrimSpace(body)[0] != '{' {
				t.Fatalf("accepted %q as %+v; encoding/json v1 reads %+v, %v", body, p, v1, err)
			}
			return
		}
		want := map[int]string{400: "malformed_json", 413: "body_too_large", 415: "unsupported_media_type"}[w.Code]
		if eb := errorBody(t, w); want == "" || eb.Error.Code != want {
			t.Fatalf("Decode failed with %d %s", w.Code, w.Body)
		}
	})
}
