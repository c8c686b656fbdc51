package order

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/faultline-harness/faultline/services/messaging"
)

// Lanes given at insert.
//
// The relay publishes each partition's rows in a lane of their own
// (relay.go): a row's lane is the partition the producer will pick for its
// key, messaging.Partition over the topic's partition count, which the
// relay reads from the broker's metadata. Once the relay has given the
// store a topic's count (setPartitions), the committer gives each new row
// of that topic its lane in the creating transaction itself, and tells the
// running relay which lanes got rows once they are committed. Before, every
// new row waited for an assignment pass of the relay (a query and an
// UPDATE transaction of its own on the one SQLite connection): about 10%
// of the CPU of an async placement run (CPU profile of `faultline bench`,
// 2026-12-03). The pass remains for rows inserted while the count is not
// known (first rows of a topic, broker down) and rows left by an earlier
// process.
//
// Per-key order: rows of one key must reach their lane in seq order. A row
// inserted without a lane waits for the pass; a later row of the same key
// inserted with its lane could be published first. So the committer gives a
// topic's rows a lane only while the topic is "clear": an assignment pass
// found no waiting row of it without a lane, and none was inserted since.
// laneState.mu is held across each committer transaction and each
// assignment pass, so the two agree on what is committed.

// laneState is the store's part of the lanes.
type laneState struct {
	mu     sync.Mutex
	counts map[string]int32 // topic -> partition count, from the relay
	clear  map[string]bool  // topic -> every waiting row of it has a lane
	// notify, set while a relay runs, is called after each committed
	// group: the lanes that got rows, and whether rows without a lane
	// were inserted.
	notify atomic.Pointer[func(lanes []laneID, unlaned bool)]
}

// setPartitions records topic's partition count (from the broker's
// metadata): the next assignment pass gives its waiting rows their lanes,
// after which its new rows get theirs at insert.
func (st *Store) setPartitions(topic string, n int32) {
	st.lanes.mu.Lock()
	defer st.lanes.mu.Unlock()
	if st.lanes.counts == nil {
		st.lanes.counts, st.lanes.clear = map[string]int32{}, map[string]bool{}
	}
	if old, ok := st.lanes.counts[topic]; ok && old != n {
		st.lanes.clear[topic] = false // rows of the old count may wait: the pass first
	}
	st.lanes.counts[topic] = n
}

// laneAtInsert returns the lane of a new row of topic with key: nil (no
// lane yet) unless the topic is clear, in which case it is the partition.
// A row left without a lane makes its topic not clear. Called with
// lanes.mu held, by the committer.
func (st *Store) laneAtInsert(topic, key string) any {
	if n, ok := st.lanes.counts[topic]; ok && st.lanes.clear[topic] {
		return messaging.Partition(key, n)
	}
	if st.lanes.clear != nil {
		st.lanes.clear[topic] = false
	}
	return nil
}

// notifyInserted tells the running relay, if any, about the rows just
// committed: lanes whose rows were given at insert, and whether rows
// without a lane were inserted (they wait for the assignment pass).
func (st *Store) notifyInserted(lanes []laneID, unlaned bool) {
	if len(lanes) == 0 && !unlaned {
		return
	}
	if f := st.lanes.notify.Load(); f != nil {
		(*f)(lanes, unlaned)
	}
}

// assignLanes gives up to limit waiting rows without a lane, oldest
// first, the lane of their key, in one transaction, for the topics whose
// partition count is known (setPartitions); rows of other topics keep no
// lane. It returns the lanes given rows, the topics of the rows left
// without a lane, and more: limit rows were read, more may be waiting.
// When fewer were read, every topic with a known count is clear (its new
// rows get their lane at insert).
func (st *Store) assignLanes(ctx context.Context, limit int) (lanes []laneID, unknown []string, more bool, err error) {
	st.lanes.mu.Lock()
	defer st.lanes.mu.Unlock()
	keys, err := st.unassigned(ctx, limit)
	if err != nil {
		return nil, nil, false, err
	}
	byLane := map[laneID][]int64{}
	missing := map[string]bool{}
	for _, k := range keys {
		n, ok := st.lanes.counts[k.topic]
		if !ok {
			if !missing[k.topic] {
				missing[k.topic] = true
				unknown = append(unknown, k.topic)
			}
			continue
		}
		id := laneID{k.topic, messaging.Partition(k.key, n)}
		byLane[id] = append(byLane[id], k.seq)
	}
	if len(byLane) > 0 {
		if err := st.updateLanes(ctx, byLane); err != nil {
			return nil, nil, false, err
		}
		for id := range byLane {
			lanes = append(lanes, id)
		}
	}
	more = len(keys) >= limit
	if !more {
		for topic := range st.lanes.counts {
			st.lanes.clear[topic] = true
		}
	}
	return lanes, unknown, more, nil
}

// updateLanes sets the lane of each row in byLane, in one transaction.
func (st *Store) updateLanes(ctx context.Context, byLane map[laneID][]int64) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("assign outbox lanes: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for id, seqs := range byLane {
		if err := updateBySeq(ctx, tx, `UPDATE outbox SET lane = ?`, id.partition, seqs); err != nil {
			return fmt.Errorf("assign outbox rows to lane %s/%d: %w", id.topic, id.partition, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("assign outbox lanes: commit: %w", err)
	}
	return nil
}
