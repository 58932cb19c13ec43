// Package migrate applies versioned SQL migrations embedded in a backend.
// Each migration runs in its own transaction together with its row in
// schema_migrations (version, name, checksum), so a migration that fails
// leaves the schema as it was; a changed checksum of an applied migration is
// refused rather than ignored.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

var (
	// ErrChecksum means an applied migration's SQL differs from the binary's.
	ErrChecksum = errors.New("migrate: applied migration was changed")
	// ErrUnknown means the database has a migration this binary lacks (it
	// was migrated by a newer Hotline).
	ErrUnknown = errors.New("migrate: database has a migration unknown to this binary")
	// ErrBadName means a migration file is not named NNNN_name.sql.
	ErrBadName = errors.New("migrate: bad migration file name")
)

// Migration is one versioned SQL file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // sha256 of SQL, hex
}

// Load reads dir/NNNN_name.sql from fsys, in version order.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", dir, err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("%w: %s", ErrBadName, e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("%w: %s and %s share version %d", ErrBadName, prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Runner applies a set of migrations to one database.
type Runner struct {
	Conn       sqlcore.Conn
	Migrations []Migration
	// Lock is run first in every migration transaction to serialise
	// concurrent migrators (PostgreSQL: LOCK TABLE ...); "" for none.
	Lock string
	Now  func() time.Time
}

// Status is one migration as the database sees it.
type Status struct {
	Version   int
	Name      string
	Checksum  string
	Applied   bool
	AppliedAt string // RFC 3339, "" when pending
	Changed   bool   // applied with another checksum
	Unknown   bool   // applied but absent from the binary
}

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	checksum TEXT NOT NULL,
	applied_at TEXT NOT NULL)`

type applied struct{ name, checksum, at string }

func (r *Runner) ensure(ctx context.Context) error {
	if err := r.Conn.Tx(ctx, func(q sqlcore.Querier) error { return q.Exec(ctx, createTable) }); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	return nil
}

func readApplied(ctx context.Context, q sqlcore.Querier) (map[int]applied, error) {
	rows, err := q.Query(ctx, `SELECT version, name, checksum, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]applied{}
	for rows.Next() {
		var v int64
		var a applied
		if err := rows.Scan(&v, &a.name, &a.checksum, &a.at); err != nil {
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		out[int(v)] = a
	}
	return out, rows.Err()
}

// Status lists every migration known to the binary or the database.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	done, err := readApplied(ctx, r.Conn)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, m := range r.Migrations {
		st := Status{Version: m.Version, Name: m.Name, Checksum: m.Checksum}
		if a, ok := done[m.Version]; ok {
			st.Applied, st.AppliedAt, st.Changed = true, a.at, a.checksum != m.Checksum
			delete(done, m.Version)
		}
		out = append(out, st)
	}
	for v, a := range done {
		out = append(out, Status{Version: v, Name: a.name, Checksum: a.checksum, Applied: true, AppliedAt: a.at, Unknown: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Up applies every pending migration in order, each in its own transaction,
// and returns those it applied. It stops at the first failure; migrations
// applied before it stay applied.
func (r *Runner) Up(ctx context.Context) ([]Migration, error) {
	sts, err := r.Status(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		switch {
		case st.Unknown:
			return nil, fmt.Errorf("%w: version %d (%s)", ErrUnknown, st.Version, st.Name)
		case st.Changed:
			return nil, fmt.Errorf("%w: version %d (%s)", ErrChecksum, st.Version, st.Name)
		}
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	var did []Migration
	for _, m := range r.Migrations {
		ran := false
		err := r.Conn.Tx(ctx, func(q sqlcore.Querier) error {
			if r.Lock != "" {
				if err := q.Exec(ctx, r.Lock); err != nil {
					return err
				}
			}
			var sum string
			err := q.QueryRow(ctx, `SELECT checksum FROM schema_migrations WHERE version = $1`, m.Version).Scan(&sum)
			if err == nil {
				if sum != m.Checksum {
					return fmt.Errorf("%w: version %d (%s)", ErrChecksum, m.Version, m.Name)
				}
				return nil // applied meanwhile by another process
			}
			if !errors.Is(err, sqlcore.ErrNoRows) {
				return err
			}
			if err := q.Exec(ctx, m.SQL); err != nil {
				return err
			}
			ran = true
			return q.Exec(ctx, `INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)`,
				m.Version, m.Name, m.Checksum, now().UTC().Format(time.RFC3339))
		})
		if err != nil {
			return did, fmt.Errorf("migrate: version %d (%s): %w", m.Version, m.Name, err)
		}
		if ran {
			did = append(did, m)
		}
	}
	return did, nil
}
