package notification_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/notification"
)

func errCode(t testing.TB, body []byte) string {
	t.Helper()
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not an error body (err %v): %s", err, body)
	}
	return eb.Error.Code
}

func TestHTTPGetNotification(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 123_000_000, time.UTC)
	svc := newService(t, notification.Config{Now: func() time.Time { return now }})
	e := placedEvent("o-http")
	e.OccurredAt = now.Add(-time.Second)
	if err := svc.HandleOrderPlaced(context.Background(), record(t, e)); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, svc.Handler(), http.MethodGet, "/notifications/o-http")
	if code != http.StatusOK {
		t.Fatalf("GET /notifications/o-http = %d %s", code, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"order_id": "o-http", "sku": "SKU-1", "quantity": 2.0, "event_id": "placed:o-http", "channel": "email",
		"occurred_at": "2026-12-03T09:59:59.123Z", "created_at": "2026-12-03T10:00:00.123Z", "sends": 1.0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %s\nwant %v", body, want)
	}
}

func TestHTTPErrorsAreJSON(t *testing.T) {
	svc := newService(t, notification.Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/notifications/unknown", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/nope", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/notifications/x", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodDelete, "/stats", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		code, body := call(t, svc.Handler(), tc.method, tc.path)
		if code != tc.status || errCode(t, body) != tc.code {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, code, body, tc.status, tc.code)
		}
	}
}

// TestHTTPStatsAndHealth: /stats has every field the harness samples, also
// before the consumer ran (HTTP-only service: zeros), and counts what the
// handler recorded.
func TestHTTPStatsAndHealth(t *testing.T) {
	svc := newService(t, notification.Config{})
	ctx := context.Background()
	for _, id := range []string{"s-1", "s-2", "s-1"} {
		if err := svc.HandleOrderPlaced(ctx, record(t, placedEvent(id))); err != nil {
			t.Fatal(err)
		}
	}
	code, body := call(t, svc.Handler(), http.MethodGet, "/stats")
	var got map[string]int64
	if err := json.Unmarshal(body, &got); code != http.StatusOK || err != nil {
		t.Fatalf("GET /stats = %d %s (%v)", code, body, err)
	}
	want := map[string]int64{"notifications": 2, "sends": 2, "duplicated_effects": 0, "consumer_lag": 0, "handled": 0,
		"dead_lettered": 0, "redelivered": 1, "conflicting_events": 0, "handler_attempts": 0, "handler_errors_transient": 0,
		"handler_errors_permanent": 0, "dead_lettered_whole": 0, "dead_lettered_envelope": 0, "dead_letters_dropped": 0,
		"handler_errors_unclassified": 0, "dead_lettered_unclassified": 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats %v, want %v", got, want)
	}
	if code, body := call(t, svc.Handler(), http.MethodGet, "/healthz"); code != http.StatusOK || string(body) != "{\"status\":\"ok\"}\n" {
		t.Fatalf("GET /healthz = %d %q", code, body)
	}
}
