package recording_test

import (
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// rowCounter counts the chunk rows left of a key: what a delete must
// remove, not just hide. nil for the Dir store.
type rowCounter func(t *testing.T, key string) int

// impl is one recording.Store under test, with the database holding the
// recordings table.
type impl struct {
	name string
	open func(t testing.TB) (recording.Store, store.Recordings, rowCounter)
}

// impls: the filesystem Dir (with SQLite for the rows), and the database
// store on real SQLite and on the real PostgreSQL (a fresh schema;
// skipped without a server unless HOTLINE_REQUIRE_PG=1).
var impls = []impl{
	{name: "dir", open: func(t testing.TB) (recording.Store, store.Recordings, rowCounter) {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		d, err := recording.NewDir(filepath.Join(t.TempDir(), "recordings"))
		if err != nil {
			t.Fatal(err)
		}
		return d, db, nil
	}},
	{name: "database-sqlite", open: func(t testing.TB) (recording.Store, store.Recordings, rowCounter) {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return recording.NewDatabase(db), db, func(t *testing.T, key string) int {
			var n int
			if err := db.Conn().QueryRow(t.Context(), `SELECT count(*) FROM recording_audio_chunks WHERE key = $1`, key).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}},
	{name: "database-postgres", open: func(t testing.TB) (recording.Store, store.Recordings, rowCounter) {
		db, err := postgres.Open(t.Context(), pgtest.Schema(t), store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return recording.NewDatabase(db), db, func(t *testing.T, key string) int {
			var n int
			if err := db.Conn().QueryRow(t.Context(), `SELECT count(*) FROM recording_audio_chunks WHERE key = $1`, key).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}},
}

// eachImpl runs fn on every implementation.
func eachImpl(t *testing.T, fn func(t *testing.T, s recording.Store, index store.Recordings, left rowCounter)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, index, left := im.open(t)
			fn(t, s, index, left)
		})
	}
}
