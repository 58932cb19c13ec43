// Package postgres is the production store on PostgreSQL through a pgx
// connection pool. It is the history that the email and chat systems share.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
	"github.com/hotline-dev/hotline/store/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the embedded schema migrations.
func Migrations() ([]migrate.Migration, error) { return migrate.Load(migrationFS, "migrations") }

var dialect = sqlcore.Dialect{
	Name:       "postgres",
	Time:       func(t time.Time) any { return t },
	Unique:     func(err error) bool { return pgCode(err) == "23505" },
	ForeignKey: func(err error) bool { return pgCode(err) == "23503" },
	// 40001 serialization_failure, 40P01 deadlock_detected.
	Transient:   func(err error) bool { c := pgCode(err); return c == "40001" || c == "40P01" },
	Unavailable: unavailable,
	// LogCalls builds statements whose length varies with the batch; in the
	// prepared-statement cache they would churn it (measured 1.6x slower).
	// Other statements stay cached prepared statements (the timeline's p50
	// halves with them).
	BatchArgs: []any{pgx.QueryExecModeCacheDescribe},
	// Transaction ids are taken before commit: a sync list reads below the
	// oldest one still running (see migrations/0009_sync.sql).
	SyncHorizon: `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`,
	// Keyed by the schema: nodes of one deployment share the lock, tests
	// and deployments in other schemas of the database do not. Held to
	// the claim's commit; the UPDATE that follows takes its snapshot
	// after the previous claim committed, so it sees that claim's rows.
	ClaimLock: `SELECT pg_advisory_xact_lock(hashtext('hotline.webhook_claims.' || current_schema()))`,
	// The callback request bounds: every node's requests count in turn
	// (keyed by the schema, like ClaimLock).
	BoundsLock:    `SELECT pg_advisory_xact_lock(hashtext('hotline.callback_bounds.' || current_schema()))`,
	MoreQueueRecs: leaderRecs,
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// lock serialises concurrent migrators (two replicas starting at once).
const lock = `LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE`

// Open connects to url (postgres://..., any pgxpool parameter such as
// pool_max_conns or search_path) and applies pending migrations unless
// o.NoMigrate. It fails when the server does not answer. o.Timeout sets
// the connect timeout and statement_timeout (see store.Options).
func Open(ctx context.Context, url string, o store.Options) (*sqlcore.Store, error) {
	c, err := openConn(ctx, url, o.Timeout)
	if err != nil {
		return nil, err
	}
	if !o.NoMigrate {
		r, err := Runner(c)
		if err == nil {
			_, err = r.Up(ctx)
		}
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("store postgres: %w", err)
		}
	}
	st := sqlcore.New(c, dialect, o)
	if !o.NoMigrate {
		if err := st.BackfillTerms(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("store postgres: %w", err)
		}
	}
	return st, nil
}

// OpenConn connects without migrating (for the migrate command and tests)
// and without timeouts beyond ctx: a migration may take long.
func OpenConn(ctx context.Context, url string) (sqlcore.Conn, error) { return openConn(ctx, url, 0) }

func openConn(ctx context.Context, url string, timeout time.Duration) (*conn, error) {
	p, cfg, err := connect(ctx, url, timeout)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		err = fmt.Errorf("store postgres %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
		if unavailable(err) {
			err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return nil, err
	}
	return &conn{p: p}, nil
}

// Runner returns the migration runner for c.
func Runner(c sqlcore.Conn) (*migrate.Runner, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return &migrate.Runner{Conn: c, Migrations: ms, Lock: lock}, nil
}
