package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

// conn adapts a pgxpool.Pool to sqlcore.Conn.
type conn struct{ p *pgxpool.Pool }

type adapter struct {
	exec  func(ctx context.Context, sql string, args ...any) error
	query func(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	row   func(ctx context.Context, sql string, args ...any) pgx.Row
}

func poolAdapter(p *pgxpool.Pool) adapter {
	return adapter{
		exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := p.Exec(ctx, sql, args...)
			return err
		},
		query: p.Query, row: p.QueryRow,
	}
}

func txAdapter(tx pgx.Tx) adapter {
	return adapter{
		exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		},
		query: tx.Query, row: tx.QueryRow,
	}
}

func (a adapter) Exec(ctx context.Context, q string, args ...any) error {
	return a.exec(ctx, q, args...)
}

func (a adapter) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	rows, err := a.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (a adapter) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return row{a.row(ctx, q, args...)}
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
	return poolAdapter(c.p).Exec(ctx, q, args...)
}

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	return poolAdapter(c.p).Query(ctx, q, args...)
}

func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return poolAdapter(c.p).QueryRow(ctx, q, args...)
}

// Tx runs fn in a read-committed transaction.
func (c *conn) Tx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	return pgx.BeginFunc(ctx, c.p, func(tx pgx.Tx) error { return fn(txAdapter(tx)) })
}

func (c *conn) Ping(ctx context.Context) error { return c.p.Ping(ctx) }

func (c *conn) Close() error { c.p.Close(); return nil }

// Pool exposes the pool (benchmarks seed with COPY through it).
func (c *conn) Pool() *pgxpool.Pool { return c.p }
