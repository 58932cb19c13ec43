package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
	"github.com/hotline-dev/hotline/store/storetest"
)

func openFresh(t *testing.T) store.Store {
	t.Helper()
	path := filepath.Join(dbDir(t), "sub", "hotline.db")
	freshCopy(t, path)
	s, err := sqlite.Open(t.Context(), path, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenMakesTheDirectory: a database in a directory not yet made (the
// conformance tests start from copies of a template, in directories
// made for them).
func TestOpenMakesTheDirectory(t *testing.T) {
	path := filepath.Join(dbDir(t), "var", "lib", "hotline.db")
	s, err := sqlite.Open(t.Context(), path, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateCustomer(t.Context(), &store.Customer{Name: "Lan"}); err != nil {
		t.Fatal(err)
	}
}

// The long tests run alongside each other (t.Parallel: each has its own
// databases); the timing-bound ones (outage_test.go) run first, alone.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openFresh)
}

// TestSyncTenThousand: 10,000 interactions from 4 concurrent writers; a
// poller with updated_since and the cursor ends with exactly that set.
func TestSyncTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 writes")
	}
	t.Parallel()
	s := openFresh(t)
	defer s.Close()
	storetest.SyncConcurrent(t, s, 10000, 4)
}

// TestOutboxConformance: webhook deliveries in the writes' transactions.
func TestOutboxConformance(t *testing.T) {
	t.Parallel()
	storetest.RunOutbox(t, func(t *testing.T, o store.Options) store.Store {
		path := filepath.Join(dbDir(t), "hotline.db")
		freshCopy(t, path)
		s, err := sqlite.Open(t.Context(), path, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
