// Package sqlite is the embedded store: a pure-Go SQLite file
// (modernc.org/sqlite, no cgo) in WAL mode with foreign keys on, one writer
// connection and a few readers, each pool keeping its statements prepared
// per query text (stmts.go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
	"github.com/hotline-dev/hotline/store/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// readers is the size of the read pool.
const readers = 4

// Migrations returns the embedded schema migrations.
func Migrations() ([]migrate.Migration, error) { return migrate.Load(migrationFS, "migrations") }

// Dialect is how SQLite binds timestamps and reports constraint errors.
var dialect = sqlcore.Dialect{
	Name: "sqlite",
	Time: func(t time.Time) any { return t.UnixMicro() },
	Unique: func(err error) bool {
		return code(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	ForeignKey:  func(err error) bool { return code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
	Unavailable: unavailable,
	// See migrations/0009_sync.sql: the batch statements of LogCalls stamp
	// their rows with one bump of the counter.
	Stamp: `UPDATE sync_clock SET n = n + 1 RETURNING n`,
}

func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// Open opens (creating the file and its directory) the database at path
// and applies pending migrations unless o.NoMigrate. o.Timeout is the busy
// timeout (see store.Options).
func Open(ctx context.Context, path string, o store.Options) (*sqlcore.Store, error) {
	c, err := openConn(path, o.Timeout)
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
			return nil, fmt.Errorf("store sqlite %s: %w", path, err)
		}
	}
	st := sqlcore.New(c, dialect, o)
	if !o.NoMigrate {
		if err := st.BackfillTerms(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("store sqlite %s: %w", path, err)
		}
	}
	return st, nil
}

// OpenConn opens the connection without migrating or wrapping (for the
// migrate command and tests).
func OpenConn(path string) (sqlcore.Conn, error) { return openConn(path, 0) }

// Runner returns the migration runner for c.
func Runner(c sqlcore.Conn) (*migrate.Runner, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return &migrate.Runner{Conn: c, Migrations: ms}, nil
}

func openConn(path string, timeout time.Duration) (*conn, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("store sqlite: %w", &store.FieldError{Field: "database.url", Message: "needs a file path (sqlite:./var/hotline.db)"})
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store sqlite: create %s: %w", dir, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyMillis(timeout)))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	// Touch the file on the writer first so WAL mode is set before readers open.
	if err := w.Ping(); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	return newConn(w, r), nil
}
