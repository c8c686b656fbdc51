package mutants

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/services/events"
)

// Class says what a mutant must do to the contracts.
type Class string

const (
	// Breaking: a consumer would feel it; verification (or, for
	// LayerConsumer, the consumer test) must fail and name the mismatch.
	Breaking Class = "breaking"
	// Harmless: no consumer would feel it; verification must pass.
	Harmless Class = "harmless"
)

// Layer is where a mutant changes things (see the package doc).
type Layer string

// Layers.
const (
	LayerHTTP     Layer = "http"
	LayerMessage  Layer = "message"
	LayerWire     Layer = "wire"
	LayerConsumer Layer = "consumer code"
)

// Response is an HTTP answer as a LayerHTTP mutant sees it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Mutant is one deliberate change.
type Mutant struct {
	Name  string
	Class Class
	Layer Layer
	// Consumer and Provider name the pact the mutant is checked against.
	Consumer, Provider string
	// Interactions are the registered descriptions the mutant applies to.
	Interactions []string
	// Change says what changes, for people (the README table).
	Change string
	// Want is, for a breaking mutant, a substring of the failure output
	// that names the mismatch: a failure for another reason is not a catch.
	Want string

	// HTTP changes an answer (LayerHTTP).
	HTTP func(*Response) error
	// Record changes a Kafka record (LayerMessage, LayerWire).
	Record func(*events.Message) error
	// Source edits the consumer's code (LayerConsumer); ConsumerTest is
	// the `go test -run` pattern of the consumer test that must fail.
	Source       *SourceEdit
	ConsumerTest string
}

// All returns the catalogue, in the order of the README table. It returns
// a new slice on every call.
func All() []Mutant {
	inv, ord, notif := contracts.InventoryService, contracts.OrderService, contracts.NotificationService
	httpMutant := func(class Class, name, change, want string, f func(*Response) error, interactions ...string) Mutant {
		return Mutant{Name: name, Class: class, Layer: LayerHTTP, Consumer: ord, Provider: inv,
			Interactions: interactions, Change: change, Want: want, HTTP: f}
	}
	outcome := func(class Class, name, change, want string, f func(*events.Message) error, interactions ...string) Mutant {
		return Mutant{Name: name, Class: class, Layer: LayerMessage, Consumer: ord, Provider: inv,
			Interactions: interactions, Change: change, Want: want, Record: f}
	}
	placed := func(class Class, layer Layer, name, change, want string, f func(*events.Message) error) Mutant {
		return Mutant{Name: name, Class: class, Layer: layer, Consumer: inv, Provider: ord,
			Interactions: []string{contracts.DescOrderPlaced}, Change: change, Want: want, Record: f}
	}
	// notified: order-service's order-placed record as notification-service
	// (the second consumer, its own pact) receives it.
	notified := func(class Class, name, change, want string, f func(*events.Message) error) Mutant {
		return Mutant{Name: name, Class: class, Layer: LayerMessage, Consumer: notif, Provider: ord,
			Interactions: []string{contracts.DescOrderPlaced}, Change: change, Want: want, Record: f}
	}
	consumerCode := func(name, consumer, provider, change, want string, edit SourceEdit, test string, interactions ...string) Mutant {
		return Mutant{Name: name, Class: Breaking, Layer: LayerConsumer, Consumer: consumer, Provider: provider,
			Interactions: interactions, Change: change, Want: want, Source: &edit, ConsumerTest: test}
	}
	const (
		stockOK      = contracts.DescStockInStock
		stockUnknown = contracts.DescStockUnknownSKU
		reserve      = contracts.DescReserve
		short        = contracts.DescReserveInsufficient
		unknown      = contracts.DescReserveUnknownSKU
		repeated     = contracts.DescReserveRepeated
		reserved     = contracts.DescStockReserved
		rejShort     = contracts.DescStockRejectedShort
		rejUnknown   = contracts.DescStockRejectedUnknown
	)
	return []Mutant{
		// inventory-service's HTTP answers to order-service.
		httpMutant(Breaking, "stock-status-202", "GET /stock/{sku} answers 202 instead of 200",
			"expected 200 but was 202", status(200, 202), stockOK),
		httpMutant(Breaking, "reservation-status-202", "POST /reservations answers 202 instead of 201",
			"expected 201 but was 202", status(201, 202), reserve),
		httpMutant(Breaking, "insufficient-status-422", "insufficient stock answers 422 instead of 409",
			"expected 409 but was 422", status(409, 422), short),
		httpMutant(Breaking, "unknown-sku-status-400", "GET /stock of an unknown SKU answers 400 instead of 404",
			"expected 404 but was 400", status(404, 400), stockUnknown),
		httpMutant(Breaking, "stock-available-renamed", `GET /stock body: "available" renamed "qty"`,
			"missing the following keys: available", body(rename("available", "qty")), stockOK),
		httpMutant(Breaking, "stock-available-string", `GET /stock body: "available" is a string ("10")`,
			"$.available -> Expected '10' (String) to be an integer", body(numberToString("available")), stockOK),
		httpMutant(Breaking, "stock-sku-dropped", `GET /stock body: no "sku"`,
			"missing the following keys: sku", body(drop("sku")), stockOK),
		httpMutant(Breaking, "reservation-order-id-renamed", `201 body: "order_id" renamed "orderId"`,
			"missing the following keys: order_id", body(rename("order_id", "orderId")), reserve),
		httpMutant(Breaking, "reservation-quantity-string", `201 body: "quantity" is a string ("2")`,
			"$.quantity -> Expected '2' (String) to be an integer", body(numberToString("quantity")), reserve),
		httpMutant(Breaking, "reservation-status-literal", `201 body: "status" is "RESERVED", not "reserved"`,
			"Expected 'RESERVED' to match '^reserved$'", body(replaceString("status", "reserved", "RESERVED")), reserve),
		httpMutant(Breaking, "insufficient-code-renamed", `409 error code "out_of_stock" instead of "insufficient_stock"`,
			"Expected 'out_of_stock' to match '^insufficient_stock$'", body(in("error", replaceString("code", "insufficient_stock", "out_of_stock"))), short),
		httpMutant(Breaking, "unknown-sku-code-renamed", `404 error code "sku_not_found" instead of "unknown_sku"`,
			"Expected 'sku_not_found' to match '^unknown_sku$'", body(in("error", replaceString("code", "unknown_sku", "sku_not_found"))), unknown),
		httpMutant(Breaking, "error-body-flattened", `404 error body {"code","message"} instead of {"error":{"code","message"}}`,
			"missing the following keys: error", body(flatten("error")), stockUnknown),
		httpMutant(Breaking, "response-content-type-text", "GET /stock answers Content-Type text/plain; charset=utf-8",
			"Mismatch with header 'Content-Type': Expected 'text/plain; charset=utf-8' to match", header("Content-Type", "text/plain; charset=utf-8"), stockOK),
		httpMutant(Breaking, "repeated-reservation-409", "a repeated reservation answers 409 insufficient_stock (idempotency lost)",
			"expected 201 but was 409", idempotencyLost, repeated),

		// inventory-service's stock outcome records to order-service.
		outcome(Breaking, "reserved-type-renamed", `stock-reserved event: "type" is "stock_reserved"`,
			"Expected 'stock_reserved' (String) to be equal to 'stock-reserved' (String)", value(replaceString("type", "stock-reserved", "stock_reserved")), reserved),
		outcome(Breaking, "rejected-reason-renamed", `stock-rejected event: reason "out_of_stock" instead of "insufficient_stock"`,
			"Expected 'out_of_stock' (String) to be equal to 'insufficient_stock' (String)", value(replaceString("reason", "insufficient_stock", "out_of_stock")), rejShort),
		outcome(Breaking, "rejected-unknown-reason-renamed", `stock-rejected event: reason "sku_unknown" instead of "unknown_sku"`,
			"Expected 'sku_unknown' (String) to be equal to 'unknown_sku' (String)", value(replaceString("reason", "unknown_sku", "sku_unknown")), rejUnknown),
		outcome(Breaking, "rejected-reason-dropped", `stock-rejected event without "reason"`,
			"missing the following keys: reason", value(drop("reason")), rejShort),
		outcome(Breaking, "outcome-order-id-renamed", `stock-reserved event: "order_id" renamed "orderId"`,
			"missing the following keys: order_id", value(rename("order_id", "orderId")), reserved),
		outcome(Breaking, "outcome-quantity-string", `stock-reserved event: "quantity" is a string`,
			"$.quantity -> Expected '2' (String) to be an integer", value(numberToString("quantity")), reserved),
		outcome(Breaking, "outcome-key-event-id", "stock-reserved record keyed by the event ID, not the order ID",
			"Expected metadata key 'kafka_key' to have value '\"order-6\"' but was '\"stock-reserved:order-6\"'", keyFromEventID, reserved),
		outcome(Breaking, "outcome-topic-renamed", `stock-rejected record on topic "stock-rejected-v2"`,
			"Expected metadata key 'topic' to have value '\"stock-rejected\"' but was '\"stock-rejected-v2\"'", topic("stock-rejected", "stock-rejected-v2"), rejShort),
		outcome(Breaking, "outcome-content-type-text", "stock-reserved record with content-type text/plain",
			"Expected metadata key 'contentType' to have value '\"application/json\"' but was '\"text/plain\"'", contentType("text/plain"), reserved),

		// order-service's order-placed record to inventory-service.
		placed(Breaking, LayerMessage, "order-placed-type-renamed", `order-placed event: "type" is "OrderPlaced"`,
			"Expected 'OrderPlaced' (String) to be equal to 'order-placed' (String)", value(replaceString("type", "order-placed", "OrderPlaced"))),
		placed(Breaking, LayerMessage, "order-placed-sku-dropped", `order-placed event without "sku"`,
			"missing the following keys: sku", value(drop("sku"))),
		placed(Breaking, LayerMessage, "order-placed-quantity-string", `order-placed event: "quantity" is a string`,
			"$.quantity -> Expected '2' (String) to be an integer", value(numberToString("quantity"))),
		placed(Breaking, LayerMessage, "order-placed-time-unix", `order-placed event: "occurred_at" in Unix seconds, not RFC 3339`,
			"$.occurred_at -> Expected", value(unixSeconds("occurred_at"))),
		placed(Breaking, LayerMessage, "order-placed-order-id-renamed", `order-placed event: "order_id" renamed "orderId"`,
			"missing the following keys: order_id", value(rename("order_id", "orderId"))),
		placed(Breaking, LayerMessage, "order-placed-event-id-dropped", `order-placed event without "event_id"`,
			"missing the following keys: event_id", value(drop("event_id"))),
		placed(Breaking, LayerMessage, "order-placed-key-event-id", "order-placed record keyed by the event ID, not the order ID",
			"Expected metadata key 'kafka_key' to have value '\"order-5\"'", keyFromEventID),
		placed(Breaking, LayerMessage, "order-placed-topic-renamed", `order-placed record on topic "orders"`,
			"Expected metadata key 'topic' to have value '\"order-placed\"' but was '\"orders\"'", topic("order-placed", "orders")),
		placed(Breaking, LayerWire, "wire-content-type-text", "the producer sends order-placed with content-type text/plain (through Kafka)",
			"Expected metadata key 'contentType' to have value '\"application/json\"' but was '\"text/plain\"'", contentType("text/plain")),
		placed(Breaking, LayerWire, "wire-quantity-string", `the producer sends "quantity" as a string (through Kafka)`,
			"$.quantity -> Expected '2' (String) to be an integer", value(numberToString("quantity"))),

		// The consumers' own code reads a field under another name.
		consumerCode("consumer-stock-available-renamed", ord, inv, `order-service's InventoryClient reads the stock from "qty"`,
			// Hybrid mode reads 0 units and refuses the order at once.
			`has 0 available, 2 requested`,
			SourceEdit{File: "services/order/inventoryclient.go", Type: "Stock", Field: "Available", Tag: `json:"qty"`},
			SubtestPattern("TestOrderServiceInventoryHTTP", stockOK), stockOK),
		consumerCode("consumer-reservation-status-renamed", ord, inv, `order-service's InventoryClient reads the reservation status from "state"`,
			"Status:}, want",
			SourceEdit{File: "services/order/inventoryclient.go", Type: "Reservation", Field: "Status", Tag: `json:"state"`},
			SubtestPattern("TestOrderServiceInventoryHTTP", reserve), reserve),
		consumerCode("consumer-event-reason-renamed", ord, inv, `the event decoder reads the rejection reason from "rejection_reason"`,
			`(reason "rejected"), want REJECTED (reason "insufficient_stock")`,
			SourceEdit{File: "services/events/events.go", Type: "Event", Field: "Reason", Tag: `json:"rejection_reason,omitempty"`},
			SubtestPattern("TestOrderServiceConsumesStockOutcomes", rejShort), rejShort),
		consumerCode("consumer-event-order-id-renamed", inv, ord, `the event decoder reads the order ID from "orderId"`,
			"order_id is required",
			SourceEdit{File: "services/events/events.go", Type: "Event", Field: "OrderID", Tag: `json:"orderId"`},
			"^TestInventoryConsumesOrderPlaced$", contracts.DescOrderPlaced),

		// Harmless: a consumer must not feel these.
		httpMutant(Harmless, "stock-extra-field", `GET /stock body gains "warehouse":"main"`, "",
			body(add("warehouse", "main")), stockOK),
		httpMutant(Harmless, "stock-content-type-charset", "GET /stock answers Content-Type application/json; charset=utf-8", "",
			header("Content-Type", "application/json; charset=utf-8"), stockOK),
		httpMutant(Harmless, "reservation-fields-reordered", "201 body with its fields in reverse order", "",
			reformat(Format{Reverse: true}), reserve),
		httpMutant(Harmless, "error-body-reindented", "409 error body re-indented (4 spaces, one field a line)", "",
			reformat(Format{Indent: "    "}), short),
		httpMutant(Harmless, "reservation-extra-headers", "201 answer gains X-Request-Id and Cache-Control headers", "",
			extraHeaders, reserve),
		outcome(Harmless, "outcome-reindented", "stock-reserved event re-indented", "",
			value(nil, Format{Indent: "  "}), reserved),
		outcome(Harmless, "outcome-fields-reordered", "stock-rejected event with its fields in reverse order", "",
			value(nil, Format{Reverse: true}), rejUnknown),
		placed(Harmless, LayerMessage, "order-placed-extra-field", `order-placed event gains an optional "trace_id"`, "",
			value(add("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"))),
		placed(Harmless, LayerWire, "wire-reindented", "the producer sends order-placed re-indented (through Kafka)", "",
			value(nil, Format{Indent: "\t"})),

		// order-service's order-placed record to notification-service, the
		// second consumer: the fields it stores and the type it accepts.
		notified(Breaking, "notification-order-placed-type-renamed", `order-placed event to notification-service: "type" is "OrderPlaced"`,
			"Expected 'OrderPlaced' (String) to be equal to 'order-placed' (String)", value(replaceString("type", "order-placed", "OrderPlaced"))),
		notified(Breaking, "notification-order-placed-event-id-dropped", `order-placed event to notification-service without "event_id" (its idempotency witness)`,
			"missing the following keys: event_id", value(drop("event_id"))),
		notified(Breaking, "notification-order-placed-time-unix", `order-placed event to notification-service: "occurred_at" in Unix seconds`,
			"$.occurred_at -> Expected", value(unixSeconds("occurred_at"))),
		notified(Breaking, "notification-order-placed-sku-renamed", `order-placed event to notification-service: "sku" renamed "product"`,
			"missing the following keys: sku", value(rename("sku", "product"))),
		notified(Harmless, "notification-order-placed-extra-field", `order-placed event to notification-service gains an optional "trace_id"`, "",
			value(add("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"))),
	}
}

// SubtestPattern is the `go test -run` pattern of test's subtest named
// description.
func SubtestPattern(test, description string) string {
	return "^" + test + "$/^" + regexp.QuoteMeta(strings.ReplaceAll(description, " ", "_")) + "$"
}

// ByName returns the catalogue's mutant named name.
func ByName(name string) (Mutant, bool) {
	for _, m := range All() {
		if m.Name == name {
			return m, true
		}
	}
	return Mutant{}, false
}

// --- HTTP changes -----------------------------------------------------------

func status(from, to int) func(*Response) error {
	return func(r *Response) error {
		if r.Status != from {
			return fmt.Errorf("status %d, want %d to change", r.Status, from)
		}
		r.Status = to
		return nil
	}
}

func header(name, value string) func(*Response) error {
	return func(r *Response) error {
		r.Header.Set(name, value)
		return nil
	}
}

func extraHeaders(r *Response) error {
	r.Header.Set("X-Request-Id", "7f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6")
	r.Header.Set("Cache-Control", "no-store")
	return nil
}

// body decodes a JSON object body, changes it and encodes it compactly.
func body(change func(*Object) error) func(*Response) error {
	return func(r *Response) error {
		out, err := editObject(r.Body, change, Format{})
		if err != nil {
			return err
		}
		r.Body = out
		return nil
	}
}

// reformat re-encodes the body in format f without changing its data.
func reformat(f Format) func(*Response) error {
	return func(r *Response) error {
		out, err := editObject(r.Body, nil, f)
		if err != nil {
			return err
		}
		r.Body = out
		return nil
	}
}

// idempotencyLost answers a repeated reservation as a fresh one against
// an empty shelf would be answered: 409 insufficient_stock.
func idempotencyLost(r *Response) error {
	if r.Status != http.StatusCreated {
		return fmt.Errorf("status %d, want a 201 to replace", r.Status)
	}
	var res struct {
		OrderID string `json:"order_id"`
		SKU     string `json:"sku"`
	}
	if err := json.Unmarshal(r.Body, &res); err != nil {
		return err
	}
	answer := map[string]map[string]string{"error": {
		"code":    "insufficient_stock",
		"message": fmt.Sprintf("insufficient stock: sku %q has fewer than 2 units available", res.SKU),
	}}
	data, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	r.Status, r.Body = http.StatusConflict, data
	return nil
}

// --- record changes ---------------------------------------------------------

// value decodes the record's JSON object value, changes it (change may be
// nil) and encodes it in format f (compact when f is omitted).
func value(change func(*Object) error, f ...Format) func(*events.Message) error {
	format := Format{}
	if len(f) > 0 {
		format = f[0]
	}
	return func(m *events.Message) error {
		out, err := editObject(m.Value, change, format)
		if err != nil {
			return err
		}
		m.Value = out
		return nil
	}
}

func keyFromEventID(m *events.Message) error {
	var e struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(m.Value, &e); err != nil || e.EventID == "" {
		return fmt.Errorf("record value has no event_id (%v)", err)
	}
	m.Key = e.EventID
	return nil
}

func topic(from, to string) func(*events.Message) error {
	return func(m *events.Message) error {
		if m.Topic != from {
			return fmt.Errorf("topic %q, want %q to change", m.Topic, from)
		}
		m.Topic = to
		return nil
	}
}

func contentType(v string) func(*events.Message) error {
	return func(m *events.Message) error {
		hs := make([]events.Header, 0, len(m.Headers))
		found := false
		for _, h := range m.Headers {
			if strings.EqualFold(h.Key, events.HeaderContentType) {
				h.Value, found = v, true
			}
			hs = append(hs, h)
		}
		if !found {
			return fmt.Errorf("record has no %s header", events.HeaderContentType)
		}
		m.Headers = hs
		return nil
	}
}

// --- JSON object changes ----------------------------------------------------

func editObject(data []byte, change func(*Object) error, f Format) ([]byte, error) {
	doc, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("decode %q: %w", data, err)
	}
	obj, ok := doc.(*Object)
	if !ok {
		return nil, fmt.Errorf("%q is not a JSON object", data)
	}
	if change != nil {
		if err := change(obj); err != nil {
			return nil, err
		}
	}
	return Encode(obj, f)
}

func rename(from, to string) func(*Object) error {
	return func(o *Object) error { return o.Rename(from, to) }
}

func drop(name string) func(*Object) error {
	return func(o *Object) error { return o.Delete(name) }
}

func add(name string, v any) func(*Object) error {
	return func(o *Object) error {
		if _, ok := o.Get(name); ok {
			return fmt.Errorf("member %q exists already", name)
		}
		o.Set(name, v)
		return nil
	}
}

// numberToString turns number member name into a string of the same
// digits.
func numberToString(name string) func(*Object) error {
	return func(o *Object) error {
		v, ok := o.Get(name)
		n, isNumber := v.(json.Number)
		if !ok || !isNumber {
			return fmt.Errorf("member %q is %T, want a number", name, v)
		}
		o.Set(name, n.String())
		return nil
	}
}

// replaceString sets string member name, which must be from, to to.
func replaceString(name, from, to string) func(*Object) error {
	return func(o *Object) error {
		v, ok := o.Get(name)
		if !ok || v != from {
			return fmt.Errorf("member %q is %v, want %q to change", name, v, from)
		}
		o.Set(name, to)
		return nil
	}
}

// unixSeconds turns RFC 3339 time member name into a number of Unix
// seconds.
func unixSeconds(name string) func(*Object) error {
	return func(o *Object) error {
		v, _ := o.Get(name)
		s, _ := v.(string)
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("member %q: %w", name, err)
		}
		o.Set(name, json.Number(fmt.Sprint(ts.Unix())))
		return nil
	}
}

// in applies change to the object member name.
func in(name string, change func(*Object) error) func(*Object) error {
	return func(o *Object) error {
		v, _ := o.Get(name)
		inner, ok := v.(*Object)
		if !ok {
			return fmt.Errorf("member %q is %T, want an object", name, v)
		}
		return change(inner)
	}
}

// flatten replaces object member name by its own members.
func flatten(name string) func(*Object) error {
	return func(o *Object) error {
		v, _ := o.Get(name)
		inner, ok := v.(*Object)
		if !ok {
			return fmt.Errorf("member %q is %T, want an object", name, v)
		}
		if err := o.Delete(name); err != nil {
			return err
		}
		o.Members = append(o.Members, inner.Members...)
		return nil
	}
}
