//go:build pact

package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pact-foundation/pact-go/v2/consumer"
	"github.com/pact-foundation/pact-go/v2/matchers"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/internal/testkit"
	"github.com/faultline-harness/faultline/services/messaging"
	"github.com/faultline-harness/faultline/services/order"
	"github.com/faultline-harness/faultline/services/web"
)

// Regular expressions of the matchers. Pact runs them in Rust's regex
// dialect, which reads these the same way as Go's, and a value must match
// as a whole: pact_ffi 0.4.28 failed "application/json; charset=utf-8"
// against `^application/json` (make mutants: stock-content-type-charset).
const (
	anyID = `^\S+$`
	// jsonType is the media type application/json with any parameters
	// (charset=utf-8 is harmless; application/jsonp is not JSON).
	jsonType     = `^application/json(\s*;.*)?$`
	rfc3339Regex = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`
)

// errorBody is the web.ErrorBody every inventory error carries: a fixed
// code, any message.
func errorBody(code, exampleMessage string) map[string]any {
	return map[string]any{
		"error": map[string]any{
			"code":    matchers.Regex(code, "^"+code+"$"),
			"message": matchers.Like(exampleMessage),
		},
	}
}

// reservationBody is inventory's 201 answer to POST /reservations.
func reservationBody(orderID string) map[string]any {
	return map[string]any{
		"order_id": matchers.Regex(orderID, anyID),
		"sku":      matchers.Like(contracts.SKU),
		"quantity": matchers.Integer(contracts.Quantity),
		"status":   matchers.Regex("reserved", "^reserved$"),
	}
}

func reservationRequest(orderID, sku string) order.ReservationRequest {
	return order.ReservationRequest{OrderID: orderID, SKU: sku, Quantity: contracts.Quantity}
}

// TestOrderServiceInventoryHTTP drives order-service's real
// InventoryClient against the Pact mock server, one interaction per
// subtest, and checks what the client returns for each answer.
func TestOrderServiceInventoryHTTP(t *testing.T) {
	reg := registered(t, contracts.OrderService, contracts.InventoryService)
	mock, err := consumer.NewV4Pact(consumer.MockHTTPProviderConfig{
		Consumer: reg.Consumer,
		Provider: reg.Provider,
		Host:     "127.0.0.1",
		PactDir:  testkit.PactDir(t),
	})
	if err != nil {
		t.Fatalf("new pact: %v", err)
	}

	tests := []struct {
		description string
		method      string
		path        string
		request     any // JSON request body; nil for none
		status      int
		response    any // JSON response body, with matchers
		// call runs the real client against the mock server and checks
		// its result.
		call func(t *testing.T, ctx context.Context, c *order.InventoryClient) error
	}{
		{
			description: contracts.DescStockInStock,
			method:      http.MethodGet,
			path:        "/stock/" + contracts.SKU,
			status:      http.StatusOK,
			response: map[string]any{
				"sku":       matchers.Like(contracts.SKU),
				"available": matchers.Integer(contracts.InStock),
			},
			// The consumer is hybrid mode's POST /orders, which reads the
			// stock first: enough units -> 202 "verified"; more than
			// available -> 409 at once (both requests match this one
			// interaction: the stock read is the same).
			call: func(t *testing.T, ctx context.Context, c *order.InventoryClient) error {
				h := hybridOrderService(t, c.BaseURL)
				if err := wantHybridAccepted(h, contracts.SKU, contracts.Quantity); err != nil {
					return err
				}
				return wantHybridRefused(h, contracts.SKU, contracts.InStock+1, http.StatusConflict, "insufficient_stock")
			},
		},
		{
			description: contracts.DescStockUnknownSKU,
			method:      http.MethodGet,
			path:        "/stock/" + contracts.UnknownSKU,
			status:      http.StatusNotFound,
			response:    errorBody("unknown_sku", `unknown sku: "SKU-UNKNOWN"`),
			// Hybrid mode's POST /orders: 422 unknown_sku, nothing stored
			// (the client's error is ErrUnknownSKU, not an outage: an
			// outage would be accepted "unverified").
			call: func(t *testing.T, ctx context.Context, c *order.InventoryClient) error {
				return wantHybridRefused(hybridOrderService(t, c.BaseURL), contracts.UnknownSKU, contracts.Quantity, http.StatusUnprocessableEntity, "unknown_sku")
			},
		},
		{
			description: contracts.DescReserve,
			method:      http.MethodPost,
			path:        "/reservations",
			request:     reservationRequest(contracts.OrderReserved, contracts.SKU),
			status:      http.StatusCreated,
			response:    reservationBody(contracts.OrderReserved),
			call: func(t *testing.T, ctx context.Context, c *order.InventoryClient) error {
				return wantReserved(ctx, c, contracts.OrderReserved, 1)
			},
		},
		{
			description: contracts.DescReserveInsufficient,
			method:      http.MethodPost,
			path:        "/reservations",
			request:     reservationRequest(contracts.OrderInsufficient, contracts.SKU),
			status:      http.StatusConflict,
			response:    errorBody("insufficient_stock", `insufficient stock: sku "SKU-1" has fewer than 2 units available`),
			call: func(t *testing.T, ctx context.Context, c *order.InventoryClient) error {
				r, err := c.Reserve(ctx, reservationRequest(contracts.OrderInsufficient, contracts.SKU))
				return wantError(err, order.ErrInsufficientStock, "insufficient_stock", r)
			},
		},
		{
			description: contracts.DescReserveUnknownSKU,
			method:      http.MethodPost,
			path:        "/reservations",
			request:     reservationRequest(contracts.OrderUnknownSKU, contracts.UnknownSKU),
			status:      http.StatusNotFound,
			response:    errorBody("unknown_sku", `reserve order "order-3": unknown sku: "SKU-UNKNOWN"`),
			call: func(t *testing.T, ctx context.Context, c *order.InventoryClient) error {
				r, err := c.Reserve(ctx, reservationRequest(contracts.OrderUnknownSKU, contracts.UnknownSKU))
				return wantError(err, order.ErrUnknownSKU, "unknown_sku", r)
			},
		},
		{
			// The provider state has made this reservation already (and
			// left no stock): a retry of the same order gets the stored
			// outcome, the same 201 body, every time.
			description: contracts.DescReserveRepeated,
			method:      http.MethodPost,
			path:        "/reservations",
			request:     reservationRequest(contracts.OrderRepeated, contracts.SKU),
			status:      http.StatusCreated,
			response:    reservationBody(contracts.OrderRepeated),
			call: func(t *testing.T, ctx context.Context, c *order.InventoryClient) error {
				return wantReserved(ctx, c, contracts.OrderRepeated, 2)
			},
		},
	}

	for _, tc := range tests {
		// Not parallel: the mock provider serves one interaction at a time.
		t.Run(tc.description, func(t *testing.T) {
			in := interaction(t, reg, tc.description, contracts.HTTP)
			b := mock.AddInteraction()
			for _, s := range in.States {
				b = b.Given(s)
			}
			err := b.UponReceiving(in.Description).
				WithRequest(consumer.Method(tc.method), tc.path, func(r *consumer.V4RequestBuilder) {
					r.Header("Accept", matchers.S("application/json"))
					if tc.request != nil {
						r.Header("Content-Type", matchers.S("application/json"))
						r.JSONBody(tc.request)
					}
				}).
				WillRespondWith(tc.status, func(r *consumer.V4ResponseBuilder) {
					r.Header("Content-Type", matchers.Regex("application/json", jsonType))
					r.JSONBody(tc.response)
				}).
				ExecuteTest(t, func(cfg consumer.MockServerConfig) error {
					c := order.NewInventoryClient(fmt.Sprintf("http://%s:%d", cfg.Host, cfg.Port), 5*time.Second)
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					defer cancel()
					return tc.call(t, ctx, c)
				})
			if err != nil {
				t.Fatalf("%s: %v", in.Description, err)
			}
		})
	}
}

// wantReserved reserves Quantity x SKU for orderID times times and checks
// that every answer is the same successful reservation.
func wantReserved(ctx context.Context, c *order.InventoryClient, orderID string, times int) error {
	want := order.Reservation{OrderID: orderID, SKU: contracts.SKU, Quantity: contracts.Quantity, Status: "reserved"}
	for i := 1; i <= times; i++ {
		r, err := c.Reserve(ctx, reservationRequest(orderID, contracts.SKU))
		if err != nil {
			return fmt.Errorf("Reserve #%d/%d: %w", i, times, err)
		}
		if r != want {
			return fmt.Errorf("Reserve #%d/%d = %+v, want %+v", i, times, r, want)
		}
	}
	return nil
}

// wantError checks that a client call failed with sentinel, naming the
// provider's error code, and returned a zero value.
func wantError[V comparable](err, sentinel error, code string, got V) error {
	var zero V
	switch {
	case err == nil:
		return fmt.Errorf("got %+v and no error, want %v", got, sentinel)
	case !errors.Is(err, sentinel):
		return fmt.Errorf("error %q does not wrap %v", err, sentinel)
	case errors.Is(err, order.ErrInventoryUnavailable):
		return fmt.Errorf("error %q also wraps %v: a business answer is not an outage", err, order.ErrInventoryUnavailable)
	case !strings.Contains(err.Error(), code):
		return fmt.Errorf("error %q does not name the provider's code %q", err, code)
	case got != zero:
		return fmt.Errorf("got %+v with the error, want the zero value", got)
	}
	return nil
}

// hybridOrder is a hybrid-mode order-service (its HTTP handler, in
// process) reading the stock from inventoryURL: the consumer code of the
// GET /stock interactions. Its broker is never dialled (Run is not
// called), so accepted orders stay in its outbox.
type hybridOrder struct {
	svc *order.Service
}

func hybridOrderService(t *testing.T, inventoryURL string) hybridOrder {
	t.Helper()
	svc, err := order.New(order.Config{
		Mode:         order.ModeHybrid,
		DBPath:       filepath.Join(t.TempDir(), "orders.db"),
		InventoryURL: inventoryURL,
		Kafka:        messaging.Config{Brokers: []string{"127.0.0.1:1"}},
		// The mock server answers well within this; a timeout would turn
		// the read into "unverified" and hide a contract break.
		Hybrid: order.HybridConfig{ReadTimeout: 5 * time.Second, OnReadFailure: order.RefuseOnReadFailure},
	}, testkit.Logger(t))
	if err != nil {
		t.Fatalf("hybrid order-service: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return hybridOrder{svc}
}

func (h hybridOrder) post(sku string, qty int) (*httptest.ResponseRecorder, error) {
	body, err := json.Marshal(map[string]any{"sku": sku, "quantity": qty})
	if err != nil {
		return nil, err
	}
	req := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.svc.Handler().ServeHTTP(rec, req)
	return rec, nil
}

// wantHybridAccepted places qty x sku and wants 202, a PENDING order with
// stock_check "verified", and its order-placed record in the outbox.
func wantHybridAccepted(h hybridOrder, sku string, qty int) error {
	rec, err := h.post(sku, qty)
	if err != nil {
		return err
	}
	var o order.Order
	if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &o) != nil ||
		o.Status != order.StatusPending || o.StockCheck != order.StockVerified {
		return fmt.Errorf("POST /orders %d x %s = %d %s, want 202 PENDING with stock_check %q", qty, sku, rec.Code, rec.Body, order.StockVerified)
	}
	if n, err := h.svc.Store().OutboxBacklog(context.Background()); err != nil || n != 1 {
		return fmt.Errorf("outbox backlog %d (%v) after the 202, want 1", n, err)
	}
	return nil
}

// wantHybridRefused places qty x sku and wants status with error code
// code, and nothing new stored.
func wantHybridRefused(h hybridOrder, sku string, qty, status int, code string) error {
	before, err := h.svc.Store().Stats(context.Background())
	if err != nil {
		return err
	}
	rec, err := h.post(sku, qty)
	if err != nil {
		return err
	}
	var eb web.ErrorBody
	if rec.Code != status || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error.Code != code {
		return fmt.Errorf("POST /orders %d x %s = %d %s, want %d %s", qty, sku, rec.Code, rec.Body, status, code)
	}
	after, err := h.svc.Store().Stats(context.Background())
	if err != nil {
		return err
	}
	if after.ByStatus[order.StatusPending] != before.ByStatus[order.StatusPending] || after.OutboxBacklog != before.OutboxBacklog {
		return fmt.Errorf("POST /orders %d x %s answered %d but stored an order (stats %+v, before %+v)", qty, sku, status, after, before)
	}
	return nil
}
