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
// read while the writer writes).
type conn struct {
	w, r *sql.DB
}

type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type adapter struct{ q querier }

func (a adapter) Exec(ctx context.Context, q string, args ...any) error {
	_, err := a.q.ExecContext(ctx, positional(q), args...)
	return err
}

func (a adapter) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	rows, err := a.q.QueryContext(ctx, positional(q), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (a adapter) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return sqlRow{a.q.QueryRowContext(ctx, positional(q), args...)}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	return err
}

func (c *conn) Exec(ctx context.Context, q string, args ...any) error {
	return adapter{c.r}.Exec(ctx, q, args...)
}

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	return adapter{c.r}.Query(ctx, q, args...)
}

func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return adapter{c.r}.QueryRow(ctx, q, args...)
}

// Tx runs fn on the writer in a BEGIN IMMEDIATE transaction.
func (c *conn) Tx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(adapter{tx}); err != nil {
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
	return errors.Join(c.r.Close(), c.w.Close())
}
