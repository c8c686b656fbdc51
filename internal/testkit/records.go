package testkit

import (
	"context"
	"slices"
	"sync"

	"github.com/faultline-harness/faultline/services/events"
)

// Records keeps every record given to it, in order: a publisher (Send,
// as a messaging.Sender or a service's Publisher) and a consumer handler
// (Handle) that always succeed. The zero value is ready; safe for
// concurrent use.
type Records struct {
	mu   sync.Mutex
	msgs []events.Message
}

// Send keeps m and returns nil.
func (r *Records) Send(_ context.Context, m events.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// Handle keeps m and returns nil (a messaging.Handler).
func (r *Records) Handle(ctx context.Context, m events.Message) error { return r.Send(ctx, m) }

// All returns a copy of the records kept so far, in the order given.
func (r *Records) All() []events.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// Last returns the last record kept with key, and false when none has
// that key.
func (r *Records) Last(key string) (events.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if r.msgs[i].Key == key {
			return r.msgs[i], true
		}
	}
	return events.Message{}, false
}
