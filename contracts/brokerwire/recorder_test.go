package brokerwire

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// recordedRequest is one request the recorder received.
type recordedRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// recorder is a stand-in Pact Broker on 127.0.0.1. It serves the HAL index
// and the endpoints the Pact CLI calls for publish, can-i-deploy and
// record-deployment, with response bodies shaped like the broker's (the CLI
// parses them strictly), and records every request. It is safe for
// concurrent use: handlers run on the server's goroutines.
type recorder struct {
	srv *httptest.Server

	// deployable is the matrix summary's answer for can-i-deploy.
	deployable bool
	// environments maps the environment names the broker knows to their UUIDs.
	environments map[string]string

	mu   sync.Mutex
	reqs []recordedRequest
}

// newRecorder starts a recorder and closes it when the test ends.
func newRecorder(t testing.TB, deployable bool) *recorder {
	t.Helper()
	r := &recorder{
		deployable:   deployable,
		environments: map[string]string{"production": "8c5b1e4e-7f2a-4f0e-9c51-2b7d9a3e6f10"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", r.index)
	mux.HandleFunc("POST /contracts/publish", r.publish)
	mux.HandleFunc("GET /matrix", r.matrix)
	mux.HandleFunc("GET /pacticipants/{pacticipant}/versions/{version}", r.version)
	mux.HandleFunc("POST /pacticipants/{pacticipant}/versions/{version}/deployed-versions/environment/{env}", r.deployed)
	// Assign r.srv before the server starts: handlers read r.URL().
	r.srv = httptest.NewUnstartedServer(r.record(mux)) // listens on 127.0.0.1:0
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the broker base URL.
func (r *recorder) URL() string { return r.srv.URL }

// requests returns a copy of the requests received so far.
func (r *recorder) requests() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// requestsTo returns the recorded requests with the given method and path.
func (r *recorder) requestsTo(method, path string) []recordedRequest {
	var out []recordedRequest
	for _, req := range r.requests() {
		if req.Method == method && req.Path == path {
			out = append(out, req)
		}
	}
	return out
}

func (r *recorder) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, recordedRequest{
			Method: req.Method,
			Path:   req.URL.Path,
			Query:  req.URL.Query(),
			Header: req.Header.Clone(),
			Body:   body,
		})
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, req)
	})
}

type link struct {
	Href      string `json:"href"`
	Title     string `json:"title,omitempty"`
	Name      string `json:"name,omitempty"`
	Templated bool   `json:"templated,omitempty"`
}

func (r *recorder) index(w http.ResponseWriter, _ *http.Request) {
	base := r.URL()
	writeHAL(w, http.StatusOK, map[string]any{
		"_links": map[string]any{
			"self":                   link{Href: base, Title: "Index"},
			"pb:publish-contracts":   link{Href: base + "/contracts/publish", Title: "Publish contracts"},
			"pb:pacticipant":         link{Href: base + "/pacticipants/{pacticipant}", Title: "Fetch pacticipant by name", Templated: true},
			"pb:pacticipant-version": link{Href: base + "/pacticipants/{pacticipant}/versions/{version}", Title: "Fetch pacticipant version", Templated: true},
			"pb:environments":        link{Href: base + "/environments", Title: "Environments"},
		},
	})
}

// publishRequest is the body of POST /contracts/publish.
type publishRequest struct {
	PacticipantName          string            `json:"pacticipantName"`
	PacticipantVersionNumber string            `json:"pacticipantVersionNumber"`
	Branch                   string            `json:"branch"`
	Tags                     []string          `json:"tags"`
	BuildURL                 string            `json:"buildUrl"`
	Contracts                []publishContract `json:"contracts"`
}

type publishContract struct {
	ConsumerName  string `json:"consumerName"`
	ProviderName  string `json:"providerName"`
	Specification string `json:"specification"`
	ContentType   string `json:"contentType"`
	Content       string `json:"content"`
}

func (r *recorder) publish(w http.ResponseWriter, req *http.Request) {
	var in publishRequest
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		writeHAL(w, http.StatusBadRequest, map[string]any{"errors": map[string][]string{"body": {err.Error()}}})
		return
	}
	base := r.URL()
	pacticipantURL := base + "/pacticipants/" + url.PathEscape(in.PacticipantName)
	versionURL := pacticipantURL + "/versions/" + url.PathEscape(in.PacticipantVersionNumber)
	contracts := []link{}
	for _, c := range in.Contracts {
		contracts = append(contracts, link{
			Title: "Pact",
			Name:  "Pact between " + c.ConsumerName + " (" + in.PacticipantVersionNumber + ") and " + c.ProviderName,
			Href:  base + "/pacts/provider/" + url.PathEscape(c.ProviderName) + "/consumer/" + url.PathEscape(c.ConsumerName) + "/version/" + url.PathEscape(in.PacticipantVersionNumber),
		})
	}
	msg := "Pact published for " + in.PacticipantName + " version " + in.PacticipantVersionNumber + " (recorder)"
	writeHAL(w, http.StatusOK, map[string]any{
		"logs":    []map[string]string{{"level": "info", "message": msg, "deprecationWarning": "Replaced by notices"}},
		"notices": []map[string]string{{"type": "success", "text": msg}},
		"_embedded": map[string]any{
			"pacticipant": map[string]any{
				"name":   in.PacticipantName,
				"_links": map[string]any{"self": link{Href: pacticipantURL, Title: "Pacticipant", Name: in.PacticipantName}},
			},
			"version": map[string]any{
				"number": in.PacticipantVersionNumber,
				"branch": in.Branch,
				"_links": map[string]any{"self": link{Href: versionURL, Title: "Version", Name: in.PacticipantVersionNumber}},
			},
		},
		"_links": map[string]any{
			"pb:pacticipant":              link{Href: pacticipantURL, Title: "Pacticipant", Name: in.PacticipantName},
			"pb:pacticipant-version":      link{Href: versionURL, Title: "Pacticipant version", Name: in.PacticipantVersionNumber},
			"pb:pacticipant-version-tags": []link{},
			"pb:contracts":                contracts,
		},
	})
}

func (r *recorder) matrix(w http.ResponseWriter, _ *http.Request) {
	reason := "All required verification results are published and successful"
	success, failed := 1, 0
	if !r.deployable {
		reason = "The verification for the pact between the version of web currently in production and the given version of inventory has failed"
		success, failed = 0, 1
	}
	writeHAL(w, http.StatusOK, map[string]any{
		"summary": map[string]any{
			"deployable": r.deployable,
			"reason":     reason,
			"success":    success,
			"failed":     failed,
			"unknown":    0,
		},
		"notices": []map[string]string{{"type": "info", "text": reason}},
		"matrix":  []any{},
	})
}

// version serves a pacticipant version with one pb:record-deployment link
// per environment, which is how the CLI finds where to record a deployment.
func (r *recorder) version(w http.ResponseWriter, req *http.Request) {
	p, v := req.PathValue("pacticipant"), req.PathValue("version")
	self := r.URL() + "/pacticipants/" + url.PathEscape(p) + "/versions/" + url.PathEscape(v)
	var deploy []link
	for name, uuid := range r.environments {
		deploy = append(deploy, link{Name: name, Title: "Record deployment to " + name, Href: self + "/deployed-versions/environment/" + uuid})
	}
	writeHAL(w, http.StatusOK, map[string]any{
		"number": v,
		"_links": map[string]any{
			"self":                 link{Href: self, Title: "Version", Name: v},
			"pb:record-deployment": deploy,
		},
	})
}

func (r *recorder) deployed(w http.ResponseWriter, req *http.Request) {
	v, envUUID := req.PathValue("version"), req.PathValue("env")
	envName := ""
	for name, uuid := range r.environments {
		if uuid == envUUID {
			envName = name
		}
	}
	if envName == "" {
		writeHAL(w, http.StatusNotFound, map[string]any{"error": "no environment " + envUUID})
		return
	}
	writeHAL(w, http.StatusCreated, map[string]any{
		"uuid":              "2f0f3c1d-5a8e-4b3b-9d2c-7e6a1b0c9d8e",
		"currentlyDeployed": true,
		"_embedded": map[string]any{
			"version":     map[string]any{"number": v},
			"environment": map[string]any{"uuid": envUUID, "name": envName},
		},
		"_links": map[string]any{},
	})
}

func writeHAL(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/hal+json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
