// Package contracts is the registry of the project's Pact contracts: which
// service consumes what from which, every interaction's description and
// provider states, and the example data the provider states set up.
//
// The registry holds names, never the provider's values: the status codes,
// fields, event types, reasons, topics and content types a consumer depends
// on are literals in its consumer test (contracts/consumer), so a change on
// the provider side cannot change the consumer's pact along with it.
//
// Consumer tests (contracts/consumer) take every description and provider
// state from here, provider tests (contracts/provider) register a state
// handler for every state listed here, and the lint (contracts/pactlint)
// fails on a pact file holding an interaction this registry does not list
// (a stale interaction left behind by a renamed or deleted test). So this
// file is the one place to read what the contracts cover.
//
// The pact tests themselves carry the build tag `pact` (they need cgo and
// libpact_ffi); this package is plain Go.
package contracts

import "slices"

// Pacticipant names, as they appear in pact files and on the Pact Broker.
const (
	OrderService     = "order-service"
	InventoryService = "inventory-service"
	// NotificationService is the second consumer of order-placed
	// (services/notification): its own pact with order-service.
	NotificationService = "notification-service"
)

// Kind is an interaction's type, spelled as in a V4 pact file's "type".
type Kind string

// Interaction kinds.
const (
	HTTP    Kind = "Synchronous/HTTP"
	Message Kind = "Asynchronous/Messages"
)

// Example data shared by the consumer tests (what they send and expect)
// and the provider states (what they set up): test data named in the
// provider states, not values of the provider's code. Each interaction uses its own order
// ID, so provider states never interfere with each other in the one
// provider database a verification run uses.
const (
	SKU        = "SKU-1"       // a SKU in the catalog
	UnknownSKU = "SKU-UNKNOWN" // a SKU in no catalog
	InStock    = 10            // units of SKU in StateInStock
	Quantity   = 2             // units every example order asks for

	OrderReserved     = "order-1" // HTTP: reservation made
	OrderInsufficient = "order-2" // HTTP: reservation refused, 409
	OrderUnknownSKU   = "order-3" // HTTP: reservation of UnknownSKU, 404
	OrderRepeated     = "order-4" // HTTP: reservation sent again
	OrderPlaced       = "order-5" // message: order-placed
	OrderStockOK      = "order-6" // message: stock-reserved
	OrderStockShort   = "order-7" // message: stock-rejected, insufficient_stock
	OrderStockUnknown = "order-8" // message: stock-rejected, unknown_sku
)

// Provider states. A state names a data precondition on the provider; the
// provider tests set it up through the real stores.
const (
	// inventory-service: SKU has InStock units (Store.SetStock).
	StateInStock = "SKU-1 has 10 in stock"
	// inventory-service: SKU has no units left (Store.SetStock).
	StateOutOfStock = "SKU-1 has 0 in stock"
	// inventory-service: UnknownSKU is not in the catalog.
	StateNoUnknownSKU = "no SKU named SKU-UNKNOWN"
	// inventory-service: OrderRepeated already reserved Quantity x SKU
	// (Store.SetStock to exactly Quantity, then Store.Reserve, so the stock
	// is now 0 and only the stored outcome can answer 201).
	StateReservationMade = "reservation order-4 already made"
	// order-service: OrderPlaced is stored PENDING, for Quantity x SKU,
	// with its order-placed record in the outbox (order.Store.PlaceAsync).
	StateOrderPlaced = "order order-5 for 2 x SKU-1 placed"
)

// Interaction descriptions: the key of every interaction in a pact file
// and of every provider message handler.
const (
	// order-service -> inventory-service, HTTP.
	DescStockInStock        = "a stock query for a SKU in stock"
	DescStockUnknownSKU     = "a stock query for an unknown SKU"
	DescReserve             = "a reservation request with enough stock"
	DescReserveInsufficient = "a reservation request with insufficient stock"
	DescReserveUnknownSKU   = "a reservation request for an unknown SKU"
	DescReserveRepeated     = "a repeated reservation request for the same order"
	// inventory-service -> order-service, messages (topic stock-reserved
	// and stock-rejected).
	DescStockReserved        = "a stock-reserved event"
	DescStockRejectedShort   = "a stock-rejected event for insufficient stock"
	DescStockRejectedUnknown = "a stock-rejected event for an unknown SKU"
	// order-service -> inventory-service and -> notification-service,
	// message (topic order-placed): one description, two pacts, each
	// stating what its consumer depends on.
	DescOrderPlaced = "an order-placed event"
)

// Message metadata keys. Every message interaction's metadata carries all
// three; the provider returns them from the real Kafka record (see
// RecordMetadata).
const (
	MetaContentType = "contentType" // the record's content-type header: application/json
	MetaTopic       = "topic"       // the Kafka topic
	MetaKey         = "kafka_key"   // the record key: the order ID
)

// Interaction is one interaction of a pact: its description, provider
// states and kind. What the interaction carries (paths, status codes,
// fields, topics, literals) is stated by its consumer test, as a separately
// deployed consumer would state it, never taken from the provider's code.
type Interaction struct {
	Description string
	States      []string
	Kind        Kind
}

// Pact is the contract between one consumer and one provider.
type Pact struct {
	Consumer, Provider string
	Interactions       []Interaction
}

// File is the name pact-go gives the pact file: consumer-provider.json.
func (p Pact) File() string { return p.Consumer + "-" + p.Provider + ".json" }

// States returns the distinct provider states of p's interactions, sorted.
func (p Pact) States() []string {
	var out []string
	for _, in := range p.Interactions {
		out = append(out, in.States...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Interaction returns p's interaction with the given description.
func (p Pact) Interaction(description string) (Interaction, bool) {
	for _, in := range p.Interactions {
		if in.Description == description {
			return in, true
		}
	}
	return Interaction{}, false
}

// Pacts returns every pact the consumer tests write, one per
// consumer-provider pair (the HTTP and the message interactions of
// order-service -> inventory-service share one V4 pact file). It returns a
// new slice on every call.
func Pacts() []Pact {
	return []Pact{
		{
			Consumer: OrderService, Provider: InventoryService,
			Interactions: []Interaction{
				{Description: DescStockInStock, States: []string{StateInStock}, Kind: HTTP},
				{Description: DescStockUnknownSKU, States: []string{StateNoUnknownSKU}, Kind: HTTP},
				{Description: DescReserve, States: []string{StateInStock}, Kind: HTTP},
				{Description: DescReserveInsufficient, States: []string{StateOutOfStock}, Kind: HTTP},
				{Description: DescReserveUnknownSKU, States: []string{StateNoUnknownSKU}, Kind: HTTP},
				{Description: DescReserveRepeated, States: []string{StateReservationMade}, Kind: HTTP},
				{Description: DescStockReserved, States: []string{StateInStock}, Kind: Message},
				{Description: DescStockRejectedShort, States: []string{StateOutOfStock}, Kind: Message},
				{Description: DescStockRejectedUnknown, States: []string{StateNoUnknownSKU}, Kind: Message},
			},
		},
		{
			Consumer: InventoryService, Provider: OrderService,
			Interactions: []Interaction{
				{Description: DescOrderPlaced, States: []string{StateOrderPlaced}, Kind: Message},
			},
		},
		{
			Consumer: NotificationService, Provider: OrderService,
			Interactions: []Interaction{
				{Description: DescOrderPlaced, States: []string{StateOrderPlaced}, Kind: Message},
			},
		},
	}
}

// Lookup returns the pact between consumer and provider.
func Lookup(consumer, provider string) (Pact, bool) {
	for _, p := range Pacts() {
		if p.Consumer == consumer && p.Provider == provider {
			return p, true
		}
	}
	return Pact{}, false
}

// ForProvider returns the pacts whose provider is name.
func ForProvider(name string) []Pact {
	var out []Pact
	for _, p := range Pacts() {
		if p.Provider == name {
			out = append(out, p)
		}
	}
	return out
}

// ConsumerVersionSelectors select the pacts a provider verifies on a Pact
// Broker (https://docs.pact.io/selectors): the consumers' main branches,
// the consumer branch matching the provider's branch, and every consumer
// version deployed or released to an environment. The provider tests and
// the lint of fetched pacts (pactlint -broker) use the same list. It
// returns a new slice on every call.
func ConsumerVersionSelectors() []map[string]any {
	return []map[string]any{{"mainBranch": true}, {"matchingBranch": true}, {"deployedOrReleased": true}}
}
