// Package lag reads consumer lag at the broker: for every partition of
// every topic a consumer group reads, the group's committed offset and the
// partition's log-end offset (high-water mark), and their difference, the
// records written but not yet committed by the group. It is what
// `kafka-consumer-groups --describe` prints (CURRENT-OFFSET,
// LOG-END-OFFSET, LAG), read through sarama's ClusterAdmin
// (ListConsumerGroupOffsets, an OffsetFetch to the group coordinator) and
// a client's GetOffset(topic, partition, OffsetNewest) (a ListOffsets to
// the partition leader).
//
// The harness trusts this figure, not a consumer's report of its own lag:
// a consumer cut off from the broker, or stuck on one record, stops
// committing while producers keep writing, so its lag at the broker grows
// while its own estimate ("as of the last record fetched") stays put. The
// chaos harness dials the brokers directly (stack.Stack.NewHarnessClient
// with direct=true), around the proxies its faults cut, so a cut consumer
// link does not blind it. When the broker does not answer, a figure is
// unknown: -1 (shown as "?").
package lag

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/chaos/faults"
)

// Unknown is the value of an offset or lag the broker did not give.
const Unknown = -1

// Partition is one partition of one topic as a consumer group stands on
// it, like one row of `kafka-consumer-groups --describe`.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the group's committed offset (the next record it will
	// read); -1 when the group committed none on this partition (its
	// members then start at the log start, Consumer.Offsets.Initial =
	// OffsetOldest, and Lag counts from there) or it is unknown.
	Committed int64 `json:"committed"`
	// End is the partition's log-end offset (high-water mark); -1 unknown.
	End int64 `json:"end"`
	// Lag is End minus Committed (or minus the log start without a
	// commit), never below 0; -1 when unknown.
	Lag int64 `json:"lag"`
}

// Group is one consumer group's lag over the topics it reads.
type Group struct {
	Group string `json:"group"`
	// Lag is the sum over Partitions; -1 when any of them is unknown.
	Lag        int64       `json:"lag"`
	Partitions []Partition `json:"partitions,omitempty"`
	// Error says why the group's figures are unknown, "" when known.
	Error string `json:"error,omitempty"`
}

// Snapshot is one reading of every group, in the order of the group
// names.
type Snapshot struct {
	Time   time.Time `json:"time"`
	Groups []Group   `json:"groups"`
}

// Of returns the lag of the named group: -1 when unknown or not read.
func (s Snapshot) Of(group string) int64 {
	for _, g := range s.Groups {
		if g.Group == group {
			return g.Lag
		}
	}
	return Unknown
}

// Sum returns the lags of the named groups added up: -1 when one is
// unknown; 0 for no group.
func (s Snapshot) Sum(groups ...string) int64 {
	var sum int64
	for _, g := range groups {
		l := s.Of(g)
		if l < 0 {
			return Unknown
		}
		sum += l
	}
	return sum
}

// Reader reads the lag of a fixed set of consumer groups. Read may be
// called from one goroutine at a time (calls are serialised); Close
// releases the connection.
type Reader struct {
	dial   func(context.Context) (sarama.Client, error)
	groups map[string][]string

	mu     sync.Mutex
	client sarama.Client
}

// NewReader returns a Reader of groups (group -> topics it consumes, e.g.
// stack.Stack.ConsumerGroups()). dial connects a client to the brokers;
// the Reader calls it lazily and again after a failed read, so a broker
// that went down and came back is read again on a fresh connection. The
// Reader closes the clients it dialed.
func NewReader(dial func(context.Context) (sarama.Client, error), groups map[string][]string) *Reader {
	gs := make(map[string][]string, len(groups))
	for g, ts := range groups {
		gs[g] = append([]string(nil), ts...)
	}
	return &Reader{dial: dial, groups: gs}
}

// Groups returns the names of the groups the Reader reads, sorted.
func (r *Reader) Groups() []string {
	out := make([]string, 0, len(r.groups))
	for g := range r.groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// Read reads every group once, bounded by ctx: a group the broker does not
// answer for before ctx ends (or answers with an error) has Lag -1 and an
// Error; Read itself never fails. The connection is dropped after a
// failure and dialed again on the next Read.
func (r *Reader) Read(ctx context.Context) Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	snap := Snapshot{Time: time.Now().UTC()}
	if r.client == nil {
		c, err := r.connect(ctx)
		if err != nil {
			for _, g := range r.Groups() {
				snap.Groups = append(snap.Groups, Group{Group: g, Lag: Unknown, Error: "connect: " + err.Error()})
			}
			return snap
		}
		r.client = c
	}
	failed := false
	client := r.client // the calls below may outlive this Read (ctx ended): they keep this client
	for _, g := range r.Groups() {
		if err := ctx.Err(); err != nil {
			failed = true
			snap.Groups = append(snap.Groups, Group{Group: g, Lag: Unknown, Error: err.Error()})
			continue
		}
		grp, err := faults.RunWithContext(ctx, func() (Group, error) { return describe(client, g, r.groups[g]) })
		if err != nil {
			failed = true
			grp = Group{Group: g, Lag: Unknown, Error: err.Error()}
		}
		snap.Groups = append(snap.Groups, grp)
	}
	if failed {
		// A stuck call may still hold the client: closing it ends that call
		// and the next Read starts afresh. Close waits for the client's
		// pending metadata retries, so it runs in the background.
		go func() { _ = client.Close() }()
		r.client = nil
	}
	return snap
}

// connect dials, bounded by ctx; a client that connects after ctx ended
// is closed.
func (r *Reader) connect(ctx context.Context) (sarama.Client, error) {
	type result struct {
		c   sarama.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := r.dial(ctx)
		ch <- result{c, err}
	}()
	select {
	case res := <-ch:
		return res.c, res.err
	case <-ctx.Done():
		go func() {
			if res := <-ch; res.err == nil {
				_ = res.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Close closes the Reader's connection, if any.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return nil
	}
	err := r.client.Close()
	r.client = nil
	return err
}

// Describe reads one group's lag on topics through client, as
// `kafka-consumer-groups --describe --group GROUP` does, with no bound of
// its own beyond the client's timeouts. A partition whose log-end offset
// the broker does not give makes the group's Lag -1 (and an error).
func Describe(client sarama.Client, group string, topics []string) (Group, error) {
	return describe(client, group, topics)
}

func describe(client sarama.Client, group string, topics []string) (Group, error) {
	parts := map[string][]int32{}
	for _, t := range topics {
		ps, err := client.Partitions(t)
		if err != nil {
			return Group{}, fmt.Errorf("partitions of %s: %w", t, err)
		}
		parts[t] = ps
	}
	// Not admin.Close: it would close the client, which the caller owns.
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return Group{}, fmt.Errorf("admin: %w", err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, parts)
	if err != nil && !errors.Is(err, sarama.ErrGroupIDNotFound) {
		return Group{}, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	out := Group{Group: group}
	var errs []string
	sorted := append([]string(nil), topics...)
	sort.Strings(sorted)
	for _, t := range sorted {
		for _, p := range parts[t] {
			row := Partition{Topic: t, Partition: p, Committed: Unknown, End: Unknown, Lag: Unknown}
			if resp != nil {
				if b := resp.GetBlock(t, p); b != nil && errors.Is(b.Err, sarama.ErrNoError) && b.Offset >= 0 {
					row.Committed = b.Offset
				}
			}
			end, err := client.GetOffset(t, p, sarama.OffsetNewest)
			if err != nil {
				errs = append(errs, fmt.Sprintf("log-end offset of %s/%d: %v", t, p, err))
				out.Partitions = append(out.Partitions, row)
				continue
			}
			row.End = end
			from := row.Committed
			if from < 0 {
				start, err := client.GetOffset(t, p, sarama.OffsetOldest)
				if err != nil {
					errs = append(errs, fmt.Sprintf("log start of %s/%d: %v", t, p, err))
					out.Partitions = append(out.Partitions, row)
					continue
				}
				from = start
			}
			row.Lag = max(0, end-from)
			out.Partitions = append(out.Partitions, row)
		}
	}
	for _, p := range out.Partitions {
		if p.Lag < 0 {
			out.Lag = Unknown
			break
		}
		out.Lag += p.Lag
	}
	if len(errs) > 0 {
		out.Error = strings.Join(errs, "; ")
	}
	return out, nil
}
