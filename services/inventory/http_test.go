package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/inventory"
)

func TestReservationRequestErrors(t *testing.T) {
	oversized := `{"order_id":"` + strings.Repeat("x", 1<<20) + `","sku":"SKU-A","quantity":1}`
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		msgHas      string
	}{
		{"malformed JSON", "", `{"order_id":`, 400, "malformed_json", ""},
		{"not an object", "", `[1,2]`, 400, "malformed_json", ""},
		{"unknown field", "", `{"order_id":"o1","sku":"SKU-A","quantity":1,"colour":"red"}`, 400, "malformed_json", "colour"},
		{"wrong type", "", `{"order_id":"o1","sku":"SKU-A","quantity":"1"}`, 400, "malformed_json", ""},
		{"trailing data", "", `{"order_id":"o1","sku":"SKU-A","quantity":1}{}`, 400, "malformed_json", ""},
		{"empty body", "", ``, 400, "malformed_json", "empty"},
		{"oversized body", "", oversized, 413, "body_too_large", ""},
		{"not JSON content type", "text/plain", `{"order_id":"o1","sku":"SKU-A","quantity":1}`, 415, "unsupported_media_type", ""},
		{"missing order_id", "", `{"sku":"SKU-A","quantity":1}`, 400, "invalid_request", "order_id"},
		{"blank order_id", "", `{"order_id":"  ","sku":"SKU-A","quantity":1}`, 400, "invalid_request", "order_id"},
		{"missing sku", "", `{"order_id":"o1","quantity":1}`, 400, "invalid_request", "sku"},
		{"missing quantity", "", `{"order_id":"o1","sku":"SKU-A"}`, 400, "invalid_request", "quantity"},
		{"zero quantity", "", `{"order_id":"o1","sku":"SKU-A","quantity":0}`, 400, "invalid_request", "quantity"},
		{"negative quantity", "", `{"order_id":"o1","sku":"SKU-A","quantity":-3}`, 400, "invalid_request", "quantity"},
		{"empty object", "", `{}`, 400, "invalid_request", "order_id"},
		{"unknown SKU", "", `{"order_id":"o1","sku":"SKU-NOPE","quantity":1}`, 404, "unknown_sku", "SKU-NOPE"},
		// Bounds (events.MaxOrderIDLen, MaxSKULen, MaxQuantity).
		{"quantity over the bound", "", `{"order_id":"o1","sku":"SKU-A","quantity":10001}`, 400, "invalid_request", "quantity must be from 1 to 10000, got 10001"},
		{"quantity max int64", "", `{"order_id":"o1","sku":"SKU-A","quantity":9223372036854775807}`, 400, "invalid_request", "quantity must be from 1 to 10000"},
		{"sku over the bound", "", `{"order_id":"o1","sku":"` + strings.Repeat("S", 65) + `","quantity":1}`, 400, "invalid_request", "sku must be at most 64 bytes, got 65"},
		{"order_id over the bound", "", `{"order_id":"` + strings.Repeat("o", 129) + `","sku":"SKU-A","quantity":1}`, 400, "invalid_request", "order_id must be at most 128 bytes, got 129"},
		{"order_id with a control character", "", `{"order_id":"o\u00071","sku":"SKU-A","quantity":1}`, 400, "invalid_request", "order_id must be printable"},
		{"every field out of bounds", "", `{"order_id":"` + strings.Repeat("o", 129) + `","sku":"` + strings.Repeat("S", 65) + `","quantity":0}`, 400, "invalid_request", "order_id must be at most 128 bytes, got 129; sku must be at most 64 bytes, got 65; quantity"},
		// Strict JSON (encoding/json v1 accepted each of these).
		{"duplicate key", "", `{"order_id":"o1","sku":"SKU-A","quantity":1,"quantity":5}`, 400, "malformed_json", "duplicate"},
		{"field names in another case", "", `{"ORDER_ID":"o1","SKU":"SKU-A","Quantity":1}`, 400, "malformed_json", "ORDER_ID"},
		{"invalid UTF-8", "", "{\"order_id\":\"o1\",\"sku\":\"SKU-A\xff\",\"quantity\":1}", 400, "malformed_json", "UTF-8"},
		{"quantity beyond int64", "", `{"order_id":"o1","sku":"SKU-A","quantity":9223372036854775808}`, 400, "malformed_json", "quantity"},
		{"quantity fraction", "", `{"order_id":"o1","sku":"SKU-A","quantity":1.5}`, 400, "malformed_json", "quantity"},
		{"jsonp content type", "application/jsonp", `{"order_id":"o1","sku":"SKU-A","quantity":1}`, 415, "unsupported_media_type", "application/jsonp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{})
			req := httptest.NewRequest(http.MethodPost, "/reservations", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			svc.Handler().ServeHTTP(rec, req)

			if rec.Code != tc.status {
				t.Errorf("status %d, want %d; body %.200s", rec.Code, tc.status, rec.Body)
			}
			body := rec.Body.Bytes()
			if code := errCode(t, body); code != tc.code {
				t.Errorf("error code %q, want %q", code, tc.code)
			}
			if !bytes.Contains(body, []byte(tc.msgHas)) {
				t.Errorf("error body %s does not mention %q", body, tc.msgHas)
			}
			st := svc.Store()
			if n := available(t, st, "SKU-A"); n != 10 {
				t.Errorf("stock changed to %d, want 10", n)
			}
			if s, err := st.Stats(context.Background()); err != nil || s != (inventory.Stats{}) {
				t.Errorf("Stats = %+v, %v; want nothing stored", s, err)
			}
		})
	}
}

func TestReserveOverHTTP(t *testing.T) {
	svc := newService(t, map[string]int{"SKU-A": 10, "SKU-LOW": 5}, inventory.Config{})
	h := svc.Handler()
	req := map[string]any{"order_id": "o1", "sku": "SKU-A", "quantity": 2}

	status, first := call(t, h, "POST", "/reservations", jsonBody(req))
	if status != http.StatusCreated {
		t.Fatalf("reserve: status %d, body %s", status, first)
	}
	want := `{"order_id":"o1","sku":"SKU-A","quantity":2,"status":"reserved"}` + "\n"
	if string(first) != want {
		t.Errorf("reserve body %s, want %s", first, want)
	}
	// A repeat with the same sku and quantity: same status and body, no
	// second reservation. Another quantity or SKU: 409 order_id_reused.
	status, again := call(t, h, "POST", "/reservations", jsonBody(req))
	if status != http.StatusCreated || !bytes.Equal(again, first) {
		t.Errorf("repeat: %d %s, want 201 %s", status, again, first)
	}
	for _, other := range []map[string]any{
		{"order_id": "o1", "sku": "SKU-A", "quantity": 7},
		{"order_id": "o1", "sku": "SKU-LOW", "quantity": 2},
	} {
		status, body := call(t, h, "POST", "/reservations", jsonBody(other))
		if status != http.StatusConflict || errCode(t, body) != "order_id_reused" || !bytes.Contains(body, []byte(`2 x \"SKU-A\"`)) {
			t.Errorf("reused order_id %v: %d %s, want 409 order_id_reused naming the first reservation", other, status, body)
		}
	}
	if status, body := call(t, h, "GET", "/stock/SKU-A", nil); status != 200 || string(body) != `{"sku":"SKU-A","available":8}`+"\n" {
		t.Errorf("GET /stock/SKU-A = %d %s, want 200 available 8", status, body)
	}
	if status, body := call(t, h, "GET", "/reservations/o1", nil); status != 200 ||
		string(body) != `{"order_id":"o1","sku":"SKU-A","quantity":2,"status":"reserved","stock_movements":1}`+"\n" {
		t.Errorf("GET /reservations/o1 = %d %s", status, body)
	}

	// Insufficient stock: 409 each time, stored as a rejection, stock kept.
	low := jsonBody(map[string]any{"order_id": "o2", "sku": "SKU-LOW", "quantity": 6})
	status, rejected := call(t, h, "POST", "/reservations", low)
	if status != http.StatusConflict || errCode(t, rejected) != "insufficient_stock" {
		t.Errorf("reserve 6 of 5: %d %s, want 409 insufficient_stock", status, rejected)
	}
	status, again = call(t, h, "POST", "/reservations", jsonBody(map[string]any{"order_id": "o2", "sku": "SKU-LOW", "quantity": 6}))
	if status != http.StatusConflict || !bytes.Equal(again, rejected) {
		t.Errorf("repeat rejected: %d %s, want 409 %s", status, again, rejected)
	}
	if n := available(t, svc.Store(), "SKU-LOW"); n != 5 {
		t.Errorf("SKU-LOW available %d, want 5", n)
	}
	if status, body := call(t, h, "GET", "/reservations/o2", nil); status != 200 ||
		string(body) != `{"order_id":"o2","sku":"SKU-LOW","quantity":6,"status":"rejected","reason":"insufficient_stock","stock_movements":0}`+"\n" {
		t.Errorf("GET /reservations/o2 = %d %s", status, body)
	}

	var stats map[string]int
	status, body := call(t, h, "GET", "/stats", nil)
	if err := json.Unmarshal(body, &stats); status != 200 || err != nil {
		t.Fatalf("GET /stats = %d %s (%v)", status, body, err)
	}
	wantStats := map[string]int{"reserved": 1, "rejected": 1, "duplicated_effects": 0, "consumer_lag": 0, "dead_lettered": 0,
		"reservation_requests": 6} // every POST /reservations above, repeats and refusals included
	for k, v := range wantStats {
		if got, ok := stats[k]; !ok || got != v {
			t.Errorf("stats[%q] = %d (present %v), want %d; body %s", k, got, ok, v, body)
		}
	}
}

func TestReadEndpoints(t *testing.T) {
	h := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{}).Handler()
	tests := []struct {
		method, path string
		status       int
		code         string // error code, or "" for a success body
		body         string
	}{
		{"GET", "/healthz", 200, "", `{"status":"ok"}`},
		{"GET", "/stock/SKU-A", 200, "", `{"sku":"SKU-A","available":10}`},
		{"GET", "/stock/SKU-NOPE", 404, "unknown_sku", ""},
		{"GET", "/reservations/nope", 404, "not_found", ""},
		{"GET", "/stock/" + strings.Repeat("S", 65), 400, "invalid_request", ""},
		{"GET", "/stock/SKU%0A1", 400, "invalid_request", ""},
		{"GET", "/reservations/" + strings.Repeat("o", 129), 400, "invalid_request", ""},
		{"GET", "/nowhere", 404, "not_found", ""},
		{"DELETE", "/stock/SKU-A", 405, "method_not_allowed", ""},
		{"GET", "/reservations", 405, "method_not_allowed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body := call(t, h, tc.method, tc.path, nil)
			if status != tc.status {
				t.Errorf("status %d, want %d; body %s", status, tc.status, body)
			}
			if tc.code != "" {
				if code := errCode(t, body); code != tc.code {
					t.Errorf("code %q, want %q", code, tc.code)
				}
			} else if strings.TrimSpace(string(body)) != tc.body {
				t.Errorf("body %s, want %s", body, tc.body)
			}
		})
	}
}

func TestRunServesHTTPAndShutsDown(t *testing.T) {
	svc := newService(t, map[string]int{"SKU-A": 10}, inventory.Config{})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, ln) }()

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/stock/SKU-A")
	if err != nil {
		t.Fatalf("GET /stock/SKU-A: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"available":10`) {
		t.Errorf("GET /stock/SKU-A = %d %s", resp.StatusCode, b)
	}
	cancel()
	waitRun(t, done)
}
