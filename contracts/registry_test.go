package contracts

import (
	"slices"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/services/events"
)

func TestRegistryIsConsistent(t *testing.T) {
	files := map[string]bool{}
	for _, p := range Pacts() {
		if p.Consumer == p.Provider || p.Consumer == "" || p.Provider == "" {
			t.Errorf("pact %q -> %q: want two different named pacticipants", p.Consumer, p.Provider)
		}
		if files[p.File()] {
			t.Errorf("two pacts write %s", p.File())
		}
		files[p.File()] = true
		descriptions := map[string]bool{}
		for _, in := range p.Interactions {
			if descriptions[in.Description] {
				t.Errorf("%s: description %q used twice", p.File(), in.Description)
			}
			descriptions[in.Description] = true
			if len(in.States) == 0 {
				t.Errorf("%s: %q has no provider state", p.File(), in.Description)
			}
			if in.Kind != HTTP && in.Kind != Message {
				t.Errorf("%s: %q has kind %q", p.File(), in.Description, in.Kind)
			}
		}
	}
	if got := len(ForProvider(InventoryService)); got != 1 {
		t.Errorf("ForProvider(%s) returned %d pacts, want 1", InventoryService, got)
	}
	if _, ok := Lookup(OrderService, InventoryService); !ok {
		t.Errorf("Lookup(%s, %s) found nothing", OrderService, InventoryService)
	}
	if got := (Pact{Consumer: "a", Provider: "b", Interactions: []Interaction{{States: []string{"y", "x"}}, {States: []string{"x"}}}}).States(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("States() = %q, want [x y]", got)
	}
}

// The metadata a consumer expects is what a provider returns for the real
// record of the same event, and a consumer turns it back into that record.
func TestMetadataRoundTrip(t *testing.T) {
	rec, err := events.Record(events.Event{EventID: "e-1", Type: events.StockReserved, OrderID: OrderStockOK, SKU: SKU, Quantity: Quantity, OccurredAt: mustTime(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{MetaContentType: "application/json", MetaTopic: "stock-reserved", MetaKey: OrderStockOK}
	got := RecordMetadata(rec)
	if len(got) != len(want) {
		t.Fatalf("RecordMetadata = %v, want the keys of %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("RecordMetadata[%s] = %v, want %q", k, got[k], v)
		}
	}
	back := ConsumedRecord(want, rec.Value)
	if back.Topic != rec.Topic || back.Key != rec.Key || string(back.Value) != string(rec.Value) || back.Header(events.HeaderContentType) != events.ContentType {
		t.Errorf("ConsumedRecord = %+v, want topic, key, value and content type of %+v", back, rec)
	}
	if md := RecordMetadata(events.Message{Topic: "t", Key: "k"}); md[MetaContentType] != "" {
		t.Errorf("a record without content-type header gave contentType %v, want empty", md[MetaContentType])
	}
}

func mustTime(t *testing.T) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, "2026-11-29T10:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
