package postgres_test

import (
	"testing"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storetest"
)

func openFresh(t *testing.T) store.Store {
	t.Helper()
	url := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), url, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.Schema(t) // skip (or fail in CI) before running subtests
	storetest.Run(t, openFresh)
}

// TestSyncTenThousand: 10,000 interactions from 4 concurrent writers
// (committing out of the order of their transaction ids); a poller with
// updated_since and the cursor ends with exactly that set.
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
	pgtest.Schema(t)
	storetest.RunOutbox(t, func(t *testing.T, o store.Options) store.Store {
		s, err := postgres.Open(t.Context(), pgtest.Schema(t), o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
