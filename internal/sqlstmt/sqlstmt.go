// Package sqlstmt runs a store's hot SQL statements prepared once.
//
// database/sql prepares a statement on every ExecContext/QueryContext that
// is not run through a *sql.Stmt; modernc.org/sqlite then parses and
// compiles the SQL each time (about 10% of the CPU of `faultline bench`'s
// placement run, 2026-12-03). A *sql.Stmt prepared once keeps its
// compiled program, and Tx.StmtContext reuses it on the transaction's
// connection. The services' stores (one SQLite connection each) prepare
// their hot statements at open with Prepare, and run them in a
// transaction through Set.In.
package sqlstmt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Set is a group of statements prepared on one *sql.DB, keyed by their
// SQL text. Safe for concurrent use (read-only after Prepare).
type Set struct {
	m map[string]*sql.Stmt
}

// Prepare prepares every query on db. Call it before any transaction is
// open: with one connection (SetMaxOpenConns(1)) it needs that connection.
// On error nothing stays prepared.
func Prepare(ctx context.Context, db *sql.DB, queries ...string) (*Set, error) {
	s := &Set{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		ps, err := db.PrepareContext(ctx, q)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		s.m[q] = ps
	}
	return s, nil
}

// Close closes the prepared statements.
func (s *Set) Close() error {
	var errs []error
	for _, ps := range s.m {
		errs = append(errs, ps.Close())
	}
	return errors.Join(errs...)
}

// Tx runs statements in one transaction: a query of the Set through its
// prepared statement (bound to the transaction on first use), any other
// query as text.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	set   *Set
	bound map[string]*sql.Stmt
}

// In returns a Tx running statements in tx under ctx.
func (s *Set) In(ctx context.Context, tx *sql.Tx) *Tx {
	return &Tx{ctx: ctx, tx: tx, set: s, bound: map[string]*sql.Stmt{}}
}

func (t *Tx) stmt(q string) *sql.Stmt {
	if st, ok := t.bound[q]; ok {
		return st
	}
	ps, ok := t.set.m[q]
	if !ok {
		return nil
	}
	st := t.tx.StmtContext(t.ctx, ps)
	t.bound[q] = st
	return st
}

// Exec is sql.Tx.ExecContext.
func (t *Tx) Exec(q string, args ...any) (sql.Result, error) {
	if st := t.stmt(q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

// QueryRow is sql.Tx.QueryRowContext.
func (t *Tx) QueryRow(q string, args ...any) *sql.Row {
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}
