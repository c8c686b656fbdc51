package scenario

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/chaos/lag"
	"github.com/faultline-harness/faultline/chaos/stack"
)

// LagSource says where ConsumerLag's figures come from.
const LagSource = "broker: each group's committed offset (ListConsumerGroupOffsets) vs each partition's log-end offset (ListOffsets, newest), read around the proxies every second"

// lagReadTimeout bounds one reading of every group: a broker that does not
// answer within it is unknown (-1) for that second. Under a second, so a
// broker going down shows as unknown at the next reading, not seconds
// later; a healthy reading takes milliseconds on loopback.
const lagReadTimeout = 900 * time.Millisecond

// ConsumerLag is the consumer lag of the stack's consumer groups as the
// broker records it (chaos/lag), sampled once a second from just before
// the load until the run settled. Lags count records; -1 is unknown (the
// broker did not answer), shown as "?".
type ConsumerLag struct {
	Source string `json:"source"`
	// Groups maps each consumer group to the topics it consumes
	// (stack.Stack.ConsumerGroups); Labels names each group without the
	// run ID ("inventory-service").
	Groups map[string][]string `json:"groups"`
	Labels map[string]string   `json:"labels"`
	// ModeGroups lists, per mode, the groups an order of that mode flows
	// through (async: inventory's order-placed consumer and order-service's
	// stock-outcome consumer); a mode without one has lag 0.
	ModeGroups map[string][]string `json:"mode_groups"`
	// Samples are the readings, each with the per-partition breakdown.
	Samples []LagSample `json:"samples"`
}

// LagSample is one reading of every group.
type LagSample struct {
	At     float64     `json:"at"` // seconds since the load started
	Groups []lag.Group `json:"groups"`
}

// Of returns group's lag in s, -1 when unknown.
func (s LagSample) Of(group string) int64 {
	return lag.Snapshot{Groups: s.Groups}.Of(group)
}

// Sum returns the groups' lags added up, -1 when one is unknown.
func (s LagSample) Sum(groups ...string) int64 {
	return lag.Snapshot{Groups: s.Groups}.Sum(groups...)
}

// GroupsByLabel returns the group names ordered by label.
func (c *ConsumerLag) GroupsByLabel() []string {
	out := make([]string, 0, len(c.Groups))
	for g := range c.Groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return c.Labels[out[i]] < c.Labels[out[j]] })
	return out
}

// ModeLagAt returns the lag of mode's groups in the last sample taken at
// or before at (seconds since the load started): 0 for a mode with no
// group, -1 when unknown or no sample was taken by then.
func (c *ConsumerLag) ModeLagAt(mode string, at float64) int64 {
	groups := c.ModeGroups[mode]
	if len(groups) == 0 {
		return 0
	}
	i := sort.Search(len(c.Samples), func(i int) bool { return c.Samples[i].At > at }) - 1
	if i < 0 {
		return lag.Unknown
	}
	return c.Samples[i].Sum(groups...)
}

// modeGroups returns the consumer groups on each mode's path.
func modeGroups(st *stack.Stack) map[string][]string {
	return map[string][]string{ModeAsync: {st.InventoryGroup, st.OrderGroup}}
}

// lagSampler reads the stack's consumer groups at the broker, dialing each
// broker's own listener (around the chaos proxies, so a cut consumer link
// or a cut advertised proxy does not blind it). Safe for concurrent use.
type lagSampler struct {
	reader *lag.Reader
	start  time.Time

	sampling sync.Mutex // held across a reading
	mu       sync.Mutex // guards out
	out      ConsumerLag
}

func newLagSampler(st *stack.Stack, start time.Time) *lagSampler {
	groups := st.ConsumerGroups()
	labels := map[string]string{}
	for g := range groups {
		labels[g] = strings.TrimSuffix(g, "-"+st.RunID)
	}
	dial := func(ctx context.Context) (sarama.Client, error) { return st.NewHarnessClient(ctx, true) }
	return &lagSampler{
		reader: lag.NewReader(dial, groups),
		start:  start,
		out:    ConsumerLag{Source: LagSource, Groups: groups, Labels: labels, ModeGroups: modeGroups(st)},
	}
}

// sample reads every group once (bounded by lagReadTimeout) and appends
// it to the series.
func (l *lagSampler) sample(ctx context.Context) LagSample {
	l.sampling.Lock() // one reading at a time, appended in time order
	defer l.sampling.Unlock()
	s := l.read(ctx)
	l.mu.Lock()
	l.out.Samples = append(l.out.Samples, s)
	l.mu.Unlock()
	return s
}

func (l *lagSampler) read(ctx context.Context) LagSample {
	rctx, cancel := context.WithTimeout(ctx, lagReadTimeout)
	defer cancel()
	snap := l.reader.Read(rctx)
	return LagSample{At: math.Round(snap.Time.Sub(l.start).Seconds()*1000) / 1000, Groups: snap.Groups}
}

// latest returns the last sample, ok false before the first.
func (l *lagSampler) latest() (LagSample, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.out.Samples) == 0 {
		return LagSample{}, false
	}
	return l.out.Samples[len(l.out.Samples)-1], true
}

// modeLag reads mode's path lag now: 0 without groups, -1 unknown.
func (l *lagSampler) modeLag(ctx context.Context, mode string) int64 {
	groups := l.out.ModeGroups[mode]
	if len(groups) == 0 {
		return 0
	}
	return l.read(ctx).Sum(groups...)
}

// labelled returns s's lag per group label, for the progress line.
func (l *lagSampler) labelled(s LagSample) map[string]int64 {
	out := map[string]int64{}
	for _, g := range s.Groups {
		out[l.out.Labels[g.Group]] = g.Lag
	}
	return out
}

// result returns the series (a copy).
func (l *lagSampler) result() *ConsumerLag {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.out
	c.Samples = append([]LagSample(nil), l.out.Samples...)
	return &c
}

func (l *lagSampler) close() { _ = l.reader.Close() }

// run samples once now, then every second until ctx ends.
func (l *lagSampler) run(ctx context.Context) {
	l.sample(ctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			l.sample(ctx)
		}
	}
}
