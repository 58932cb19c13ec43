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
	s, err := sqlite.Open(t.Context(), filepath.Join(dbDir(t), "sub", "hotline.db"), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openFresh)
}

// TestSyncTenThousand: 10,000 interactions from 4 concurrent writers; a
// poller with updated_since and the cursor ends with exactly that set.
func TestSyncTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 writes")
	}
	s := openFresh(t)
	defer s.Close()
	storetest.SyncConcurrent(t, s, 10000, 4)
}

// TestOutboxConformance: webhook deliveries in the writes' transactions.
func TestOutboxConformance(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T, o store.Options) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(dbDir(t), "hotline.db"), o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
