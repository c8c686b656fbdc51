package scenario

import (
	"math"
	"time"
)

// RetryTail is how long after the fault window the engine keeps counting
// inventory-side requests for the sync placements sent during it: longer
// than any retry chain of the retry scenarios (3 attempts of 500 ms and
// two backoffs of at most 500 ms = 2.5 s).
const RetryTail = 3 * time.Second

// InventoryLoad is the inventory-side cost of the sync placements sent
// during the fault: POST /reservations that inventory-service received
// (its GET /stats reservation_requests, the source of truth) per client
// request. Retries raise it above 1; a retry budget caps it.
//
// InventoryRequests = requests received from the fault's start to
// RetryTail after its end, minus one per sync placement sent during that
// tail (inventory is healthy again: one request each). Counts come from
// the /stats samples nearest those times (4 a second), so the figure is
// good to about ±0.2 at 10 req/s.
type InventoryLoad struct {
	ClientRequests    int     `json:"client_requests"`
	InventoryRequests int64   `json:"inventory_requests"`
	PerClientRequest  float64 `json:"per_client_request"`
	// FromSeconds, ToSeconds: the sample times the counts were taken at.
	FromSeconds float64 `json:"from_seconds"`
	ToSeconds   float64 `json:"to_seconds"`
}

// inventoryLoad computes InventoryLoad from the sync samples and the sync
// /stats series; nil when the series does not reach RetryTail past the
// fault or no placement was sent during it.
func inventoryLoad(samples []sample, series []StatsSample, sch Schedule) *InventoryLoad {
	from, to := sch.FaultStart, sch.FaultEnd+RetryTail.Seconds()
	var before, after *StatsSample
	for i := range series {
		s := &series[i]
		if s.InventoryErr != "" || s.OrderErr != "" {
			continue
		}
		if s.At <= from {
			before = s
		}
		if s.At >= to && after == nil {
			after = s
		}
	}
	if before == nil || after == nil {
		return nil
	}
	var inFault, inTail int
	for _, s := range samples {
		at := s.sentAt.Seconds()
		switch {
		case at >= sch.FaultStart && at < sch.FaultEnd:
			inFault++
		case at >= sch.FaultEnd && at < after.At:
			inTail++
		}
	}
	if inFault == 0 {
		return nil
	}
	n := after.InventoryRequests - before.InventoryRequests - int64(inTail)
	return &InventoryLoad{
		ClientRequests: inFault, InventoryRequests: n,
		PerClientRequest: math.Round(float64(n)/float64(inFault)*100) / 100,
		FromSeconds:      before.At, ToSeconds: after.At,
	}
}
