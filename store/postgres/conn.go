package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

// connect opens a pool on url. With timeout > 0, it bounds what the
// client's context cannot bound on the server's side and sets a connect
// timeout, unless the URL sets its own: statement_timeout makes the server
// abandon a statement the client gave up on (a hung or overloaded server
// keeps no work queued behind a request that already failed), and
// connect_timeout bounds the TCP connect and startup exchange with a
// server that accepts connections but does not answer. The pool has no
// acquire timeout of its own; each caller's context bounds waiting for a
// connection.
func connect(ctx context.Context, url string, timeout time.Duration) (*pgxpool.Pool, *pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("store postgres: %w", &store.FieldError{Field: "database.url", Message: err.Error()})
	}
	if timeout > 0 {
		if cfg.ConnConfig.ConnectTimeout == 0 {
			cfg.ConnConfig.ConnectTimeout = timeout
		}
		if _, set := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !set {
			cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(timeout.Milliseconds())
		}
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("store postgres: %w", err)
	}
	return p, cfg, nil
}

// unavailable reports errors that mean the server did not answer: the
// connection could not be made or was lost, the server is shutting down,
// starting or out of connections, or a deadline ran out (the caller's, the
// connect timeout, statement_timeout or lock_timeout).
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	// Class 08: connection exception. 57P01-03: admin or crash shutdown,
	// cannot connect now. 53300: too many connections. 57014: query
	// canceled (statement_timeout). 55P03: lock not available (lock_timeout).
	switch c := pgCode(err); {
	case strings.HasPrefix(c, "08"), c == "57P01", c == "57P02", c == "57P03", c == "53300", c == "57014", c == "55P03":
		return true
	}
	return false
}

// conn adapts a pgxpool.Pool to sqlcore.Conn.
type conn struct{ p *pgxpool.Pool }

// pgxQuerier is what a pool, a connection and a transaction of pgx have
// in common.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// adapter is a pgxQuerier as a sqlcore.Querier.
type adapter struct{ q pgxQuerier }

func (a adapter) Exec(ctx context.Context, q string, args ...any) error {
	_, err := a.q.Exec(ctx, q, args...)
	return err
}

func (a adapter) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	rows, err := a.q.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (a adapter) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return row{a.q.QueryRow(ctx, q, args...)}
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	return err
}

func (c *conn) Exec(ctx context.Context, q string, args ...any) error {
	return adapter{c.p}.Exec(ctx, q, args...)
}

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	return adapter{c.p}.Query(ctx, q, args...)
}

func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return adapter{c.p}.QueryRow(ctx, q, args...)
}

// Tx runs fn in a read-committed transaction.
func (c *conn) Tx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	return pgx.BeginFunc(ctx, c.p, func(tx pgx.Tx) error { return fn(adapter{tx}) })
}

func (c *conn) Ping(ctx context.Context) error { return c.p.Ping(ctx) }

func (c *conn) Close() error { c.p.Close(); return nil }

// Pool exposes the pool (benchmarks seed with COPY through it).
func (c *conn) Pool() *pgxpool.Pool { return c.p }
