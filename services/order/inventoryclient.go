package order

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

	"github.com/faultline-harness/faultline/services/web"
)

// Inventory client errors. Every error from InventoryClient wraps exactly
// one of them. ErrInventoryUnavailable also wraps the cause (transport
// error, timeout, context error), so both errors.Is(err,
// ErrInventoryUnavailable) and, say, errors.Is(err, context.Canceled) hold.
var (
	ErrUnknownSKU           = errors.New("unknown sku")        // inventory answered 404
	ErrInsufficientStock    = errors.New("insufficient stock") // inventory answered 409
	ErrInventoryUnavailable = errors.New("inventory unavailable")
)

// InventoryClient calls inventory-service's HTTP API:
//
//	GET  /stock/{sku}   -> 200 {"sku","available"} | 404
//	POST /reservations  {"order_id","sku","quantity"}
//	                    -> 201 {"order_id","sku","quantity","status":"reserved"} | 409 | 404 | 400
//
// Error bodies are web.ErrorBody. It is safe for concurrent use.
type InventoryClient struct {
	BaseURL string       // e.g. "http://127.0.0.1:8081", no trailing slash
	HTTP    *http.Client // its Timeout bounds each call
}

// NewInventoryClient returns a client whose calls each time out after
// timeout (0: no client timeout; the ctx still applies).
func NewInventoryClient(baseURL string, timeout time.Duration) *InventoryClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &InventoryClient{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: timeout, Transport: tr}}
}

// Stock is inventory's answer to GET /stock/{sku}.
type Stock struct {
	SKU       string `json:"sku"`
	Available int    `json:"available"`
}

// ReservationRequest is the body of POST /reservations. Inventory treats
// it as idempotent by OrderID.
type ReservationRequest struct {
	OrderID  string `json:"order_id"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Reservation is inventory's 201 answer to POST /reservations.
type Reservation struct {
	OrderID  string `json:"order_id"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Status   string `json:"status"` // "reserved"
}

// Stock returns the available stock of sku (GET /stock/{sku}, the SKU
// path-escaped): ErrUnknownSKU on 404, ErrInventoryUnavailable on anything
// but 200 (a 409 included) and on transport errors. It is the consumer code
// of the hybrid placement mode, which reads the stock before accepting an
// order; contracts/consumer drives the GET /stock interactions through it.
func (c *InventoryClient) Stock(ctx context.Context, sku string) (Stock, error) {
	var s Stock
	err := c.do(ctx, http.MethodGet, "/stock/"+url.PathEscape(sku), nil, http.StatusOK, &s)
	if err != nil {
		return Stock{}, fmt.Errorf("get stock of %q: %w", sku, err)
	}
	return s, nil
}

// Reserve reserves r.Quantity of r.SKU for r.OrderID: ErrInsufficientStock
// on 409 insufficient_stock, ErrUnknownSKU on 404, ErrInventoryUnavailable
// on anything but 201 (200 is accepted too, for an idempotent replay),
// 409 order_id_reused included, and on transport errors.
func (c *InventoryClient) Reserve(ctx context.Context, r ReservationRequest) (Reservation, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return Reservation{}, fmt.Errorf("encode reservation: %w", err)
	}
	var res Reservation
	if err := c.do(ctx, http.MethodPost, "/reservations", body, http.StatusCreated, &res); err != nil {
		return Reservation{}, fmt.Errorf("reserve %d x %q for order %s: %w", r.Quantity, r.SKU, r.OrderID, err)
	}
	return res, nil
}

// do sends one request and decodes a `want` (or 200) answer into out.
func (c *InventoryClient) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("%w: build request: %w", ErrInventoryUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInventoryUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: read %s %s response: %w", ErrInventoryUnavailable, method, path, err)
	}
	switch resp.StatusCode {
	case want, http.StatusOK:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%w: decode %d response: %w", ErrInventoryUnavailable, resp.StatusCode, err)
		}
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrUnknownSKU, errorMessage(data))
	case http.StatusConflict:
		// Only 409 insufficient_stock is an answer; 409 order_id_reused
		// (inventory holds another reservation under this order ID) is not.
		var eb web.ErrorBody
		if method == http.MethodPost && json.Unmarshal(data, &eb) == nil && eb.Error.Code == "insufficient_stock" {
			return fmt.Errorf("%w: %s", ErrInsufficientStock, errorMessage(data))
		}
	}
	return fmt.Errorf("%w: unexpected status %d: %s", ErrInventoryUnavailable, resp.StatusCode, errorMessage(data))
}

// errorMessage renders a web.ErrorBody as "code: message", or the raw
// (truncated) body when it is not one.
func errorMessage(data []byte) string {
	var eb web.ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
		return eb.Error.Code + ": " + eb.Error.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}
