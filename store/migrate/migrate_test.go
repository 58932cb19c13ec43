package migrate_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hotline-dev/hotline/store"
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

// TestCallLegsMigrationKeepsCalls: a call logged under 0001 (call_id
// unique) survives 0002 with an empty From tag and no legs, is still a
// duplicate of itself, and a later call reusing its Call-ID with a From
// tag is a second interaction. Both backends.
func TestCallLegsMigrationKeepsCalls(t *testing.T) {
	type backend struct {
		conn  func(t *testing.T) (sqlcore.Conn, func(sqlcore.Conn) (*migrate.Runner, error))
		store func(t *testing.T) store.Store
	}
	var sqlitePath, pgURL string
	backends := map[string]backend{
		"sqlite": {
			conn: func(t *testing.T) (sqlcore.Conn, func(sqlcore.Conn) (*migrate.Runner, error)) {
				sqlitePath = filepath.Join(t.TempDir(), "up.db")
				c, err := sqlite.OpenConn(sqlitePath)
				if err != nil {
					t.Fatal(err)
				}
				return c, sqlite.Runner
			},
			store: func(t *testing.T) store.Store {
				s, err := sqlite.Open(t.Context(), sqlitePath, store.Options{DefaultCountry: "VN"})
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
		},
		"postgres": {
			conn: func(t *testing.T) (sqlcore.Conn, func(sqlcore.Conn) (*migrate.Runner, error)) {
				pgURL = pgtest.Schema(t)
				c, err := postgres.OpenConn(t.Context(), pgURL)
				if err != nil {
					t.Fatal(err)
				}
				return c, postgres.Runner
			},
			store: func(t *testing.T) store.Store {
				s, err := postgres.Open(t.Context(), pgURL, store.Options{DefaultCountry: "VN"})
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
		},
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			c, runner := b.conn(t)
			r, err := runner(c)
			if err != nil {
				t.Fatal(err)
			}
			all := r.Migrations
			r.Migrations = all[:1]
			if _, err := r.Up(t.Context()); err != nil {
				t.Fatal(err)
			}
			// A call as 0001 stored it (timestamps bound as each backend keeps them).
			at := any(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
			if name == "sqlite" {
				at = at.(time.Time).UnixMicro()
			}
			err = c.Tx(t.Context(), func(q sqlcore.Querier) error {
				for _, stmt := range []string{
					`INSERT INTO customers (id, name, tier, attributes, created_at, updated_at) VALUES (1, '+84912345678', 'new', '{}', $1, $1)`,
					`INSERT INTO customer_contacts (customer_id, kind, value) VALUES (1, 'phone', '+84912345678')`,
					`INSERT INTO interactions (id, customer_id, channel, direction, started_at, summary, created_at) VALUES (1, 1, 'voice', 'inbound', $1, 'old call', $1)`,
					`INSERT INTO voice_calls (interaction_id, call_id, caller_number, queue, agent, outcome, hangup_side) VALUES (1, 'old@host', '+84912345678', 'technical', 'lan', 'completed', 'caller')`,
				} {
					var a []any
					if strings.Contains(stmt, "$1") {
						a = []any{at}
					}
					if err := q.Exec(t.Context(), stmt, a...); err != nil {
						return fmt.Errorf("%s: %w", stmt, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			r.Migrations = all
			if did, err := r.Up(t.Context()); err != nil || len(did) != len(all)-1 || did[0].Name != "call_legs" {
				t.Fatalf("Up = %v, %v; want 0002 call_legs applied", did, err)
			}
			c.Close()

			s := b.store(t)
			defer s.Close()
			in, err := s.GetInteraction(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if v := in.Voice; v == nil || v.CallID != "old@host" || v.FromTag != "" || v.Legs == nil || len(v.Legs) != 0 ||
				v.Agent != "lan" || v.HangupSide != store.SideCaller {
				t.Fatalf("old call after 0002: %+v", in.Voice)
			}
			rec := store.CallRecord{Voice: store.VoiceDetails{CallID: "old@host", CallerNumber: "+84912345678", Outcome: store.OutcomeCompleted}}
			res, err := s.LogCall(t.Context(), rec) // a replay from an old spool: no From tag
			if err != nil || !res.Duplicate || res.InteractionID != 1 {
				t.Fatalf("replay of the old call = %+v, %v; want a duplicate of 1", res, err)
			}
			rec.Voice.FromTag = "new-tag"
			if res, err = s.LogCall(t.Context(), rec); err != nil || res.Duplicate || res.InteractionID == 1 {
				t.Fatalf("a new call reusing the Call-ID = %+v, %v; want a new interaction", res, err)
			}
		})
	}
}

// TestAgentCallsMigrationKeepsRecs: queue records written under 0005
// survive 0006 (no agent), and the new kind naming its agent is stored
// after it. Both backends.
func TestAgentCallsMigrationKeepsRecs(t *testing.T) {
	type backend struct {
		conn  func(t *testing.T) (sqlcore.Conn, func(sqlcore.Conn) (*migrate.Runner, error), any)
		store func(t *testing.T) store.Store
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var sqlitePath, pgURL string
	backends := map[string]backend{
		"sqlite": {
			conn: func(t *testing.T) (sqlcore.Conn, func(sqlcore.Conn) (*migrate.Runner, error), any) {
				sqlitePath = filepath.Join(t.TempDir(), "up.db")
				c, err := sqlite.OpenConn(sqlitePath)
				if err != nil {
					t.Fatal(err)
				}
				return c, sqlite.Runner, at.UnixMicro()
			},
			store: func(t *testing.T) store.Store {
				s, err := sqlite.Open(t.Context(), sqlitePath, store.Options{DefaultCountry: "VN"})
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
		},
		"postgres": {
			conn: func(t *testing.T) (sqlcore.Conn, func(sqlcore.Conn) (*migrate.Runner, error), any) {
				pgURL = pgtest.Schema(t)
				c, err := postgres.OpenConn(t.Context(), pgURL)
				if err != nil {
					t.Fatal(err)
				}
				return c, postgres.Runner, at
			},
			store: func(t *testing.T) store.Store {
				s, err := postgres.Open(t.Context(), pgURL, store.Options{DefaultCountry: "VN"})
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
		},
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			c, runner, bound := b.conn(t)
			r, err := runner(c)
			if err != nil {
				t.Fatal(err)
			}
			all := r.Migrations
			before := slices.IndexFunc(all, func(m migrate.Migration) bool { return m.Name == "agent_calls" })
			if before < 0 {
				t.Fatal("no agent_calls migration")
			}
			r.Migrations = all[:before] // the schema before 0006; the later ones apply with it below
			if _, err := r.Up(t.Context()); err != nil {
				t.Fatal(err)
			}
			err = c.Tx(t.Context(), func(q sqlcore.Querier) error {
				return q.Exec(t.Context(), `INSERT INTO queue_recs (id, queue, at, kind, call_id, duration_us) VALUES ('b1-1', 'sales', $1, 'answered', 'c1', 12)`, bound)
			})
			if err != nil {
				t.Fatal(err)
			}
			r.Migrations = all
			if did, err := r.Up(t.Context()); err != nil || len(did) != len(all)-before || did[0].Name != "agent_calls" {
				t.Fatalf("Up = %v, %v; want 0006 and the later ones applied", did, err)
			}
			c.Close()

			s := b.store(t)
			defer s.Close()
			rs, ok := s.(store.Runtime)
			if !ok {
				t.Fatalf("%T is not a store.Runtime", s)
			}
			taken := store.QueueRec{ID: "b2-1", Queue: "sales", At: at.Add(time.Second), Kind: store.RecAgentAnswered, CallID: "c2", Agent: "lan"}
			if err := rs.AppendQueueRecs(t.Context(), []store.QueueRec{taken}); err != nil {
				t.Fatal(err)
			}
			got, err := rs.QueueRecs(t.Context(), at.Add(-time.Hour))
			want := []store.QueueRec{{ID: "b1-1", Queue: "sales", At: at, Kind: store.RecAnswered, CallID: "c1", Duration: 12 * time.Microsecond}, taken}
			if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Fatalf("records after 0006 = %+v, %v\nwant %+v", got, err, want)
			}
			if err := rs.AppendQueueRecs(t.Context(), []store.QueueRec{{ID: "b2-2", Queue: "sales", At: at, Kind: "lost"}}); err == nil {
				t.Fatal("an unknown kind was stored after 0006")
			}
		})
	}
}
