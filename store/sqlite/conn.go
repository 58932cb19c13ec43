package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

// defaultBusy is how long a statement waits for a lock another process
// holds (hotline migrate, a backup) when Options.Timeout is 0.
const defaultBusy = 10 * time.Second

// busyMillis is the busy_timeout pragma for timeout.
func busyMillis(timeout time.Duration) int64 {
	if timeout <= 0 {
		timeout = defaultBusy
	}
	return timeout.Milliseconds()
}

// unavailable reports errors that mean the database file did not answer:
// locked by another process past the busy timeout, interrupted at a
// deadline, or unreadable (I/O error, cannot open, disk full).
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch code(err) & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL:
		return true
	}
	return false
}

// conn has one writer connection (SQLite allows one writer; serialising in
// the pool avoids busy errors) and a small pool of readers (WAL lets them
// read while the writer writes), each with its kept statements (stmts.go).
type conn struct {
	w, r   *sql.DB
	ws, rs *stmts
}

func newConn(w, r *sql.DB) *conn { return &conn{w: w, r: r, ws: newStmts(w), rs: newStmts(r)} }

type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// adapter runs the store's statements on a pool (tx nil) or in a
// transaction, through the kept statement of each text when there is one.
type adapter struct {
	q  querier
	st *stmts
	tx *txState
}

// txState is what a transaction's adapter tracks: the texts whose rows are
// still open, because a kept statement is one SQLite statement on the
// writer's connection and running it again would reset those rows.
type txState struct {
	tx   *sql.Tx
	open map[string]int
}

// stmt is the kept statement to run q with, or nil to run q unprepared.
func (a adapter) stmt(ctx context.Context, q string) *sql.Stmt {
	if a.tx == nil {
		return a.st.get(ctx, q)
	}
	if a.tx.open[q] > 0 {
		return nil
	}
	st := a.st.lookup(q)
	if st == nil {
		return nil
	}
	return a.tx.tx.StmtContext(ctx, st)
}

func (a adapter) Exec(ctx context.Context, q string, args ...any) error {
	if st := a.stmt(ctx, q); st != nil {
		_, err := st.ExecContext(ctx, args...)
		return err
	}
	_, err := a.q.ExecContext(ctx, positional(q), args...)
	return err
}

func (a adapter) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := a.stmt(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = a.q.QueryContext(ctx, positional(q), args...)
	}
	if err != nil {
		return nil, err
	}
	if a.tx == nil {
		return sqlRows{Rows: rows}, nil
	}
	a.tx.open[q]++
	return sqlRows{Rows: rows, done: func() { a.tx.open[q]-- }}, nil
}

func (a adapter) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	if st := a.stmt(ctx, q); st != nil {
		return sqlRow{st.QueryRowContext(ctx, args...)}
	}
	return sqlRow{a.q.QueryRowContext(ctx, positional(q), args...)}
}

type sqlRows struct {
	*sql.Rows
	done func() // once, at Close (nil outside a transaction)
}

func (r sqlRows) Close() {
	_ = r.Rows.Close()
	if r.done != nil {
		r.done()
	}
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	return err
}

func (c *conn) Exec(ctx context.Context, q string, args ...any) error {
	return adapter{q: c.r, st: c.rs}.Exec(ctx, q, args...)
}

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	return adapter{q: c.r, st: c.rs}.Query(ctx, q, args...)
}

func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return adapter{q: c.r, st: c.rs}.QueryRow(ctx, q, args...)
}

// Tx runs fn on the writer in a BEGIN IMMEDIATE transaction.
func (c *conn) Tx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	c.ws.prepareWanted(ctx) // while the writer's connection is free
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(adapter{q: tx, st: c.ws, tx: &txState{tx: tx, open: map[string]int{}}}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (c *conn) Ping(ctx context.Context) error {
	if err := c.w.PingContext(ctx); err != nil {
		return err
	}
	return c.r.PingContext(ctx)
}

func (c *conn) Close() error {
	return errors.Join(c.rs.close(), c.ws.close(), c.r.Close(), c.w.Close())
}
