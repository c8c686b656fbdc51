package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// ErrUnreachable marks a broker that could not be reached at all (DNS,
// connection, TLS, timeout) after every attempt.
var ErrUnreachable = errors.New("cannot reach the Pact Broker")

// BrokerError is a broker that answered, with an error status.
type BrokerError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("the Pact Broker answered %s %s with %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// Broker fetches pacts from a Pact Broker, as the provider verification
// will, so the lint can read what is about to be verified. Credentials:
// Token (bearer) or User and Password (basic auth).
type Broker struct {
	BaseURL               string
	Token, User, Password string
	// Retries is how many times a request is retried after a transport
	// error or a 5xx/408/429 answer, with exponential backoff from 500 ms.
	Retries uint
	// HTTP is the client; its Timeout bounds each attempt.
	HTTP *http.Client
}

// FetchedPact is a pact the broker selected for verification.
type FetchedPact struct {
	URL     string
	Data    []byte
	Pending bool
	WIP     bool
}

// ForVerification asks the broker which pacts provider must verify (the
// endpoint pb:provider-pacts-for-verification, with selectors, the
// provider's branch, pending status and work-in-progress pacts since
// wipSince, if not nil) and fetches each of them. It returns
// ErrUnreachable or *BrokerError (wrapped) when the broker fails.
func (b *Broker) ForVerification(ctx context.Context, provider string, selectors []map[string]any, branch string, wipSince *time.Time) ([]FetchedPact, error) {
	var index struct {
		Links map[string]struct {
			Href string `json:"href"`
		} `json:"_links"`
	}
	if err := b.do(ctx, http.MethodGet, strings.TrimRight(b.BaseURL, "/")+"/", nil, &index); err != nil {
		return nil, err
	}
	rel, ok := index.Links["pb:provider-pacts-for-verification"]
	if !ok || rel.Href == "" {
		return nil, &BrokerError{Method: http.MethodGet, URL: b.BaseURL, Status: http.StatusOK,
			Body: "the index has no pb:provider-pacts-for-verification relation: not a Pact Broker, or one too old for consumer version selectors"}
	}
	href := strings.ReplaceAll(rel.Href, "{provider}", url.PathEscape(provider))
	query := map[string]any{
		"consumerVersionSelectors": selectors,
		"includePendingStatus":     true,
	}
	if branch != "" {
		query["providerVersionBranch"] = branch
	}
	if wipSince != nil {
		query["includeWipPactsSince"] = wipSince.Format(time.DateOnly)
	}
	var list struct {
		Embedded struct {
			Pacts []struct {
				Props struct {
					Pending bool `json:"pending"`
					WIP     bool `json:"wip"`
				} `json:"verificationProperties"`
				Links struct {
					Self struct {
						Href string `json:"href"`
					} `json:"self"`
				} `json:"_links"`
			} `json:"pacts"`
		} `json:"_embedded"`
	}
	if err := b.do(ctx, http.MethodPost, href, query, &list); err != nil {
		return nil, err
	}
	var out []FetchedPact
	for _, p := range list.Embedded.Pacts {
		f, err := b.Pact(ctx, p.Links.Self.Href)
		if err != nil {
			return nil, err
		}
		f.Pending, f.WIP = p.Props.Pending, p.Props.WIP
		out = append(out, f)
	}
	return out, nil
}

// Pact fetches the pact at pactURL (a webhook's ${pactbroker.pactUrl}).
func (b *Broker) Pact(ctx context.Context, pactURL string) (FetchedPact, error) {
	var raw json.RawMessage
	if err := b.do(ctx, http.MethodGet, pactURL, nil, &raw); err != nil {
		return FetchedPact{}, err
	}
	return FetchedPact{URL: pactURL, Data: raw}, nil
}

func (b *Broker) do(ctx context.Context, method, target string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	attempts := 0
	op := func() (struct{}, error) {
		attempts++
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		req.Header.Set("Accept", "application/hal+json, application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		switch {
		case b.Token != "":
			req.Header.Set("Authorization", "Bearer "+b.Token)
		case b.User != "":
			req.SetBasicAuth(b.User, b.Password)
		}
		resp, err := b.HTTP.Do(req)
		if err != nil {
			return struct{}{}, fmt.Errorf("%w at %s: %v", ErrUnreachable, b.BaseURL, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return struct{}{}, fmt.Errorf("%w at %s: read %s %s: %v", ErrUnreachable, b.BaseURL, method, target, err)
		}
		if resp.StatusCode/100 != 2 {
			berr := &BrokerError{Method: method, URL: target, Status: resp.StatusCode, Body: snippet(data)}
			if resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests {
				return struct{}{}, berr
			}
			return struct{}{}, backoff.Permanent(berr)
		}
		if err := json.Unmarshal(data, out); err != nil {
			return struct{}{}, backoff.Permanent(&BrokerError{Method: method, URL: target, Status: resp.StatusCode, Body: "not JSON: " + snippet(data)})
		}
		return struct{}{}, nil
	}
	start := time.Now()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 500 * time.Millisecond
	_, err := backoff.Retry(ctx, op, backoff.WithBackOff(bo), backoff.WithMaxTries(b.Retries+1), backoff.WithMaxElapsedTime(0))
	if err != nil && attempts > 1 {
		err = fmt.Errorf("%w (%d attempts in %s)", err, attempts, time.Since(start).Round(100*time.Millisecond))
	}
	return err
}

func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
