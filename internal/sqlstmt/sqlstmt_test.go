package sqlstmt_test

import (
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"database/sql"

	"github.com/faultline-harness/faultline/internal/sqlstmt"
)

// A prepared query and a text query run in one transaction on a
// one-connection database (no deadlock), and the writes commit.
func TestSetInTx(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO kv (k, v) VALUES (?, ?)`
	set, err := sqlstmt.Prepare(t.Context(), db, ins)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for round := range 2 {
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		q := set.In(t.Context(), tx)
		for i := range 3 {
			if _, err := q.Exec(ins, string(rune('a'+round*3+i)), i); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := q.QueryRow(`SELECT COUNT(*) FROM kv`).Scan(&n); err != nil || n != 3*(round+1) {
			t.Fatalf("round %d: count %d, %v", round, n, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sqlstmt.Prepare(t.Context(), db, `SELECT nope FROM missing`); err == nil {
		t.Error("Prepare of invalid SQL succeeded")
	}
}
