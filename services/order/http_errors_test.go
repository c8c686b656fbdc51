package order

import (
	"net/http"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/web"
)

// TestIdempotencyKeyInProgress: a repeat of a key whose first request is
// still waiting for inventory gets 409 request_in_progress with
// Retry-After, and creates nothing.
func TestIdempotencyKeyInProgress(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	inv := newFakeInventory(t, nil, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		web.WriteJSON(w, http.StatusCreated, Reservation{Status: "reserved"})
	})
	s := newService(t, Config{Mode: ModeSync, InventoryURL: inv.URL, InventoryTimeout: 10 * time.Second})
	first := make(chan httpResult, 1)
	go func() { first <- postOrder(t, s.Handler(), "SKU-1", 1, "slow-key") }()
	<-entered
	again := postOrder(t, s.Handler(), "SKU-1", 1, "slow-key")
	if again.status != http.StatusConflict || again.errCode(t) != "request_in_progress" || again.header.Get("Retry-After") != "1" {
		t.Fatalf("repeat while in progress: %d %s Retry-After %q", again.status, again.body, again.header.Get("Retry-After"))
	}
	if n, _ := counts(t, s.Store()); n != 1 {
		t.Fatalf("%d orders stored, want 1", n)
	}
	close(release)
	if res := <-first; res.status != http.StatusCreated {
		t.Fatalf("first request: %d %s", res.status, res.body)
	}
	if res := postOrder(t, s.Handler(), "SKU-1", 1, "slow-key"); res.status != http.StatusCreated || res.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat once done: %d %s", res.status, res.body)
	}
}
