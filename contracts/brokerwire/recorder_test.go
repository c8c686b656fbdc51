package brokerwire

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
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
	// unknown is how many more matrix answers say "unknown" (a
	// verification still running) before the deployable answer.
	unknown int
	// pacts are served for verification: path -> pact JSON.
	pacts map[string]servedPact
	// failStatus, when not 0, answers every request but GET / with it.
	failStatus int
}

// servedPact is a pact the recorder serves for verification.
type servedPact struct {
	content []byte
	pending bool
	wip     bool
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
	mux.HandleFunc("GET /pacticipants/{pacticipant}", r.pacticipant)
	mux.HandleFunc("PUT /pacticipants/{pacticipant}/branches/{branch}/versions/{version}", r.created)
	mux.HandleFunc("PUT /pacticipants/{pacticipant}/versions/{version}/tags/{tag}", r.created)
	mux.HandleFunc("POST /environments", r.createEnvironment)
	mux.HandleFunc("GET /environments", r.listEnvironments)
	mux.HandleFunc("POST /webhooks", r.created)
	mux.HandleFunc("POST /pacts/provider/{provider}/for-verification", r.forVerification)
	mux.HandleFunc("GET /pacts/provider/{provider}/for-verification", func(w http.ResponseWriter, req *http.Request) {
		// The verifier reads the relation's resource first, then POSTs
		// its query to the resource's self link.
		self := r.URL() + req.URL.Path
		writeHAL(w, http.StatusOK, map[string]any{"_links": map[string]any{
			"self": link{Href: self, Title: "Pacts to be verified"},
		}})
	})
	mux.HandleFunc("GET /pacts/provider/{provider}/consumer/{consumer}/version/{version}", r.pact)
	mux.HandleFunc("POST /pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}/verification-results", r.created)
	mux.HandleFunc("PUT /{path...}", r.created)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeHAL(w, http.StatusNotFound, map[string]any{"error": "the recorder does not serve " + req.Method + " " + req.URL.Path})
	})
	// Assign r.srv before the server starts: handlers read r.URL().
	r.srv = httptest.NewUnstartedServer(r.record(mux)) // listens on 127.0.0.1:0
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the broker base URL.
func (r *recorder) URL() string { return r.srv.URL }

// answerUnknown makes the next n matrix answers say a verification result
// is unknown.
func (r *recorder) answerUnknown(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unknown = n
}

// failWith answers every request but the index with status.
func (r *recorder) failWith(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failStatus = status
}

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
		fail := r.failStatus
		r.mu.Unlock()
		if fail != 0 && !(req.Method == http.MethodGet && req.URL.Path == "/") {
			writeHAL(w, fail, map[string]any{"error": "the recorder was told to fail"})
			return
		}
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
			"pb:webhooks":            link{Href: base + "/webhooks", Title: "Webhooks"},
			"pb:provider-pacts-for-verification": link{Href: base + "/pacts/provider/{provider}/for-verification",
				Title: "Pact versions to be verified for the specified provider", Templated: true},
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
	r.mu.Lock()
	unknown := r.unknown > 0
	if unknown {
		r.unknown--
	}
	r.mu.Unlock()
	reason := "All required verification results are published and successful"
	var deployable any = r.deployable
	success, failed, missing := 1, 0, 0
	switch {
	case unknown:
		reason = "Missing one or more verification results"
		deployable, success, missing = nil, 0, 1
	case !r.deployable:
		reason = "The verification for the pact between the version of web currently in production and the given version of inventory has failed"
		success, failed = 0, 1
	}
	writeHAL(w, http.StatusOK, map[string]any{
		"summary": map[string]any{
			"deployable": deployable,
			"reason":     reason,
			"success":    success,
			"failed":     failed,
			"unknown":    missing,
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

func (r *recorder) createEnvironment(w http.ResponseWriter, req *http.Request) {
	var in map[string]any
	_ = json.Unmarshal(r.lastBody(req), &in)
	in["uuid"] = "5d2a7c1e-3b4f-4e6a-9c8d-1f2e3a4b5c6d"
	in["_links"] = map[string]any{"self": link{Href: r.URL() + "/environments/5d2a7c1e-3b4f-4e6a-9c8d-1f2e3a4b5c6d"}}
	writeHAL(w, http.StatusCreated, in)
}

// pacticipant serves a pacticipant with the links the verifier follows to
// record the provider version's branch before publishing results.
func (r *recorder) pacticipant(w http.ResponseWriter, req *http.Request) {
	self := r.URL() + "/pacticipants/" + req.PathValue("pacticipant")
	writeHAL(w, http.StatusOK, map[string]any{
		"name": req.PathValue("pacticipant"),
		"_links": map[string]any{
			"self":              link{Href: self},
			"pb:branch-version": link{Href: self + "/branches/{branch}/versions/{version}", Templated: true},
			"pb:version-tag":    link{Href: self + "/versions/{version}/tags/{tag}", Templated: true},
		},
	})
}

func (r *recorder) listEnvironments(w http.ResponseWriter, _ *http.Request) {
	var envs []map[string]any
	for name, uuid := range r.environments {
		envs = append(envs, map[string]any{"uuid": uuid, "name": name, "displayName": name, "production": name == "production"})
	}
	writeHAL(w, http.StatusOK, map[string]any{"_embedded": map[string]any{"environments": envs}})
}

// created answers 201 with the request's own JSON body and a self link.
func (r *recorder) created(w http.ResponseWriter, req *http.Request) {
	var in map[string]any
	if err := json.Unmarshal(r.lastBody(req), &in); err != nil {
		writeHAL(w, http.StatusBadRequest, map[string]any{"errors": map[string][]string{"body": {err.Error()}}})
		return
	}
	in["_links"] = map[string]any{"self": link{Href: r.URL() + req.URL.Path + "/1"}}
	writeHAL(w, http.StatusCreated, in)
}

// lastBody is the body of req, as recorded.
func (r *recorder) lastBody(req *http.Request) []byte {
	body, _ := io.ReadAll(req.Body)
	return body
}

// forVerification answers pb:provider-pacts-for-verification with the
// served pacts of the provider.
func (r *recorder) forVerification(w http.ResponseWriter, req *http.Request) {
	provider := req.PathValue("provider")
	prefix := "/pacts/provider/" + url.PathEscape(provider) + "/"
	r.mu.Lock()
	var list []map[string]any
	for path, p := range r.pacts {
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		list = append(list, map[string]any{
			"shortDescription": "a pact of " + provider,
			"verificationProperties": map[string]any{
				"pending": p.pending, "wip": p.wip,
				"notices": []map[string]string{{"when": "before_verification", "text": "The pact at " + r.URL() + path + " is being verified"}},
			},
			"_links": map[string]any{"self": link{Href: r.URL() + path, Name: "Pact between a consumer and " + provider}},
		})
	}
	r.mu.Unlock()
	writeHAL(w, http.StatusOK, map[string]any{"_embedded": map[string]any{"pacts": list}, "_links": map[string]any{"self": link{Href: r.URL() + req.URL.Path}}})
}

// pact serves a pact with the links the verifier follows to publish its
// result.
func (r *recorder) pact(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	p, ok := r.pacts[req.URL.Path]
	r.mu.Unlock()
	if !ok {
		writeHAL(w, http.StatusNotFound, map[string]any{"error": "no pact at " + req.URL.Path})
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(p.content, &doc); err != nil {
		writeHAL(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	results := r.URL() + "/pacts/provider/" + req.PathValue("provider") + "/consumer/" + req.PathValue("consumer") + "/pact-version/0123abcd/verification-results"
	doc["_links"] = map[string]any{
		"self":                            link{Href: r.URL() + req.URL.Path},
		"pb:publish-verification-results": link{Href: results, Title: "Publish verification results"},
		"pb:provider":                     link{Href: r.URL() + "/pacticipants/" + req.PathValue("provider"), Name: req.PathValue("provider")},
		"pb:latest-pact-version":          link{Href: r.URL() + req.URL.Path},
	}
	writeHAL(w, http.StatusOK, doc)
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
