package scenario

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// statsServer answers GET /stats with body.
func statsServer(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stats" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The sampler reads order-service's parked outbox rows and both services'
// dead letters (fixtures shaped like their GET /stats), and the mode's
// result carries the last good sample's, failed reads skipped.
func TestSamplerReadsParkedAndDeadLettered(t *testing.T) {
	order := statsServer(t, `{"orders":{"PENDING":0,"CONFIRMED":48,"REJECTED":0,"FAILED":2},"outbox_backlog":0,"outbox_parked":2,"outbox_lanes":3,
		"dead_lettered":1,"dead_lettered_whole":1,"dead_lettered_envelope":0,"dead_letters_dropped":0,"handler_attempts":50,"promises_broken":0}`)
	inv := statsServer(t, `{"reserved":48,"rejected":0,"dead_lettered":3,"dead_letters_dropped":1,"reservation_requests":0}`)
	s := &statsSampler{client: &http.Client{Timeout: 2 * time.Second},
		orderURLs:    map[string]string{ModeSync: order, ModeAsync: order, ModeHybrid: order},
		inventoryURL: inv, start: time.Now(), series: map[string][]StatsSample{}}
	got := s.sample(t.Context())
	if got.OutboxParked != 2 || got.OrderDeadLettered != 1 || got.InventoryDeadLettered != 3 || got.InventoryDeadLettersDropped != 1 {
		t.Fatalf("async sample %+v: want parked 2, order dead-lettered 1, inventory dead-lettered 3 (1 dropped)", got)
	}
	if got.DeadLettered() != 4 || got.DeadLettersDropped() != 1 {
		t.Errorf("sample dead-lettered %d (dropped %d), want 4 (1)", got.DeadLettered(), got.DeadLettersDropped())
	}
	// A later failed read must not zero the end-of-run figures.
	s.series[ModeAsync] = append(s.series[ModeAsync], StatsSample{At: 9, OrderErr: "refused"})
	async := &ModeResult{Timeline: make([]Second, 1)}
	s.attach(ModeAsync, async, &ConsumerLag{})
	if async.Parked != 2 || async.DeadLettered != 4 || async.DeadLettersDropped != 1 {
		t.Errorf("async result: parked %d, dead-lettered %d, dropped %d; want 2, 4, 1", async.Parked, async.DeadLettered, async.DeadLettersDropped)
	}
	sync := &ModeResult{Timeline: make([]Second, 1)}
	s.attach(ModeSync, sync, &ConsumerLag{})
	if sync.DeadLettered != 1 {
		t.Errorf("sync result dead-lettered %d, want 1: inventory's consumer is on the async path only", sync.DeadLettered)
	}
}

// The table shows parked and dead-lettered per mode, 0 as 0.
func TestTableShowsParkedAndDeadLettered(t *testing.T) {
	r := &Result{Modes: map[string]*ModeResult{}}
	for _, m := range Modes {
		r.Modes[m] = &ModeResult{Phases: map[string]*PhaseResult{PhaseBaseline: {}, PhaseFault: {}, PhaseRecovery: {}}}
	}
	r.Modes[ModeAsync].Accepted, r.Modes[ModeAsync].Completed, r.Modes[ModeAsync].Parked, r.Modes[ModeAsync].DeadLettered = 50, 50, 2, 4
	var b strings.Builder
	r.WriteTable(&b)
	out := b.String()
	if !strings.Contains(out, "parked  dead-lettered") {
		t.Fatalf("table has no parked / dead-lettered columns:\n%s", out)
	}
	var async, sync string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == ModeAsync && len(f) == 9 {
			async = strings.Join(f[1:8], " ")
		}
		if len(f) > 0 && f[0] == ModeSync && len(f) >= 9 && f[1] == "0" {
			sync = strings.Join(f[1:8], " ")
		}
	}
	if async != "50 50 0 0 0 2 4" {
		t.Errorf("async row %q, want accepted..dead-lettered 50 50 0 0 0 2 4:\n%s", async, out)
	}
	if sync != "0 0 0 0 0 0 0" {
		t.Errorf("sync row %q, want zeros shown as 0:\n%s", sync, out)
	}
}
