package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/faultline-harness/faultline/internal/sqlstmt"
	"github.com/faultline-harness/faultline/services/events"
)

// ErrNotFound: no notification exists for the order.
var ErrNotFound = errors.New("not found")

// Notification is the one notification recorded for an order: what
// order-placed event caused it and when.
type Notification struct {
	OrderID  string `json:"order_id"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	// EventID is the event_id of the order-placed event that caused it
	// (the first one seen for the order).
	EventID string `json:"event_id"`
	// Channel is where it was (simulated) sent: ChannelEmail.
	Channel string `json:"channel"`
	// OccurredAt is the event's occurred_at (order-service's clock, UTC).
	OccurredAt time.Time `json:"occurred_at"`
	// CreatedAt is when this service recorded it (its own clock, UTC).
	CreatedAt time.Time `json:"created_at"`
}

// Outcome says what Record did with an event.
type Outcome int

const (
	// Created: the first event for the order; the notification and one
	// send were recorded.
	Created Outcome = iota + 1
	// Redelivered: the order already has a notification from this very
	// event (same event ID): a redelivered record. Nothing changed.
	Redelivered
	// Conflicting: the order already has a notification from another
	// event ID. The first event wins; nothing changed.
	Conflicting
)

func (o Outcome) String() string {
	switch o {
	case Created:
		return "created"
	case Redelivered:
		return "redelivered"
	case Conflicting:
		return "conflicting"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Stats counts what the store holds. DuplicatedEffects is the number of
// orders with more than one send in the ledger: anything but 0 means
// idempotency broke (a customer was notified twice).
type Stats struct {
	Notifications     int `json:"notifications"`
	Sends             int `json:"sends"`
	DuplicatedEffects int `json:"duplicated_effects"`
}

// Store keeps notifications and the send ledger in SQLite. It is safe for
// concurrent use; writes are serialised (one connection, BEGIN IMMEDIATE).
type Store struct {
	db       *sql.DB
	prepared *sqlstmt.Set // hotStatements
}

const schema = `
CREATE TABLE IF NOT EXISTS notifications (
	order_id    TEXT PRIMARY KEY,
	event_id    TEXT NOT NULL,
	sku         TEXT NOT NULL,
	quantity    INTEGER NOT NULL,
	channel     TEXT NOT NULL,
	occurred_at TEXT NOT NULL,
	created_at  TEXT NOT NULL
);
-- The ledger: one row per (simulated) send. Deliberately no unique
-- constraint on order_id, so a broken idempotency shows up in
-- DuplicatedEffects instead of being hidden by the database.
CREATE TABLE IF NOT EXISTS sends (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	order_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	channel  TEXT NOT NULL,
	sent_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_order_id ON sends (order_id);
`

// OpenStore opens (creating if needed) the SQLite file at path in WAL mode
// with a 5s busy timeout, and migrates the schema.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	prepared, err := sqlstmt.Prepare(ctx, db, hotStatements...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &Store{db: db, prepared: prepared}, nil
}

// hotStatements are RecordBatch's statements, prepared once at open
// (package sqlstmt: not parsed again for every record).
var hotStatements = []string{`SAVEPOINT notify`, `ROLLBACK TO notify`, `RELEASE notify`, selectNotification, insertNotification, insertSend}

const (
	insertNotification = `INSERT INTO notifications (order_id, event_id, sku, quantity, channel, occurred_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	insertSend         = `INSERT INTO sends (order_id, event_id, channel, sent_at) VALUES (?, ?, ?, ?)`
)

// Close closes the database.
func (st *Store) Close() error {
	_ = st.prepared.Close()
	return st.db.Close()
}

// Record records the notification of order-placed event e (a valid event)
// on channel, created at now, idempotently by order ID, in one
// transaction:
//   - the first event of an order inserts the notification and one row in
//     the send ledger (the simulated send) and returns Created;
//   - a later event of the same order changes nothing and returns the
//     stored notification with Redelivered (same event ID) or Conflicting
//     (another event ID: the first event wins, even when SKU or quantity
//     differ; one order, one notification).
//
// Errors are database errors (transient: the caller retries the record).
func (st *Store) Record(ctx context.Context, e events.Event, channel string, now time.Time) (Notification, Outcome, error) {
	var n Notification
	var out Outcome
	err := st.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, out, err = recordTx(st.prepared.In(ctx, tx), e, channel, now)
		return err
	})
	if err != nil {
		return Notification{}, 0, fmt.Errorf("record notification of order %q: %w", e.OrderID, err)
	}
	return n, out, nil
}

// RecordBatch records every event as Record would, in order, in ONE
// transaction with a savepoint per event (a failing one is rolled back
// alone). Events of the same order within the batch see each other (the
// first wins). It returns one notification, outcome and error per event;
// when the transaction itself fails (begin, a savepoint, commit) every
// event gets that error and nothing is stored.
func (st *Store) RecordBatch(ctx context.Context, evs []events.Event, channel string, now time.Time) ([]Notification, []Outcome, []error) {
	ns, outs, errs := make([]Notification, len(evs)), make([]Outcome, len(evs)), make([]error, len(evs))
	err := st.tx(ctx, func(tx *sql.Tx) error {
		q := st.prepared.In(ctx, tx)
		for i, e := range evs {
			if _, err := q.Exec(`SAVEPOINT notify`); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			ns[i], outs[i], errs[i] = recordTx(q, e, channel, now)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("record notification of order %q: %w", e.OrderID, errs[i])
				if _, err := q.Exec(`ROLLBACK TO notify`); err != nil {
					return fmt.Errorf("rollback to savepoint: %w", err)
				}
			}
			if _, err := q.Exec(`RELEASE notify`); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("record %d notifications: %w", len(evs), err)
		for i := range errs {
			ns[i], outs[i], errs[i] = Notification{}, 0, err
		}
	}
	return ns, outs, errs
}

// recordTx is Record's work inside tx.
func recordTx(q *sqlstmt.Tx, e events.Event, channel string, now time.Time) (Notification, Outcome, error) {
	prev, err := scanNotification(q.QueryRow(selectNotification, e.OrderID))
	switch {
	case err == nil && prev.EventID == e.EventID:
		return prev, Redelivered, nil
	case err == nil:
		return prev, Conflicting, nil
	case !errors.Is(err, ErrNotFound):
		return Notification{}, 0, err
	}
	n := Notification{OrderID: e.OrderID, SKU: e.SKU, Quantity: e.Quantity, EventID: e.EventID, Channel: channel,
		OccurredAt: e.OccurredAt.UTC(), CreatedAt: now.UTC()}
	created := ts(n.CreatedAt)
	if _, err := q.Exec(insertNotification,
		n.OrderID, n.EventID, n.SKU, n.Quantity, n.Channel, ts(n.OccurredAt), created); err != nil {
		return Notification{}, 0, fmt.Errorf("store notification: %w", err)
	}
	if _, err := q.Exec(insertSend,
		n.OrderID, n.EventID, n.Channel, created); err != nil {
		return Notification{}, 0, fmt.Errorf("record send: %w", err)
	}
	return n, Created, nil
}

// Notification returns the notification of orderID and the number of
// sends recorded for it (1; more means a duplicated effect). ErrNotFound
// when there is none.
func (st *Store) Notification(ctx context.Context, orderID string) (Notification, int, error) {
	n, err := scanNotification(st.db.QueryRowContext(ctx, selectNotification, orderID))
	if err != nil {
		return Notification{}, 0, fmt.Errorf("notification of order %q: %w", orderID, err)
	}
	var sends int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sends WHERE order_id = ?`, orderID).Scan(&sends); err != nil {
		return Notification{}, 0, fmt.Errorf("count sends of order %q: %w", orderID, err)
	}
	return n, sends, nil
}

// Stats counts notifications, sends and orders sent more than once.
func (st *Store) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := st.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM notifications),
		(SELECT COUNT(*) FROM sends),
		(SELECT COUNT(*) FROM (SELECT order_id FROM sends GROUP BY order_id HAVING COUNT(*) > 1))`).
		Scan(&s.Notifications, &s.Sends, &s.DuplicatedEffects)
	if err != nil {
		return Stats{}, fmt.Errorf("count notifications: %w", err)
	}
	return s, nil
}

const selectNotification = `SELECT order_id, event_id, sku, quantity, channel, occurred_at, created_at FROM notifications WHERE order_id = ?`

func scanNotification(row *sql.Row) (Notification, error) {
	var n Notification
	var occurred, created string
	err := row.Scan(&n.OrderID, &n.EventID, &n.SKU, &n.Quantity, &n.Channel, &occurred, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Notification{}, ErrNotFound
	}
	if err != nil {
		return Notification{}, fmt.Errorf("read notification: %w", err)
	}
	if n.OccurredAt, err = time.Parse(time.RFC3339Nano, occurred); err != nil {
		return Notification{}, fmt.Errorf("read notification: occurred_at %q: %w", occurred, err)
	}
	if n.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return Notification{}, fmt.Errorf("read notification: created_at %q: %w", created, err)
	}
	return n, nil
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// tx runs fn in a transaction (BEGIN IMMEDIATE: the write lock is taken up
// front) and commits when fn returns nil.
func (st *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
