//go:build negativecontrol

package order

// The outbox_bypass negative control (internal/negativecontrol): with it,
// async POST /orders publishes the order-placed event inside the request,
// as a service without a transactional outbox would, so the chaos specs
// that credit the outbox with absorbing a Kafka outage must go red. This
// file exists only in binaries built with the negativecontrol tag; in any
// other build *Service has no bypassOutbox method and placeAsync never
// takes this path.

import (
	"context"
	"net/http"
	"time"

	"github.com/faultline-harness/faultline/internal/negativecontrol"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/web"
)

// bypassOutbox places o without the outbox when the outbox_bypass
// neutralisation is active and reports whether it answered the request;
// msg is its order-placed record, as placeAsync built it.
// The order is stored PENDING with no outbox row, its event is sent to
// Kafka within Config.PublishTimeout, and the answer is 202 once the
// broker acknowledged it; when the send fails the order becomes FAILED
// and the answer is 503 kafka_unavailable.
func (s *Service) bypassOutbox(w http.ResponseWriter, r *http.Request, o Order, msg events.Message) bool {
	if !negativecontrol.Active(negativecontrol.OutboxBypass) {
		return false
	}
	resp := response{status: http.StatusAccepted, body: jsonBody(o)}
	if _, err := s.store.create(r.Context(), o, "", resp, nil); err != nil {
		s.internalError(w, "store order", err)
		return true
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.PublishTimeout)
	defer cancel()
	if err := s.pub.SendBatch(ctx, []events.Message{msg})[0]; err != nil {
		_, _ = s.store.transition(context.WithoutCancel(r.Context()), o.ID, StatusFailed, "kafka_unavailable", time.Now())
		web.WriteError(w, http.StatusServiceUnavailable, "kafka_unavailable", "order "+o.ID+" failed: publish order-placed: "+err.Error())
		return true
	}
	writeResponse(w, o.ID, resp)
	return true
}
