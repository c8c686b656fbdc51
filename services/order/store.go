package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/faultline-harness/faultline/services/events"
)

// ErrNotFound is returned when no order has the given ID.
var ErrNotFound = errors.New("order not found")

// Store keeps orders and the transactional outbox in one SQLite database
// (WAL journal, one connection: writes are serialised in-process; order
// creations are group-committed, see groupcommit.go). It is safe for
// concurrent use. All times are stored and returned in UTC.
type Store struct {
	db *sql.DB
	q  *stmts

	creates   chan *createReq // to the committer (groupcommit.go)
	lanes     laneState       // outbox lanes given at insert (outboxlanes.go)
	quit      chan struct{}   // closed by Close
	committed chan struct{}   // closed when the committer has stopped
	closeOnce sync.Once
}

// Stats is a snapshot of the store: order counts per status (every status
// present, zero included), the outbox rows waiting to be published
// (parked rows excluded) and the parked ones.
type Stats struct {
	ByStatus      map[Status]int `json:"orders"`
	OutboxBacklog int            `json:"outbox_backlog"`
	OutboxParked  int            `json:"outbox_parked"`
}

// response is the HTTP answer recorded with an order created under an
// Idempotency-Key, replayed byte for byte on a repeat. Status 0: not
// decided yet (a sync order whose inventory call is in flight).
type response struct {
	status int
	body   []byte
}

// outboxRow is one record waiting in (or published from) the outbox.
type outboxRow struct {
	seq     int64
	eventID string
	orderID string
	msg     events.Message
	// traceparent is the W3C trace context of the request that placed the
	// order ("" when it had none, or for rows older than tracing): the
	// relay publishes the row under it.
	traceparent string
}

// ParkedRow is an outbox row set aside after a permanent publish failure
// (messaging.IsPermanent): never re-driven automatically; its order is
// FAILED with reason publish_failed. JSON, as GET /outbox/parked lists it:
//
//	{"seq":12,"event_id":"…","order_id":"…","topic":"order-placed","key":"…",
//	 "bytes":1048700,"reason":"produce to order-placed: …",
//	 "created_at":"2026-12-03T08:00:00Z","parked_at":"…"}
//
// Bytes is the record value's size. Times are UTC.
type ParkedRow struct {
	Seq       int64     `json:"seq"`
	EventID   string    `json:"event_id"`
	OrderID   string    `json:"order_id"`
	Topic     string    `json:"topic"`
	Key       string    `json:"key"`
	Bytes     int       `json:"bytes"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	ParkedAt  time.Time `json:"parked_at"`
}

// ReasonPublishFailed is the reason of an async order whose order-placed
// record was parked (its status is FAILED).
const ReasonPublishFailed = "publish_failed"

const schema = `
CREATE TABLE IF NOT EXISTS orders (
	id              TEXT PRIMARY KEY,
	sku             TEXT NOT NULL,
	quantity        INTEGER NOT NULL,
	mode            TEXT NOT NULL,
	status          TEXT NOT NULL,
	reason          TEXT NOT NULL DEFAULT '',
	stock_check     TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT UNIQUE,
	resp_status     INTEGER NOT NULL DEFAULT 0,
	resp_body       BLOB,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
CREATE TABLE IF NOT EXISTS outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id     TEXT NOT NULL UNIQUE,
	order_id     TEXT NOT NULL REFERENCES orders(id),
	topic        TEXT NOT NULL,
	key          TEXT NOT NULL,
	value        BLOB NOT NULL,
	headers      TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	published_at TEXT
);
`

// outboxColumns are added to an outbox created before the relay had lanes
// and parking, or before tracing (ALTER TABLE on open):
//   - lane: the partition the row's key hashes to (messaging.Partition),
//     set by the relay the first time it sees the row; NULL until then;
//   - parked_at, park_reason: set when the row is parked;
//   - traceparent: the placing request's W3C trace context, ” without one.
var outboxColumns = []struct{ name, decl string }{
	{"lane", "INTEGER"},
	{"parked_at", "TEXT"},
	{"park_reason", "TEXT"},
	{"traceparent", "TEXT NOT NULL DEFAULT ''"},
}

// laneIndexes serve the relay and the stats: the waiting rows (the
// backlog count; it replaces outbox_unpublished, which did not know about
// parking), new rows to assign a lane to, each lane's waiting rows in
// order, and the parked rows.
const laneIndexes = `
DROP INDEX IF EXISTS outbox_unpublished;
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox(seq) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_unassigned ON outbox(seq) WHERE lane IS NULL AND published_at IS NULL AND parked_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_lane ON outbox(topic, lane, seq) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_parked ON outbox(seq) WHERE parked_at IS NOT NULL;
`

// OpenStore opens or creates the database at path and its tables.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open order db %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create order schema in %s: %w", path, err)
	}
	if err := errors.Join(migrateOutbox(ctx, db), addStockCheckColumn(ctx, db)); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate order schema in %s: %w", path, err)
	}
	prepared, err := prepareStmts(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("order db %s: %w", path, err)
	}
	st := &Store{db: db, q: prepared, creates: make(chan *createReq), quit: make(chan struct{}), committed: make(chan struct{})}
	go st.commitLoop()
	return st, nil
}

// migrateOutbox adds the outboxColumns an older database lacks, then the
// lane indexes.
func migrateOutbox(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('outbox')`)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have[name] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, c := range outboxColumns {
		if !have[c.name] {
			if _, err := db.ExecContext(ctx, `ALTER TABLE outbox ADD COLUMN `+c.name+` `+c.decl); err != nil {
				return err
			}
		}
	}
	_, err = db.ExecContext(ctx, laneIndexes)
	return err
}

// Close stops the committer (a create after Close fails) and closes the
// database. Safe to call twice.
func (st *Store) Close() error {
	st.closeOnce.Do(func() {
		close(st.quit)
		<-st.committed
		st.q.close()
	})
	return st.db.Close()
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTS(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

const orderCols = `id, sku, quantity, mode, status, reason, stock_check, created_at, updated_at`

func scanOrder(row interface{ Scan(...any) error }, extra ...any) (Order, error) {
	var o Order
	var created, updated string
	if err := row.Scan(append([]any{&o.ID, &o.SKU, &o.Quantity, &o.Mode, &o.Status, &o.Reason, &o.StockCheck, &created, &updated}, extra...)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Order{}, ErrNotFound
		}
		return Order{}, err
	}
	var err error
	if o.CreatedAt, err = parseTS(created); err == nil {
		o.UpdatedAt, err = parseTS(updated)
	}
	return o, err
}

// Get returns the order with the given ID, or ErrNotFound.
func (st *Store) Get(ctx context.Context, id string) (Order, error) {
	o, err := scanOrder(st.db.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE id = ?`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Order{}, fmt.Errorf("get order %s: %w", id, err)
	}
	return o, err
}

// Stats counts orders per status and the outbox backlog.
func (st *Store) Stats(ctx context.Context) (Stats, error) {
	s := Stats{ByStatus: make(map[Status]int, len(AllStatuses))}
	for _, status := range AllStatuses {
		s.ByStatus[status] = 0
	}
	rows, err := st.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM orders GROUP BY status`)
	if err != nil {
		return Stats{}, fmt.Errorf("count orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status Status
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return Stats{}, fmt.Errorf("count orders: %w", err)
		}
		s.ByStatus[status] = n
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("count orders: %w", err)
	}
	rows.Close()
	if s.OutboxBacklog, err = st.OutboxBacklog(ctx); err != nil {
		return Stats{}, err
	}
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE parked_at IS NOT NULL`).Scan(&s.OutboxParked); err != nil {
		return Stats{}, fmt.Errorf("count parked outbox rows: %w", err)
	}
	return s, nil
}

// OutboxBacklog returns the number of outbox rows waiting to be published
// (neither published nor parked).
func (st *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox backlog: %w", err)
	}
	return n, nil
}

// byIdempotencyKey returns the order created under key and its recorded
// response, or ErrNotFound.
func (st *Store) byIdempotencyKey(ctx context.Context, key string) (Order, response, error) {
	var resp response
	o, err := scanOrder(st.q.byIdempotency.QueryRowContext(ctx, key), &resp.status, &resp.body)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Order{}, response{}, fmt.Errorf("get order by idempotency key: %w", err)
	}
	return o, resp, err
}

// finish records a sync order's outcome: status, reason, updated_at and
// the response (kept for Idempotency-Key replays).
func (st *Store) finish(ctx context.Context, o Order, resp response) error {
	if _, err := st.db.ExecContext(ctx, `UPDATE orders SET status = ?, reason = ?, updated_at = ?, resp_status = ?, resp_body = ? WHERE id = ?`,
		o.Status, o.Reason, ts(o.UpdatedAt), resp.status, resp.body, o.ID); err != nil {
		return fmt.Errorf("finish order %s: %w", o.ID, err)
	}
	return nil
}

// transition moves order id from PENDING to status. It returns false when
// the order exists but is no longer PENDING, ErrNotFound when it does not
// exist.
func (st *Store) transition(ctx context.Context, id string, to Status, reason string, now time.Time) (bool, error) {
	res, err := st.db.ExecContext(ctx, `UPDATE orders SET status = ?, reason = ?, updated_at = ? WHERE id = ? AND status = ?`,
		to, reason, ts(now), id, StatusPending)
	if err != nil {
		return false, fmt.Errorf("move order %s to %s: %w", id, to, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	if _, err := st.Get(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// transitionReq is one move of transitionBatch.
type transitionReq struct {
	id     string
	to     Status
	reason string
}

// transitionBatch applies transition to every request, in order, and
// returns per request whether the order moved and an error (ErrNotFound
// for an order this store does not hold).
//
// One read finds the orders concerned (a primary-key lookup per order); only
// orders still PENDING are written, in one transaction with one guarded
// UPDATE per (status, reason) (UPDATE … WHERE status = PENDING RETURNING
// id). So a batch of outcomes for orders held elsewhere (another
// order-service instance reading the same topics) or already settled costs
// no write transaction. A request repeating an earlier one's order in the
// batch does not move it again (the earlier one moved it or found it
// settled). When the read or the transaction fails, every request gets
// that error and nothing changes (the consumer retries the batch).
func (st *Store) transitionBatch(ctx context.Context, reqs []transitionReq, now time.Time) ([]bool, []error) {
	moved, errs := make([]bool, len(reqs)), make([]error, len(reqs))
	err := func() error {
		first := make(map[string]int, len(reqs)) // order ID -> its first request
		ids := make([]string, 0, len(reqs))
		for i, r := range reqs {
			if _, ok := first[r.id]; !ok {
				first[r.id] = i
				ids = append(ids, r.id)
			}
		}
		status, err := st.statuses(ctx, ids)
		if err != nil {
			return err
		}
		type group struct {
			to     Status
			reason string
			ids    []string
		}
		var groups []*group
		for i, r := range reqs {
			s, held := status[r.id]
			switch {
			case !held:
				errs[i] = ErrNotFound
				continue
			case first[r.id] != i || s != StatusPending:
				continue
			}
			var g *group
			for _, have := range groups {
				if have.to == r.to && have.reason == r.reason {
					g = have
				}
			}
			if g == nil {
				g = &group{to: r.to, reason: r.reason}
				groups = append(groups, g)
			}
			g.ids = append(g.ids, r.id)
		}
		if len(groups) == 0 {
			return nil
		}
		tx, err := st.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback() }()
		move := tx.StmtContext(ctx, st.q.transitionMany)
		at := ts(now)
		done := make(map[string]bool, len(ids))
		for _, g := range groups {
			list, err := json.Marshal(g.ids)
			if err != nil {
				return err
			}
			rows, err := move.QueryContext(ctx, g.to, g.reason, at, StatusPending, string(list))
			if err != nil {
				return fmt.Errorf("move %d orders to %s: %w", len(g.ids), g.to, err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return fmt.Errorf("move %d orders to %s: %w", len(g.ids), g.to, err)
				}
				done[id] = true
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return fmt.Errorf("move %d orders to %s: %w", len(g.ids), g.to, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		for id, i := range first {
			moved[i] = done[id]
		}
		return nil
	}()
	if err != nil {
		err = fmt.Errorf("apply %d stock outcomes: %w", len(reqs), err)
		for i := range errs {
			moved[i], errs[i] = false, err
		}
	}
	return moved, errs
}

// statuses returns the status of each order of ids this store holds.
func (st *Store) statuses(ctx context.Context, ids []string) (map[string]Status, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := st.q.statuses.QueryContext(ctx, string(list))
	if err != nil {
		return nil, fmt.Errorf("read %d orders' status: %w", len(ids), err)
	}
	defer rows.Close()
	out := make(map[string]Status, len(ids))
	for rows.Next() {
		var id string
		var s Status
		if err := rows.Scan(&id, &s); err != nil {
			return nil, fmt.Errorf("read %d orders' status: %w", len(ids), err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %d orders' status: %w", len(ids), err)
	}
	return out, nil
}

// pendingSync returns sync-mode orders still PENDING.
func (st *Store) pendingSync(ctx context.Context) ([]Order, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+orderCols+` FROM orders WHERE mode = ? AND status = ?`, ModeSync, StatusPending)
	if err != nil {
		return nil, fmt.Errorf("list pending sync orders: %w", err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("list pending sync orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

const outboxRowCols = `seq, event_id, order_id, topic, key, value, headers, traceparent`

func scanOutboxRows(rows *sql.Rows) ([]outboxRow, error) {
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var headers string
		if err := rows.Scan(&r.seq, &r.eventID, &r.orderID, &r.msg.Topic, &r.msg.Key, &r.msg.Value, &headers, &r.traceparent); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		if err := json.Unmarshal([]byte(headers), &r.msg.Headers); err != nil {
			return nil, fmt.Errorf("read outbox row %d headers: %w", r.seq, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// unpublished returns up to limit outbox rows waiting to be published
// (neither published nor parked), oldest first.
func (st *Store) unpublished(ctx context.Context, limit int) ([]outboxRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+outboxRowCols+` FROM outbox WHERE published_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return scanOutboxRows(rows)
}

// laneKey is a waiting row without a lane yet: what the relay needs to
// compute its partition.
type laneKey struct {
	seq   int64
	topic string
	key   string
}

// unassigned returns up to limit waiting rows that have no lane yet,
// oldest first.
func (st *Store) unassigned(ctx context.Context, limit int) ([]laneKey, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT seq, topic, key FROM outbox WHERE lane IS NULL AND published_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox rows without a lane: %w", err)
	}
	defer rows.Close()
	var out []laneKey
	for rows.Next() {
		var k laneKey
		if err := rows.Scan(&k.seq, &k.topic, &k.key); err != nil {
			return nil, fmt.Errorf("read outbox rows without a lane: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// seqChunk bounds the seqs of one UPDATE … WHERE seq IN (…) (SQLite's
// host parameter limit is 32,766).
const seqChunk = 500

// updateBySeq runs set (an UPDATE with one ? for value) on the rows seqs,
// seqChunk at a time.
func updateBySeq(ctx context.Context, tx *sql.Tx, set string, value any, seqs []int64) error {
	for len(seqs) > 0 {
		n := min(len(seqs), seqChunk)
		args := make([]any, 0, n+1)
		args = append(args, value)
		for _, seq := range seqs[:n] {
			args = append(args, seq)
		}
		q := set + ` WHERE seq IN (?` + strings.Repeat(`,?`, n-1) + `)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		seqs = seqs[n:]
	}
	return nil
}

// pendingLanes returns the (topic, lane) pairs that have waiting rows.
func (st *Store) pendingLanes(ctx context.Context) ([]laneID, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT DISTINCT topic, lane FROM outbox WHERE lane IS NOT NULL AND published_at IS NULL AND parked_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("list outbox lanes: %w", err)
	}
	defer rows.Close()
	var out []laneID
	for rows.Next() {
		var id laneID
		if err := rows.Scan(&id.topic, &id.partition); err != nil {
			return nil, fmt.Errorf("list outbox lanes: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// laneRows returns up to limit waiting rows of one lane, oldest first.
func (st *Store) laneRows(ctx context.Context, id laneID, limit int) ([]outboxRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+outboxRowCols+` FROM outbox WHERE topic = ? AND lane = ? AND published_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT ?`,
		id.topic, id.partition, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox lane %s/%d: %w", id.topic, id.partition, err)
	}
	return scanOutboxRows(rows)
}

// markPublished records, in one transaction, that the broker acknowledged
// the outbox rows seqs.
func (st *Store) markPublished(ctx context.Context, seqs []int64, now time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mark outbox rows published: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := updateBySeq(ctx, tx, `UPDATE outbox SET published_at = ?`, ts(now), seqs); err != nil {
		return fmt.Errorf("mark %d outbox rows published (first %d): %w", len(seqs), seqs[0], err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mark outbox rows published: commit: %w", err)
	}
	return nil
}

// park sets outbox row r aside with reason and moves its order, if still
// PENDING, to FAILED with reason publish_failed, in one transaction.
func (st *Store) park(ctx context.Context, r outboxRow, reason string, now time.Time) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("park outbox row %d: begin: %w", r.seq, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET parked_at = ?, park_reason = ? WHERE seq = ?`, ts(now), reason, r.seq); err != nil {
		return fmt.Errorf("park outbox row %d: %w", r.seq, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, reason = ?, updated_at = ? WHERE id = ? AND status = ?`,
		StatusFailed, ReasonPublishFailed, ts(now), r.orderID, StatusPending); err != nil {
		return fmt.Errorf("fail order %s of parked outbox row %d: %w", r.orderID, r.seq, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("park outbox row %d: commit: %w", r.seq, err)
	}
	return nil
}

// Parked lists up to limit parked outbox rows, oldest first.
func (st *Store) Parked(ctx context.Context, limit int) ([]ParkedRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT seq, event_id, order_id, topic, key, length(value), COALESCE(park_reason, ''), created_at, parked_at
		FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list parked outbox rows: %w", err)
	}
	defer rows.Close()
	out := []ParkedRow{}
	for rows.Next() {
		var p ParkedRow
		var created, parked string
		if err := rows.Scan(&p.Seq, &p.EventID, &p.OrderID, &p.Topic, &p.Key, &p.Bytes, &p.Reason, &created, &parked); err != nil {
			return nil, fmt.Errorf("list parked outbox rows: %w", err)
		}
		if p.CreatedAt, err = parseTS(created); err == nil {
			p.ParkedAt, err = parseTS(parked)
		}
		if err != nil {
			return nil, fmt.Errorf("list parked outbox rows: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
