package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/faultline-harness/faultline/internal/sqlstmt"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// Sentinel errors of the store; match them with errors.Is.
var (
	// ErrUnknownSKU: the SKU has no stock row (it is not in the catalog).
	ErrUnknownSKU = errors.New("unknown sku")
	// ErrInsufficientStock: a reservation was rejected because fewer units
	// were available than asked for. See Reservation.Err.
	ErrInsufficientStock = errors.New("insufficient stock")
	// ErrNotFound: no reservation exists for the order.
	ErrNotFound = errors.New("not found")
	// ErrOrderIDReused: the order already has a reservation for another
	// SKU or quantity. Reserve returns it wrapped together with
	// events.ErrInvalid and messaging.ErrPermanent: over HTTP it is 409
	// order_id_reused; on the order-placed consumer path the record
	// contradicts its order's first event, so it is poison (dead-lettered
	// with this reason, never retried), stock stays untouched and no
	// outcome is published.
	ErrOrderIDReused = errors.New("order_id reused with another sku or quantity")
)

// Reservation statuses and rejection reasons, as stored and as sent on the
// wire.
const (
	StatusReserved = "reserved"
	StatusRejected = "rejected"

	ReasonInsufficientStock = "insufficient_stock"
	ReasonUnknownSKU        = "unknown_sku"
)

// Reservation is the stored, final outcome of the first reservation
// request for an order.
type Reservation struct {
	OrderID  string
	SKU      string
	Quantity int    // units asked for
	Status   string // StatusReserved or StatusRejected
	Reason   string // ReasonInsufficientStock when rejected, else ""
	// CreatedAt is when the outcome was decided (UTC).
	CreatedAt time.Time
}

// Err returns ErrInsufficientStock (wrapped, naming SKU and quantity) for a
// rejected reservation and nil for a reserved one.
func (r Reservation) Err() error {
	if r.Status == StatusRejected {
		return fmt.Errorf("%w: sku %q has fewer than %d units available", ErrInsufficientStock, r.SKU, r.Quantity)
	}
	return nil
}

// Stats counts reservations by outcome. DuplicatedEffects is the number of
// orders with more than one stock movement; anything but 0 means
// idempotency broke.
type Stats struct {
	Reserved          int `json:"reserved"`
	Rejected          int `json:"rejected"`
	DuplicatedEffects int `json:"duplicated_effects"`
}

// Store keeps stock, reservations and the stock-movement ledger in SQLite.
// It is safe for concurrent use; writes are serialised (one connection,
// BEGIN IMMEDIATE), which also keeps two processes on one file consistent.
type Store struct {
	db       *sql.DB
	prepared *sqlstmt.Set // hotStatements
}

// hotStatements are reserveTx's and ReserveBatch's statements, prepared
// once at open (package sqlstmt: not parsed again for every reservation).
var hotStatements = []string{`SAVEPOINT reserve`, `ROLLBACK TO reserve`, `RELEASE reserve`,
	selectReservation, selectAvailable, decrementStock, insertMovement, insertReservation}

const (
	selectAvailable   = `SELECT available FROM stock WHERE sku = ?`
	decrementStock    = `UPDATE stock SET available = available - ? WHERE sku = ?`
	insertMovement    = `INSERT INTO stock_movements (order_id, sku, delta, created_at) VALUES (?, ?, ?, ?)`
	insertReservation = `INSERT INTO reservations (order_id, sku, quantity, status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)`
)

const schema = `
CREATE TABLE IF NOT EXISTS stock (
	sku       TEXT PRIMARY KEY,
	available INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
	order_id   TEXT PRIMARY KEY,
	sku        TEXT NOT NULL,
	quantity   INTEGER NOT NULL,
	status     TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);
-- The ledger: one row per stock change. Deliberately no unique constraint
-- on order_id, so broken idempotency shows up in DuplicatedEffects instead
-- of being hidden by the database.
CREATE TABLE IF NOT EXISTS stock_movements (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	order_id   TEXT NOT NULL,
	sku        TEXT NOT NULL,
	delta      INTEGER NOT NULL,
	created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stock_movements_order_id ON stock_movements (order_id);
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

// Close closes the database.
func (st *Store) Close() error {
	_ = st.prepared.Close()
	return st.db.Close()
}

// Seed inserts the catalog's SKUs that are not yet in the store; existing
// stock is left alone.
func (st *Store) Seed(ctx context.Context, catalog map[string]int) error {
	return st.tx(ctx, func(tx *sql.Tx) error {
		for sku, n := range catalog {
			if _, err := tx.ExecContext(ctx, `INSERT INTO stock (sku, available) VALUES (?, ?) ON CONFLICT (sku) DO NOTHING`, sku, n); err != nil {
				return fmt.Errorf("seed sku %q: %w", sku, err)
			}
		}
		return nil
	})
}

// Available returns the units available for sku, or ErrUnknownSKU.
func (st *Store) Available(ctx context.Context, sku string) (int, error) {
	var n int
	err := st.db.QueryRowContext(ctx, `SELECT available FROM stock WHERE sku = ?`, sku).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q", ErrUnknownSKU, sku)
	}
	if err != nil {
		return 0, fmt.Errorf("read stock of %q: %w", sku, err)
	}
	return n, nil
}

// Reserve reserves qty units of sku for orderID, in one transaction,
// idempotently by orderID. orderID, sku and qty must be within the events
// bounds (events.CheckOrderID, CheckSKU, CheckQuantity), else an error.
//   - The first call decides: with enough stock the stock is decremented,
//     one row is written to the stock-movement ledger and the reservation
//     has StatusReserved; otherwise nothing changes but the stored
//     reservation, StatusRejected with ReasonInsufficientStock (a business
//     outcome, so the error is nil; see Reservation.Err).
//   - A later call with the same sku and qty returns that stored outcome
//     unchanged and changes nothing (a replay).
//   - A later call with another sku or qty changes nothing and returns
//     the stored reservation with an error wrapping ErrOrderIDReused
//     (and events.ErrInvalid, messaging.ErrPermanent: see ErrOrderIDReused).
//
// An unknown SKU returns ErrUnknownSKU and stores nothing. Out-of-bounds
// fields return an error marked messaging.Permanent.
func (st *Store) Reserve(ctx context.Context, orderID, sku string, qty int) (Reservation, error) {
	var r Reservation
	var rerr error
	err := st.tx(ctx, func(tx *sql.Tx) error {
		r, rerr = reserveTx(st.prepared.In(ctx, tx), orderID, sku, qty)
		if errors.Is(rerr, ErrOrderIDReused) {
			return nil // nothing written; r is the stored reservation
		}
		return rerr
	})
	if err != nil {
		if errors.Is(err, ErrUnknownSKU) || messaging.IsPermanent(err) {
			return Reservation{}, err
		}
		return Reservation{}, fmt.Errorf("reserve order %q: %w", orderID, err)
	}
	return r, rerr
}

// ReserveRequest is one reservation of a ReserveBatch.
type ReserveRequest struct {
	OrderID  string
	SKU      string
	Quantity int
}

// ReserveBatch reserves every request as Reserve would, in order, in ONE
// transaction with a savepoint per request: a request that fails (unknown
// SKU, reused order ID, out-of-bounds fields) is rolled back alone and
// the others still commit. Requests for the same order ID within the
// batch see each other (the first decides). It returns one reservation
// and one error per request, in order, with Reserve's meaning; when the
// transaction itself fails (begin, a savepoint, commit) every request
// gets that error and nothing is stored.
func (st *Store) ReserveBatch(ctx context.Context, reqs []ReserveRequest) ([]Reservation, []error) {
	rs, errs := make([]Reservation, len(reqs)), make([]error, len(reqs))
	err := st.tx(ctx, func(tx *sql.Tx) error {
		stx := st.prepared.In(ctx, tx)
		for i, q := range reqs {
			if _, err := stx.Exec(`SAVEPOINT reserve`); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			rs[i], errs[i] = reserveTx(stx, q.OrderID, q.SKU, q.Quantity)
			if errs[i] != nil {
				if _, err := stx.Exec(`ROLLBACK TO reserve`); err != nil {
					return fmt.Errorf("rollback to savepoint: %w", err)
				}
				if !errors.Is(errs[i], ErrUnknownSKU) && !messaging.IsPermanent(errs[i]) {
					errs[i] = fmt.Errorf("reserve order %q: %w", q.OrderID, errs[i])
				}
			}
			if _, err := stx.Exec(`RELEASE reserve`); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("reserve %d orders: %w", len(reqs), err)
		for i := range errs {
			rs[i], errs[i] = Reservation{}, err
		}
	}
	return rs, errs
}

// reserveTx is Reserve's work inside tx. On ErrOrderIDReused it returns
// the stored reservation; it writes only when it returns nil.
func reserveTx(tx *sqlstmt.Tx, orderID, sku string, qty int) (Reservation, error) {
	if err := errors.Join(events.CheckOrderID(orderID), events.CheckSKU(sku), events.CheckQuantity(qty)); err != nil {
		return Reservation{}, messaging.Permanent(fmt.Errorf("reserve order %q: %w", orderID, err))
	}
	prev, err := scanReservation(tx.QueryRow(selectReservation, orderID))
	if err == nil {
		if prev.SKU != sku || prev.Quantity != qty {
			return prev, messaging.Permanent(fmt.Errorf("%w: order %q was reserved for %d x %q, asked %d x %q: %w",
				ErrOrderIDReused, orderID, prev.Quantity, prev.SKU, qty, sku, events.ErrInvalid))
		}
		return prev, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Reservation{}, err
	}
	var avail int
	err = tx.QueryRow(selectAvailable, sku).Scan(&avail)
	if errors.Is(err, sql.ErrNoRows) {
		return Reservation{}, fmt.Errorf("%w: %q", ErrUnknownSKU, sku)
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("read stock of %q: %w", sku, err)
	}
	r := Reservation{OrderID: orderID, SKU: sku, Quantity: qty, Status: StatusRejected, Reason: ReasonInsufficientStock, CreatedAt: time.Now().UTC()}
	now := r.CreatedAt.Format(time.RFC3339Nano)
	if avail >= qty {
		r.Status, r.Reason = StatusReserved, ""
		if _, err := tx.Exec(decrementStock, qty, sku); err != nil {
			return Reservation{}, fmt.Errorf("decrement stock of %q: %w", sku, err)
		}
		if _, err := tx.Exec(insertMovement, orderID, sku, -qty, now); err != nil {
			return Reservation{}, fmt.Errorf("record stock movement: %w", err)
		}
	}
	if _, err := tx.Exec(insertReservation,
		orderID, sku, qty, r.Status, r.Reason, now); err != nil {
		return Reservation{}, fmt.Errorf("store reservation: %w", err)
	}
	return r, nil
}

// Reservation returns the stored reservation of orderID and the number of
// stock movements recorded for it (1 when reserved, 0 when rejected; more
// means a duplicated effect). ErrNotFound when there is none.
func (st *Store) Reservation(ctx context.Context, orderID string) (Reservation, int, error) {
	r, err := scanReservation(st.db.QueryRowContext(ctx, selectReservation, orderID))
	if err != nil {
		return Reservation{}, 0, fmt.Errorf("reservation of order %q: %w", orderID, err)
	}
	var n int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM stock_movements WHERE order_id = ?`, orderID).Scan(&n); err != nil {
		return Reservation{}, 0, fmt.Errorf("count stock movements of order %q: %w", orderID, err)
	}
	return r, n, nil
}

// SetStock sets the available units of sku (>= 0), adding the SKU when
// missing. It writes no ledger row; it is for tests and Pact provider
// states.
func (st *Store) SetStock(ctx context.Context, sku string, available int) error {
	if available < 0 {
		return fmt.Errorf("set stock of %q: negative stock %d", sku, available)
	}
	_, err := st.db.ExecContext(ctx, `INSERT INTO stock (sku, available) VALUES (?, ?) ON CONFLICT (sku) DO UPDATE SET available = excluded.available`, sku, available)
	if err != nil {
		return fmt.Errorf("set stock of %q: %w", sku, err)
	}
	return nil
}

// DuplicatedEffects returns the number of order IDs with more than one
// stock movement.
func (st *Store) DuplicatedEffects(ctx context.Context) (int, error) {
	var n int
	err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT order_id FROM stock_movements GROUP BY order_id HAVING COUNT(*) > 1)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count duplicated effects: %w", err)
	}
	return n, nil
}

// Stats counts reserved and rejected reservations and duplicated effects.
func (st *Store) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := st.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(status = 'reserved'), 0), COALESCE(SUM(status = 'rejected'), 0) FROM reservations`).Scan(&s.Reserved, &s.Rejected)
	if err != nil {
		return Stats{}, fmt.Errorf("count reservations: %w", err)
	}
	if s.DuplicatedEffects, err = st.DuplicatedEffects(ctx); err != nil {
		return Stats{}, err
	}
	return s, nil
}

const selectReservation = `SELECT order_id, sku, quantity, status, reason, created_at FROM reservations WHERE order_id = ?`

func scanReservation(row *sql.Row) (Reservation, error) {
	var r Reservation
	var created string
	err := row.Scan(&r.OrderID, &r.SKU, &r.Quantity, &r.Status, &r.Reason, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Reservation{}, ErrNotFound
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("read reservation: %w", err)
	}
	if r.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return Reservation{}, fmt.Errorf("read reservation: created_at %q: %w", created, err)
	}
	return r, nil
}

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
