package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/telemetry"
)

// Group commit of order creations.
//
// POST /orders (every mode) and PlaceAsync write through Store.create.
// With one SQLite connection every write transaction is serialised, and
// each commit appends every page it touched (the orders table and its
// three indexes, the outbox table and its five) to the WAL: at 16
// concurrent requests the handlers spent most of their time waiting for
// the connection (block profile of `faultline bench`, 2026-12-03). So one
// goroutine, the committer, takes the creations waiting when it is free
// (at most maxGroup) and writes them in one transaction, a savepoint per
// creation: a failing one is rolled back alone, the others commit. Each
// caller gets its own outcome only after that transaction committed, so a
// 202 still means the order and its outbox row are durable (WAL,
// synchronous=NORMAL, as before). Nothing waits to fill a group: a lone
// request is committed at once, in a transaction of its own.

// maxGroup bounds the creations of one transaction.
const maxGroup = 64

// errStoreClosed is returned by create after Close.
var errStoreClosed = errors.New("order store closed")

// createReq is one creation waiting for the committer. Everything but
// the SQL is computed by the caller, outside the connection's critical
// section.
type createReq struct {
	ctx     context.Context // the caller's: checked before the write, not during it
	o       Order
	key     any // the Idempotency-Key, nil without one
	resp    response
	out     *events.Message
	headers string // out's headers as JSON
	tp      string // traceparent of the placing request
	created string // ts(o.CreatedAt)
	updated string // ts(o.UpdatedAt)
	lane    any    // out's lane (int32), nil for none yet: set by the committer
	done    chan createResult
}

type createResult struct {
	created bool
	err     error
}

// stmts are the statements the hot paths run, prepared once at open
// (modernc.org/sqlite keeps a prepared statement's compiled program, so
// a prepared statement is not parsed again on each run).
type stmts struct {
	insertOrder, insertOutbox               *sql.Stmt
	savepoint, rollbackTo, release          *sql.Stmt
	transitionMany, statuses, byIdempotency *sql.Stmt
}

const (
	sqlInsertOrder = `INSERT INTO orders (` + orderCols + `, idempotency_key, resp_status, resp_body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING`
	sqlInsertOutbox = `INSERT INTO outbox (event_id, order_id, topic, key, value, headers, created_at, traceparent, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// The orders of a JSON array of IDs, a primary-key lookup each (the
	// unary + keeps SQLite from scanning the orders_status index instead).
	sqlTransitionMany = `UPDATE orders SET status = ?, reason = ?, updated_at = ? WHERE +status = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id`
	sqlStatuses       = `SELECT id, status FROM orders WHERE id IN (SELECT value FROM json_each(?))`
	sqlByIdemKey      = `SELECT ` + orderCols + `, resp_status, resp_body FROM orders WHERE idempotency_key = ?`
)

func prepareStmts(ctx context.Context, db *sql.DB) (*stmts, error) {
	var s stmts
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.insertOrder, sqlInsertOrder}, {&s.insertOutbox, sqlInsertOutbox},
		{&s.savepoint, `SAVEPOINT one`}, {&s.rollbackTo, `ROLLBACK TO one`}, {&s.release, `RELEASE one`},
		{&s.transitionMany, sqlTransitionMany}, {&s.statuses, sqlStatuses}, {&s.byIdempotency, sqlByIdemKey},
	} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", p.q, err)
		}
		*p.dst = st
	}
	return &s, nil
}

func (s *stmts) close() {
	for _, st := range []*sql.Stmt{s.insertOrder, s.insertOutbox, s.savepoint, s.rollbackTo, s.release, s.transitionMany, s.statuses, s.byIdempotency} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// create inserts o and, when out is non-nil, its outbox record (event ID
// from the event-id header, traceparent from ctx's span), atomically,
// through the committer (see above). With a non-empty idemKey it records
// the key and resp; if the key is already taken it inserts nothing and
// returns created=false. It returns only once the outcome is known: when
// it returns created=true the rows are committed. An error means nothing
// of this creation was stored; ctx ending before the write is such an
// error.
func (st *Store) create(ctx context.Context, o Order, idemKey string, resp response, out *events.Message) (created bool, err error) {
	r := &createReq{ctx: ctx, o: o, resp: resp, out: out, created: ts(o.CreatedAt), updated: ts(o.UpdatedAt), done: make(chan createResult, 1)}
	if idemKey != "" {
		r.key = idemKey
	}
	if out != nil {
		headers, err := json.Marshal(out.Headers)
		if err != nil {
			return false, fmt.Errorf("encode outbox headers: %w", err)
		}
		r.headers, r.tp = string(headers), telemetry.TraceParent(ctx)
	}
	select {
	case st.creates <- r:
	case <-st.quit:
		return false, fmt.Errorf("create order %s: %w", o.ID, errStoreClosed)
	case <-ctx.Done():
		return false, fmt.Errorf("create order %s: %w", o.ID, ctx.Err())
	}
	res := <-r.done // the committer always answers, within busy_timeout
	return res.created, res.err
}

// commitLoop is the committer: it runs until quit closes.
func (st *Store) commitLoop() {
	defer close(st.committed)
	batch := make([]*createReq, 0, maxGroup)
	for {
		select {
		case <-st.quit:
			return
		case r := <-st.creates:
			batch = append(batch[:0], r)
		}
	fill: // the creations already waiting, without waiting for more
		for len(batch) < maxGroup {
			select {
			case r := <-st.creates:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		st.commitGroup(batch)
		clear(batch)
	}
}

// commitGroup writes batch in one transaction and answers every request.
// The outbox rows get their lane at insert when their topic is clear
// (outboxlanes.go); the running relay hears of them once committed.
func (st *Store) commitGroup(batch []*createReq) {
	live := make([]*createReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- createResult{err: fmt.Errorf("create order %s: %w", r.o.ID, err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	st.lanes.mu.Lock()
	for _, r := range live {
		if r.out != nil {
			r.lane = st.laneAtInsert(r.out.Topic, r.out.Key)
		}
	}
	res := st.writeGroup(live)
	st.lanes.mu.Unlock()
	var lanes []laneID
	unlaned := false
	for i, r := range live {
		if !res[i].created || r.out == nil {
			continue
		}
		if p, ok := r.lane.(int32); ok {
			if id := (laneID{r.out.Topic, p}); !slices.Contains(lanes, id) {
				lanes = append(lanes, id)
			}
		} else {
			unlaned = true
		}
	}
	st.notifyInserted(lanes, unlaned)
	for i, r := range live {
		r.done <- res[i]
	}
}

// writeGroup writes live in one transaction and returns each request's
// outcome; when the transaction fails, every request gets its error.
func (st *Store) writeGroup(live []*createReq) []createResult {
	res := make([]createResult, len(live))
	// Not the callers' contexts: one caller going away must not abort the
	// others' transaction. The statements cannot hang: a lock wait ends
	// with busy_timeout.
	ctx := context.Background()
	fail := func(err error) []createResult {
		for i, r := range live {
			res[i] = createResult{err: fmt.Errorf("create order %s: %w", r.o.ID, err)}
		}
		return res
	}
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback() }()
	insOrder, insOutbox := tx.StmtContext(ctx, st.q.insertOrder), tx.StmtContext(ctx, st.q.insertOutbox)
	if len(live) == 1 {
		if res[0] = insertOne(ctx, insOrder, insOutbox, live[0]); !res[0].created {
			return res // rolled back by the deferred Rollback
		}
	} else {
		sp, back, rel := tx.StmtContext(ctx, st.q.savepoint), tx.StmtContext(ctx, st.q.rollbackTo), tx.StmtContext(ctx, st.q.release)
		for i, r := range live {
			if _, err := sp.ExecContext(ctx); err != nil {
				return fail(fmt.Errorf("savepoint: %w", err))
			}
			res[i] = insertOne(ctx, insOrder, insOutbox, r)
			if res[i].err != nil {
				if _, err := back.ExecContext(ctx); err != nil {
					return fail(fmt.Errorf("rollback to savepoint: %w", err))
				}
			}
			if _, err := rel.ExecContext(ctx); err != nil {
				return fail(fmt.Errorf("release savepoint: %w", err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return res
}

// insertOne inserts one creation's order row and outbox row.
func insertOne(ctx context.Context, insOrder, insOutbox *sql.Stmt, r *createReq) createResult {
	o := r.o
	res, err := insOrder.ExecContext(ctx, o.ID, o.SKU, o.Quantity, o.Mode, o.Status, o.Reason, o.StockCheck, r.created, r.updated, r.key, r.resp.status, r.resp.body)
	if err != nil {
		return createResult{err: fmt.Errorf("insert order %s: %w", o.ID, err)}
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return createResult{err: err}
	}
	if r.out != nil {
		if _, err := insOutbox.ExecContext(ctx, r.out.Header(events.HeaderEventID), o.ID, r.out.Topic, r.out.Key, r.out.Value, r.headers, r.created, r.tp, r.lane); err != nil {
			return createResult{err: fmt.Errorf("insert outbox row for order %s: %w", o.ID, err)}
		}
	}
	return createResult{created: true}
}
