package mutants

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-harness/faultline/contracts"
	"github.com/faultline-harness/faultline/services/events"
)

var update = flag.Bool("update", false, "rewrite the mutants table in contracts/README.md")

// The floor: at least 25 breaking and 5 harmless mutants, every
// name unique, every target a registered interaction of the named pact,
// every breaking mutant naming the mismatch it must cause, and every layer
// holding what it needs.
func TestCatalogue(t *testing.T) {
	ms := All()
	var breaking, harmless int
	names := map[string]bool{}
	for _, m := range ms {
		if names[m.Name] {
			t.Errorf("mutant name %q used twice", m.Name)
		}
		names[m.Name] = true
		switch m.Class {
		case Breaking:
			breaking++
			if m.Want == "" {
				t.Errorf("%s: a breaking mutant must name the mismatch it causes (Want)", m.Name)
			}
		case Harmless:
			harmless++
			if m.Want != "" {
				t.Errorf("%s: a harmless mutant has nothing to want", m.Name)
			}
		default:
			t.Errorf("%s: class %q", m.Name, m.Class)
		}
		p, ok := contracts.Lookup(m.Consumer, m.Provider)
		if !ok {
			t.Errorf("%s: no pact %s -> %s in the registry", m.Name, m.Consumer, m.Provider)
			continue
		}
		if len(m.Interactions) == 0 {
			t.Errorf("%s: targets no interaction", m.Name)
		}
		for _, d := range m.Interactions {
			in, ok := p.Interaction(d)
			if !ok {
				t.Errorf("%s: interaction %q is not registered for %s -> %s", m.Name, d, m.Consumer, m.Provider)
				continue
			}
			wantKind := map[Layer]contracts.Kind{LayerHTTP: contracts.HTTP, LayerMessage: contracts.Message, LayerWire: contracts.Message}[m.Layer]
			if wantKind != "" && in.Kind != wantKind {
				t.Errorf("%s: layer %s on %q, a %s interaction", m.Name, m.Layer, d, in.Kind)
			}
		}
		switch m.Layer {
		case LayerHTTP:
			if m.HTTP == nil || m.Record != nil || m.Source != nil {
				t.Errorf("%s: an HTTP mutant changes answers, and only answers", m.Name)
			}
		case LayerMessage, LayerWire:
			if m.Record == nil || m.HTTP != nil || m.Source != nil {
				t.Errorf("%s: a %s mutant changes records, and only records", m.Name, m.Layer)
			}
			if m.Layer == LayerWire && m.Provider != contracts.OrderService {
				t.Errorf("%s: the wire check runs order-service's producer only", m.Name)
			}
		case LayerConsumer:
			if m.Source == nil || m.ConsumerTest == "" || m.Class != Breaking {
				t.Errorf("%s: a consumer-code mutant edits source, names its consumer test and is breaking", m.Name)
			}
		default:
			t.Errorf("%s: layer %q", m.Name, m.Layer)
		}
	}
	if breaking < 25 || harmless < 5 {
		t.Errorf("%d breaking and %d harmless mutants, want at least 25 and 5", breaking, harmless)
	}
	if _, ok := ByName(ms[0].Name); !ok {
		t.Errorf("ByName(%q) found nothing", ms[0].Name)
	}
}

// realAnswers are inventory-service answers as its handler writes them,
// keyed by the interaction they answer.
var realAnswers = map[string]Response{
	contracts.DescStockInStock:        {Status: 200, Body: []byte(`{"sku":"SKU-1","available":10}` + "\n")},
	contracts.DescStockUnknownSKU:     {Status: 404, Body: []byte(`{"error":{"code":"unknown_sku","message":"unknown sku: \"SKU-UNKNOWN\""}}` + "\n")},
	contracts.DescReserve:             {Status: 201, Body: []byte(`{"order_id":"order-1","sku":"SKU-1","quantity":2,"status":"reserved"}` + "\n")},
	contracts.DescReserveInsufficient: {Status: 409, Body: []byte(`{"error":{"code":"insufficient_stock","message":"insufficient stock"}}` + "\n")},
	contracts.DescReserveUnknownSKU:   {Status: 404, Body: []byte(`{"error":{"code":"unknown_sku","message":"unknown sku"}}` + "\n")},
	contracts.DescReserveRepeated:     {Status: 201, Body: []byte(`{"order_id":"order-4","sku":"SKU-1","quantity":2,"status":"reserved"}` + "\n")},
}

// realRecords are records as events.Record builds them, keyed by the
// interaction they carry.
func realRecords(t *testing.T) map[string]events.Message {
	t.Helper()
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	build := func(e events.Event) events.Message {
		m, err := events.Record(e)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	return map[string]events.Message{
		contracts.DescOrderPlaced: build(events.Event{EventID: "5f0c3a52", Type: events.OrderPlaced, OrderID: "order-5", SKU: "SKU-1", Quantity: 2, OccurredAt: at}),
		contracts.DescStockReserved: build(events.Event{EventID: "stock-reserved:order-6", Type: events.StockReserved,
			OrderID: "order-6", SKU: "SKU-1", Quantity: 2, OccurredAt: at}),
		contracts.DescStockRejectedShort: build(events.Event{EventID: "stock-rejected:order-7", Type: events.StockRejected,
			OrderID: "order-7", SKU: "SKU-1", Quantity: 2, OccurredAt: at, Reason: "insufficient_stock"}),
		contracts.DescStockRejectedUnknown: build(events.Event{EventID: "stock-rejected:order-8", Type: events.StockRejected,
			OrderID: "order-8", SKU: "SKU-UNKNOWN", Quantity: 2, OccurredAt: at, Reason: "unknown_sku"}),
	}
}

// Every mutant applies to the real shape of its target and changes it
// semantically: a breaking one changes what a JSON reader sees (status,
// header, topic, key or data), a harmless body change keeps the data (the
// bytes differ, the document is Equal) or only adds to it. None is a byte
// replacement: the untouched members survive with their values.
func TestMutantsApplyToRealShapes(t *testing.T) {
	records := realRecords(t)
	for _, m := range All() {
		t.Run(m.Name, func(t *testing.T) {
			for _, d := range m.Interactions {
				switch m.Layer {
				case LayerHTTP:
					orig := realAnswers[d]
					res := &Response{Status: orig.Status, Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.Clone(orig.Body)}
					if err := m.HTTP(res); err != nil {
						t.Fatalf("%q: %v", d, err)
					}
					changedStatus := res.Status != orig.Status
					changedHeader := res.Header.Get("Content-Type") != "application/json" || len(res.Header) != 1
					checkBody(t, m, orig.Body, res.Body, changedStatus || changedHeader)
				case LayerMessage, LayerWire:
					orig := records[d]
					got, err := m.ApplyRecord(orig)
					if err != nil {
						t.Fatalf("%q: %v", d, err)
					}
					if got.Topic == "" || got.Key == "" {
						t.Fatalf("%q: mutant emptied the topic or key: %+v", d, got)
					}
					changedMeta := got.Topic != orig.Topic || got.Key != orig.Key || got.Header(events.HeaderContentType) != orig.Header(events.HeaderContentType)
					checkBody(t, m, orig.Value, got.Value, changedMeta)
					if string(records[d].Value) != string(orig.Value) {
						t.Fatalf("ApplyRecord changed its input")
					}
				case LayerConsumer:
					src, err := os.ReadFile(filepath.Join("..", "..", m.Source.File))
					if err != nil {
						t.Fatal(err)
					}
					out, err := m.Source.Apply(src)
					if err != nil {
						t.Fatal(err)
					}
					if diff := changedLines(string(src), string(out)); len(diff) != 1 || !strings.Contains(diff[0], m.Source.Tag) {
						t.Fatalf("the edit changed %d lines, want the one field's tag: %q", len(diff), diff)
					}
				}
			}
		})
	}
}

func checkBody(t *testing.T, m Mutant, orig, got []byte, changedElsewhere bool) {
	t.Helper()
	a, err := Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(got)
	if err != nil {
		t.Fatalf("mutated body is not JSON: %v: %s", err, got)
	}
	same := Equal(a, b)
	switch {
	case m.Class == Breaking && same && !changedElsewhere:
		t.Fatalf("breaking mutant changed nothing a JSON reader sees: %s -> %s", orig, got)
	case m.Class == Harmless && !same && !addsOnly(a, b):
		t.Fatalf("harmless mutant changed the data: %s -> %s", orig, got)
	case m.Class == Harmless && changedElsewhere && !strings.Contains(m.Change, "Content-Type") && !strings.Contains(m.Change, "header"):
		t.Fatalf("harmless mutant changed status, topic, key or content type")
	}
	// Members the mutant did not touch keep their values.
	if ao, ok := a.(*Object); ok {
		bo, _ := b.(*Object)
		kept := 0
		for _, mem := range ao.Members {
			if v, ok := bo.Get(mem.Name); ok && Equal(v, mem.Value) {
				kept++
			}
		}
		// Two mutants replace a whole body on purpose: the flattened error
		// body and the answer of a provider that lost idempotency.
		if kept < len(ao.Members)-1 && m.Name != "error-body-flattened" && m.Name != "repeated-reservation-409" {
			t.Fatalf("the mutant changed %d members, want at most one: %s -> %s", len(ao.Members)-kept, orig, got)
		}
	}
}

// addsOnly reports whether b is a with extra members at the top level.
func addsOnly(a, b Doc) bool {
	ao, ok1 := a.(*Object)
	bo, ok2 := b.(*Object)
	if !ok1 || !ok2 || len(bo.Members) <= len(ao.Members) {
		return false
	}
	for _, m := range ao.Members {
		if v, ok := bo.Get(m.Name); !ok || !Equal(v, m.Value) {
			return false
		}
	}
	return true
}

func changedLines(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, y)
		}
	}
	return out
}

func TestDocRoundTrip(t *testing.T) {
	in := `{"b":1,"a":{"y":[1,2.50,"x",null,true],"x":{}},"c":[]}`
	doc, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := Encode(doc, Format{}); string(out) != in {
		t.Errorf("compact round trip = %s, want %s", out, in)
	}
	rev, _ := Encode(doc, Format{Reverse: true})
	if string(rev) != `{"c":[],"a":{"x":{},"y":[1,2.50,"x",null,true]},"b":1}` {
		t.Errorf("reversed = %s", rev)
	}
	ind, _ := Encode(doc, Format{Indent: "  "})
	if !strings.Contains(string(ind), "\n  \"b\": 1,\n") || !json.Valid(ind) {
		t.Errorf("indented = %s", ind)
	}
	for _, f := range []Format{{Reverse: true}, {Indent: "\t"}} {
		again, _ := Encode(doc, f)
		d2, err := Parse(again)
		if err != nil || !Equal(doc, d2) {
			t.Errorf("format %+v changed the data: %s (%v)", f, again, err)
		}
	}
	for _, bad := range []string{`{"a":1} x`, `{"a":`, `[1,]`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) = nil error", bad)
		}
	}
	obj := doc.(*Object)
	if err := obj.Rename("zz", "y"); err == nil {
		t.Error("Rename of a missing member succeeded")
	}
	if err := obj.Delete("zz"); err == nil {
		t.Error("Delete of a missing member succeeded")
	}
}

func TestSynthesize(t *testing.T) {
	pact := `{"consumer":{"name":"order-service"},"provider":{"name":"inventory-service"},"interactions":[
	  {"description":"a stock query for a SKU in stock","providerStates":[{"name":"SKU-1 has 10 in stock"}],"type":"Synchronous/HTTP"},
	  {"description":"a stock-reserved event","providerStates":[{"name":"SKU-1 has 10 in stock"}],"type":"Asynchronous/Messages"}],
	  "metadata":{"pactSpecification":{"version":"4.0"}}}`
	stockStatus, _ := ByName("stock-status-202")
	reservedType, _ := ByName("reserved-type-renamed")
	wire, _ := ByName("wire-content-type-text")
	out, copies, err := Synthesize([]byte(pact), []Mutant{stockStatus, reservedType, wire})
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 2 || copies[0].Mutant != "stock-status-202" || copies[1].Description != Description(contracts.DescStockReserved, "reserved-type-renamed") {
		t.Fatalf("copies = %+v", copies)
	}
	var doc struct {
		Interactions []struct {
			Description    string `json:"description"`
			ProviderStates []struct {
				Name string `json:"name"`
			} `json:"providerStates"`
		} `json:"interactions"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Interactions) != 4 {
		t.Fatalf("%d interactions, want the 2 controls and 2 copies", len(doc.Interactions))
	}
	c := doc.Interactions[2]
	if c.Description != "a stock query for a SKU in stock [mutant stock-status-202]" || len(c.ProviderStates) != 2 ||
		c.ProviderStates[0].Name != "SKU-1 has 10 in stock" || c.ProviderStates[1].Name != "mutant: stock-status-202" {
		t.Fatalf("copy = %+v", c)
	}
	if len(doc.Interactions[0].ProviderStates) != 1 {
		t.Fatalf("the control was changed: %+v", doc.Interactions[0])
	}
	missing, _ := ByName("insufficient-status-422")
	if _, _, err := Synthesize([]byte(pact), []Mutant{missing}); err == nil || !strings.Contains(err.Error(), "no interaction") {
		t.Fatalf("a mutant of a missing interaction: err = %v", err)
	}
}

func TestFailures(t *testing.T) {
	out := "noise\nFailures:\n\n" +
		"1) Verifying a pact between order-service and inventory-service Given SKU-1 has 10 in stock And mutant: stock-status-202 - a stock query for a SKU in stock [mutant stock-status-202]\n" +
		"    1.1) has status code 200\n           expected 200 but was 202\n" +
		"2) Verifying a pact between order-service and inventory-service Given SKU-1 has 10 in stock - a stock-reserved event\n" +
		"    2.1) has a matching body\n           $ -> Actual map is missing the following keys: sku\n" +
		"\nThere were 2 pact failures\n--- FAIL: TestX\n1) Verifying a pact between a and b - not a failure\n"
	fs := Failures(out)
	if len(fs) != 2 {
		t.Fatalf("got %d failures, want 2: %+v", len(fs), fs)
	}
	f, ok := FailureOf(fs, "a stock query for a SKU in stock [mutant stock-status-202]")
	if !ok || !strings.Contains(f.Text, "expected 200 but was 202") {
		t.Fatalf("FailureOf = %+v, %v", f, ok)
	}
	if _, ok := FailureOf(fs, "a stock query for a SKU in stock"); ok {
		t.Fatal("the control matched its copy's failure")
	}
	if _, ok := FailureOf(fs, "not a failure"); ok {
		t.Fatal("a line after the summary was read as a failure")
	}
}

// The switch applies only the mutant a provider state switched on, and
// only until its teardown; answers pass through untouched otherwise.
func TestSwitch(t *testing.T) {
	sw := NewSwitch(All())
	h := sw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"sku":"SKU-1","available":10}`))
	}))
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stock/SKU-1", nil))
		return rec
	}
	if rec := get(); rec.Code != 200 || rec.Body.String() != `{"sku":"SKU-1","available":10}` {
		t.Fatalf("no mutant: %d %s", rec.Code, rec.Body)
	}
	if ok, err := sw.SetState("SKU-1 has 10 in stock", true); ok || err != nil {
		t.Fatalf("SetState of a real state = %v, %v; want false, nil", ok, err)
	}
	if ok, err := sw.SetState(State("no-such-mutant"), true); !ok || err == nil {
		t.Fatalf("SetState of an unknown mutant = %v, %v; want true and an error", ok, err)
	}
	if _, err := sw.SetState(State("stock-available-renamed"), true); err != nil {
		t.Fatal(err)
	}
	if rec := get(); rec.Code != 200 || rec.Body.String() != `{"sku":"SKU-1","qty":10}` {
		t.Fatalf("stock-available-renamed: %d %s", rec.Code, rec.Body)
	}
	if _, err := sw.SetState(State("stock-status-202"), true); err != nil {
		t.Fatal(err)
	}
	if rec := get(); rec.Code != 202 || rec.Header().Get("Content-Length") != "30" {
		t.Fatalf("stock-status-202: %d %v", rec.Code, rec.Header())
	}
	if _, err := sw.SetState(State("reservation-status-202"), true); err != nil {
		t.Fatal(err)
	}
	if rec := get(); rec.Code != 500 || len(sw.Errors()) != 1 {
		t.Fatalf("a mutant that does not apply: %d, errors %v; want 500 and one error", rec.Code, sw.Errors())
	}
	_, _ = sw.SetState(State("reservation-status-202"), false)
	if rec := get(); rec.Code != 200 {
		t.Fatalf("after teardown: %d", rec.Code)
	}
	rec := realRecords(t)[contracts.DescOrderPlaced]
	if got, err := sw.Record(rec); err != nil || string(got.Value) != string(rec.Value) {
		t.Fatalf("Record with no mutant on changed the record: %v", err)
	}
	_, _ = sw.SetState(State("order-placed-sku-dropped"), true)
	got, err := sw.Record(rec)
	if err != nil || strings.Contains(string(got.Value), `"sku"`) {
		t.Fatalf("order-placed-sku-dropped: %s, %v", got.Value, err)
	}
	applied := sw.Applied()
	if applied["stock-available-renamed"] != 1 || applied["stock-status-202"] != 1 || applied["order-placed-sku-dropped"] != 1 {
		t.Fatalf("Applied = %v", applied)
	}
	sw.Off()

	// Handlers run on the verifier's goroutines.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				_, _ = sw.SetState(State("stock-sku-dropped"), i%4 == 0)
			}
			get()
			_, _ = sw.Record(rec)
		})
	}
	wg.Wait()
}

// contracts/README.md lists exactly the catalogue.
func TestREADMETable(t *testing.T) {
	path := filepath.Join("..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	begin, end := strings.Index(s, TableBegin), strings.Index(s, TableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no mutants table between %q and %q", path, TableBegin, TableEnd)
	}
	want := s[:begin] + TableBegin + "\n\n" + Table(All()) + "\n" + s[end:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Fatalf("the mutants table in %s is out of date: run go test ./contracts/mutants -run TestREADMETable -update", path)
	}
	if n := strings.Count(s[begin:end], "\n| "); n != len(All())+2 { // + header and rule
		t.Fatalf("table has %d rows, want %d", n-2, len(All()))
	}
}
