package pgtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// HoldTable takes an ACCESS EXCLUSIVE lock on table (in the schema of
// url) in a transaction of its own, so that any statement reading it
// waits: a test makes a read as slow as it likes, and ends the wait when
// it likes, without sleeping. release rolls the transaction back (once;
// also when the test ends).
func HoldTable(t testing.TB, url, table string) (release func()) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{table}.Sanitize()+` IN ACCESS EXCLUSIVE MODE`)
	}
	if err != nil {
		_ = c.Close(ctx)
		t.Fatalf("hold table %s: %v", table, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = c.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// WaitLeaderWaits waits, up to 10 s, until the session that holds the
// cluster's leader lock (the schema's, store/postgres) waits for a lock on
// table: a takeover's read is blocked behind HoldTable.
func WaitLeaderWaits(t testing.TB, url, table string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks w JOIN pg_locks h ON h.pid = w.pid
			WHERE w.relation = $1::regclass AND NOT w.granted
			AND h.locktype = 'advisory' AND h.granted AND h.objsubid = 2
			AND h.classid = x'484f544c'::int4::oid AND h.objid = hashtext(current_schema())::oid)`, table).Scan(&waiting); err != nil {
			t.Fatalf("does the leader wait on %s: %v", table, err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader's session does not wait on %s after 10 s", table)
		}
		time.Sleep(10 * time.Millisecond) // polling the server's lock table with a bound
	}
}
