package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

func keptStmts(s *stmts) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// TestLogCallsTextsKept: a LogCalls batch's statements depend only on its
// size (the change_tx stamp is a parameter, not a literal), so a second
// batch of the same size runs on the statements the first one kept.
func TestLogCallsTextsKept(t *testing.T) {
	ctx := t.Context()
	c, err := openConn(filepath.Join(t.TempDir(), "kept.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := Runner(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Up(ctx); err != nil {
		t.Fatal(err)
	}
	st := sqlcore.New(c, dialect, store.Options{})
	batch := func(n int) {
		t.Helper()
		now := time.Now()
		recs := make([]store.CallRecord, 2)
		for i := range recs {
			recs[i] = store.CallRecord{StartedAt: now.Add(-time.Minute), EndedAt: now, Direction: store.DirectionInbound,
				Voice: store.VoiceDetails{CallID: fmt.Sprintf("kept-%d-%d@host", n, i), FromTag: "t",
					CallerNumber: fmt.Sprintf("+3314%07d", 10*n+i), CalledNumber: "+33100000000"}}
		}
		res, err := st.LogCalls(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		for _, lr := range res {
			if lr.Duplicate || lr.InteractionID == 0 {
				t.Fatalf("batch %d: %+v", n, lr)
			}
		}
	}
	// The first batch meets its texts in a transaction: they are
	// prepared before the next one, which meets them again.
	batch(1)
	batch(2)
	kept := keptStmts(c.ws)
	if kept == 0 {
		t.Fatal("no statement kept on the writer")
	}
	for n := 3; n < 8; n++ {
		batch(n)
	}
	c.ws.prepareWanted(ctx)
	if got := keptStmts(c.ws); got != kept {
		t.Errorf("kept statements grew from %d to %d over batches of the same size", kept, got)
	}
}

// TestTxKeptStmtRowsOpen: a kept statement run again in the transaction
// while its rows are still open runs unprepared, not over those rows.
func TestTxKeptStmtRowsOpen(t *testing.T) {
	ctx := t.Context()
	c, err := openConn(filepath.Join(t.TempDir(), "rows.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Tx(ctx, func(q sqlcore.Querier) error {
		return q.Exec(ctx, `CREATE TABLE t (n INTEGER)`)
	}); err != nil {
		t.Fatal(err)
	}
	const sel = `SELECT n FROM t WHERE n >= $1 ORDER BY n`
	run := func() []int64 {
		var outer []int64
		if err := c.Tx(ctx, func(q sqlcore.Querier) error {
			if err := q.Exec(ctx, `INSERT INTO t (n) VALUES ($1), ($2), ($3)`, 1, 2, 3); err != nil {
				return err
			}
			rows, err := q.Query(ctx, sel, 0)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var n int64
				if err := rows.Scan(&n); err != nil {
					return err
				}
				outer = append(outer, n)
				var m int64
				if err := q.QueryRow(ctx, sel, n).Scan(&m); err != nil { // same text, rows open
					return err
				}
				if m != n {
					return fmt.Errorf("inner query from %d: %d", n, m)
				}
			}
			return rows.Err()
		}); err != nil {
			t.Fatal(err)
		}
		return outer
	}
	run()        // meets sel: prepared before the next transaction
	got := run() // on the kept statement
	if keptStmts(c.ws) == 0 {
		t.Fatal("no statement kept on the writer")
	}
	if len(got) != 6 {
		t.Errorf("outer rows %v; want 6 (1 1 2 2 3 3)", got)
	}
}
