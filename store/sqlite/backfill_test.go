package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// TestBackfillTerms: a customer written before migration 0012 (no search
// terms) is found by name after the next Open.
func TestBackfillTerms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := sqlite.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Customer{Name: "Phạm Thị Lan"}
	if err := s.CreateCustomer(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn().Exec(t.Context(), `DELETE FROM search_terms`); err != nil {
		t.Fatal(err)
	}
	cs, _, err := s.ListCustomers(t.Context(), store.CustomerFilter{Query: "lan"}, store.Page{})
	if err != nil || len(cs) != 0 {
		t.Fatalf("before backfill: %v %v", cs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs, _, err = s.ListCustomers(t.Context(), store.CustomerFilter{Query: "pham lan"}, store.Page{})
	if err != nil || len(cs) != 1 || cs[0].ID != c.ID {
		t.Fatalf("after backfill: %v %v", cs, err)
	}
}
