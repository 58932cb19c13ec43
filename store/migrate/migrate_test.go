package migrate_test

import (
	"errors"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/hotline-dev/hotline/store/internal/sqlcore"
	"github.com/hotline-dev/hotline/store/migrate"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
)

func backends(t *testing.T) map[string]func(t *testing.T) sqlcore.Conn {
	return map[string]func(t *testing.T) sqlcore.Conn{
		"sqlite": func(t *testing.T) sqlcore.Conn {
			c, err := sqlite.OpenConn(filepath.Join(t.TempDir(), "m.db"))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		"postgres": func(t *testing.T) sqlcore.Conn {
			c, err := postgres.OpenConn(t.Context(), pgtest.Schema(t))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}
}

// A broken migration in a test-only set: the second file creates a table
// and then fails, so its transaction must leave no table behind.
var broken = fstest.MapFS{
	"m/0001_first.sql":  {Data: []byte("CREATE TABLE first_t (id INTEGER PRIMARY KEY);\nINSERT INTO first_t (id) VALUES (1);")},
	"m/0002_second.sql": {Data: []byte("CREATE TABLE second_t (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);")},
}

func tableExists(t *testing.T, c sqlcore.Conn, name string) bool {
	t.Helper()
	var n int64
	// Selecting from a missing table is an error on both backends.
	err := c.QueryRow(t.Context(), `SELECT count(*) FROM `+name).Scan(&n)
	return err == nil
}

func TestFailedMigrationLeavesSchema(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := open(t)
			defer c.Close()
			ms, err := migrate.Load(broken, "m")
			if err != nil {
				t.Fatal(err)
			}
			r := &migrate.Runner{Conn: c, Migrations: ms}
			did, err := r.Up(t.Context())
			if err == nil || len(did) != 1 || did[0].Version != 1 {
				t.Fatalf("Up = %v, %v; want version 1 applied then an error", did, err)
			}
			if !tableExists(t, c, "first_t") || tableExists(t, c, "second_t") {
				t.Fatal("schema after failed migration: want first_t only")
			}
			st, err := r.Status(t.Context())
			if err != nil || len(st) != 2 || !st[0].Applied || st[1].Applied {
				t.Fatalf("status = %+v, %v", st, err)
			}
			// Fixing the file lets it apply; a second Up does nothing.
			fixed := fstest.MapFS{"m/0001_first.sql": broken["m/0001_first.sql"],
				"m/0002_second.sql": {Data: []byte("CREATE TABLE second_t (id INTEGER PRIMARY KEY);")}}
			if r.Migrations, err = migrate.Load(fixed, "m"); err != nil {
				t.Fatal(err)
			}
			if did, err = r.Up(t.Context()); err != nil || len(did) != 1 || did[0].Version != 2 {
				t.Fatalf("Up after fix = %v, %v", did, err)
			}
			if did, err = r.Up(t.Context()); err != nil || len(did) != 0 {
				t.Fatalf("second Up = %v, %v", did, err)
			}
			// Editing an applied migration is refused.
			edited := fstest.MapFS{"m/0001_first.sql": {Data: []byte("CREATE TABLE other (id INTEGER);")}, "m/0002_second.sql": fixed["m/0002_second.sql"]}
			r.Migrations, _ = migrate.Load(edited, "m")
			if _, err := r.Up(t.Context()); !errors.Is(err, migrate.ErrChecksum) {
				t.Fatalf("Up with an edited migration = %v; want ErrChecksum", err)
			}
			// A database ahead of the binary is refused.
			r.Migrations = r.Migrations[:0]
			if _, err := r.Up(t.Context()); !errors.Is(err, migrate.ErrUnknown) {
				t.Fatalf("Up on a newer database = %v; want ErrUnknown", err)
			}
		})
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	for _, fs := range []fstest.MapFS{
		{"m/first.sql": {Data: []byte("x")}},
		{"m/0001.sql": {Data: []byte("x")}},
		{"m/0001_a.sql": {Data: []byte("x")}, "m/1_b.sql": {Data: []byte("y")}},
	} {
		if _, err := migrate.Load(fs, "m"); !errors.Is(err, migrate.ErrBadName) {
			t.Errorf("Load(%v) = %v; want ErrBadName", fs, err)
		}
	}
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	for name, load := range map[string]func() ([]migrate.Migration, error){"sqlite": sqlite.Migrations, "postgres": postgres.Migrations} {
		ms, err := load()
		if err != nil || len(ms) == 0 || ms[0].Version != 1 {
			t.Errorf("%s migrations = %v, %v", name, ms, err)
		}
	}
}
