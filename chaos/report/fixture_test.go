package report

import (
	"time"

	"github.com/faultline-harness/faultline/chaos/lag"
	"github.com/faultline-harness/faultline/chaos/scenario"
)

// fixture is a synthetic inventory-down run: 20 s at 20 req/s per mode,
// fault from 5 to 13 s; sync answers 503 during the fault, async keeps
// accepting while its backlog grows, then drains by 14.5 s.
type fixture struct {
	syncRecoveryP99 float64 // sync p99 in the recovery phase
	asyncLost       int
	finalBacklog    int // pending orders in the last (settled) sample
	baselineOK      float64
	faultNotSeen    bool    // the step's evidence says the fault did not take effect
	windowAfterP99  float64 // async consistency window p99 in the recovery phase, ms
	asyncParked     int     // outbox rows parked (their orders FAILED: final, not lost)
	asyncDeadLetter int64   // records dead-lettered on the async path
}

func defaultFixture() fixture {
	return fixture{syncRecoveryP99: 12, baselineOK: 1, windowAfterP99: 900}
}

func (f fixture) result() *scenario.Result {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	res := &scenario.Result{
		Scenario: "inventory-down", Description: "inventory unreachable (fixture)", Lane: "embedded",
		StartedAt: start, Rate: 20, Modes: map[string]*scenario.ModeResult{},
		Schedule: scenario.Schedule{
			DurationSeconds: 20, FaultStart: 5.01, FaultEnd: 13.02, PlannedFaultStart: 5, PlannedFaultEnd: 13,
			FaultStartedAt: at(5.01), FaultEndedAt: at(13.02), LoadEndedAt: at(20.1), SettleSeconds: 0.4,
			Steps: []scenario.Step{{
				Index: 0, Fault: scenario.Down("inventory-http", "inventory-kafka"), PlannedStart: 5, PlannedEnd: 13,
				Proxies: []string{"inventory-http", "inventory-kafka"}, AppliedAt: at(5.01), RemovedAt: at(13.02),
				Evidence: []scenario.Evidence{
					{Hop: "inventory-http", Listed: "disabled", Probe: "TCP connect to 127.0.0.1:40001", Observed: "connection refused after 300µs", TookEffect: !f.faultNotSeen},
					{Hop: "inventory-kafka", Listed: "disabled", Probe: "TCP connect to 127.0.0.1:40002", Observed: "connection refused after 200µs", TookEffect: true},
				},
			}},
		},
		Actions: []scenario.Action{{Fault: scenario.Down("inventory-http", "inventory-kafka")}},
		Load:    scenario.LoadSettings{DurationSeconds: 20, RatePerMode: 20, Seed: 42, Jitter: 0.2},
	}
	// Consumer lag at the broker, 1 a second: inventory's group falls
	// behind while cut off, the broker is unknown once, then it drains.
	res.ConsumerLag = &scenario.ConsumerLag{
		Source:     scenario.LagSource,
		Groups:     map[string][]string{"inventory-service-run": {"order-placed"}, "order-service-run": {"stock-reserved", "stock-rejected"}},
		Labels:     map[string]string{"inventory-service-run": "inventory-service", "order-service-run": "order-service"},
		ModeGroups: map[string][]string{scenario.ModeAsync: {"inventory-service-run", "order-service-run"}},
	}
	for t := 0; t <= 20; t++ {
		inv := int64(0)
		if t >= 5 && t < 15 {
			inv = int64(min(t, 13)-5) * 20
		}
		if t == 7 {
			inv = -1
		}
		res.ConsumerLag.Samples = append(res.ConsumerLag.Samples, scenario.LagSample{At: float64(t), Groups: []lag.Group{
			{Group: "inventory-service-run", Lag: inv, Partitions: []lag.Partition{{Topic: "order-placed", Partition: 0, Committed: 10, End: 10 + max(inv, 0), Lag: inv}}},
			{Group: "order-service-run", Lag: 0},
		}})
	}
	inFault := func(t int) bool { return float64(t) >= 5 && float64(t) < 13 }
	for _, m := range scenario.Modes {
		mr := &scenario.ModeResult{Phases: map[string]*scenario.PhaseResult{}}
		for t := 0; t < 20; t++ {
			s := scenario.Second{T: t, Requests: 20, Successes: 20, P50Ms: 1.2, P99Ms: 4}
			if m == scenario.ModeSync && inFault(t) {
				s.Successes, s.P50Ms, s.P99Ms = 0, 1.5, 6
				s.Errors = map[string]int{scenario.Class5xx: 20}
			}
			if m == scenario.ModeSync && t == 13 {
				s.Successes, s.Errors = 15, map[string]int{scenario.ClassRefused: 5}
			}
			mr.Timeline = append(mr.Timeline, s)
			mr.Requests += s.Requests
		}
		// Stats: 4 a second through 20.5 s.
		for i := 0; i <= 82; i++ {
			t := float64(i) * 0.25
			smp := scenario.StatsSample{At: t, Orders: map[string]int{"PENDING": i % 2, "CONFIRMED": i}}
			if m == scenario.ModeAsync {
				switch {
				case t >= 5 && t < 13:
					smp.Orders["PENDING"] = int((t - 5) * 20)
				case t >= 13 && t < 14.5:
					smp.Orders["PENDING"] = int((14.5 - t) * 100)
					smp.BrokerLag = int64((14.5 - t) * 50)
				}
			}
			mr.Stats = append(mr.Stats, smp)
		}
		last := &mr.Stats[len(mr.Stats)-1]
		last.Orders["PENDING"] = 0
		if m == scenario.ModeAsync {
			last.Orders["PENDING"] = f.finalBacklog
			last.Orders["FAILED"], last.OutboxParked, last.InventoryDeadLettered = f.asyncParked, f.asyncParked, f.asyncDeadLetter
			mr.Parked, mr.Failed, mr.DeadLettered = f.asyncParked, f.asyncParked, f.asyncDeadLetter
		}
		base := &scenario.PhaseResult{Requests: 100, Successes: int(100 * f.baselineOK), SuccessRate: f.baselineOK, P50Ms: 1.2, P99Ms: 4, MaxMs: 6}
		fault := &scenario.PhaseResult{Requests: 160, Successes: 160, SuccessRate: 1, P50Ms: 1.1, P99Ms: 5, MaxMs: 8}
		rec := &scenario.PhaseResult{Requests: 140, Successes: 140, SuccessRate: 1, P50Ms: 1.3, P99Ms: 4, MaxMs: 7}
		mr.Accepted, mr.Completed, mr.RecoverySeconds = 400, 400, 1.5
		mr.Recovery = &scenario.Recovery{SuccessRateSeconds: 0, BacklogSeconds: 1.5, DrainSeconds: 1.4}
		if m == scenario.ModeSync {
			fault = &scenario.PhaseResult{Requests: 160, SuccessRate: 0, P50Ms: 1.5, P99Ms: 6, MaxMs: 9, Errors: map[string]int{scenario.Class5xx: 160}}
			rec = &scenario.PhaseResult{Requests: 140, Successes: 135, SuccessRate: 135.0 / 140, P50Ms: 1.3, P99Ms: f.syncRecoveryP99, MaxMs: 20,
				Errors: map[string]int{scenario.ClassRefused: 5}}
			mr.Accepted, mr.Completed, mr.RecoverySeconds = 235, 235, 1
			mr.Recovery = &scenario.Recovery{SuccessRateSeconds: 1, BacklogSeconds: 0, DrainSeconds: 0}
		} else {
			mr.Lost = f.asyncLost
			mr.Completed -= f.asyncLost
			if f.asyncLost > 0 {
				mr.RecoverySeconds = -1
			}
		}
		mr.Phases[scenario.PhaseBaseline], mr.Phases[scenario.PhaseFault], mr.Phases[scenario.PhaseRecovery] = base, fault, rec
		// Consistency window: sync 0 by construction; async waits out the
		// fault (up to 9 s for the orders sent as it began), then drains.
		w := &scenario.ConsistencyWindow{Source: scenario.WindowSourceFinal, Final: mr.Accepted, Phases: map[string]*scenario.WindowStats{
			scenario.PhaseBaseline: {Orders: base.Successes}, scenario.PhaseFault: {Orders: fault.Successes}, scenario.PhaseRecovery: {Orders: rec.Successes},
		}}
		for t := 0; t < 20; t++ {
			w.Timeline = append(w.Timeline, scenario.WindowStats{T: t, Orders: 20})
		}
		if m == scenario.ModeAsync {
			w.Source = scenario.WindowSourceStore
			w.Phases[scenario.PhaseBaseline] = &scenario.WindowStats{Orders: 100, P50Ms: 12, P99Ms: 40, MaxMs: 55}
			w.Phases[scenario.PhaseFault] = &scenario.WindowStats{Orders: 160, P50Ms: 4800, P99Ms: 8900, MaxMs: 9000}
			w.Phases[scenario.PhaseRecovery] = &scenario.WindowStats{Orders: 140, P50Ms: 30, P99Ms: f.windowAfterP99, MaxMs: f.windowAfterP99 + 100}
			for t := range w.Timeline {
				ws := &w.Timeline[t]
				ws.P50Ms, ws.P99Ms, ws.MaxMs = 12, 40, 55
				if inFault(t) {
					ws.P50Ms = float64(14-t) * 1000
					ws.P99Ms, ws.MaxMs = ws.P50Ms+400, ws.P50Ms+500
				}
			}
		}
		mr.Window = w
		res.Modes[m] = mr
	}
	return res
}

func (f fixture) journal() *Journal {
	res := f.result()
	return NewJournal(res, DefaultHypothesis(), Meta{
		Command:  []string{"faultline", "run", "--scenario", "inventory-down"},
		Platform: CurrentPlatform(res.Lane),
		Start:    res.StartedAt.Add(-2 * time.Second),
		End:      res.StartedAt.Add(21 * time.Second),
	})
}
