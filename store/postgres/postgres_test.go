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
