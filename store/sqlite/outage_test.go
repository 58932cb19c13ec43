package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// A database file locked by another process is store.ErrUnavailable once
// the busy timeout (Options.Timeout) runs out, not an internal error and
// not a 10 s wait.
func TestLockedIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := sqlite.Open(t.Context(), path, store.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := other.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err = s.CreateCustomer(ctx, &store.Customer{Name: "x", Phones: []string{"+84912345678"}})
	took := time.Since(t0)
	if !errors.Is(err, store.ErrUnavailable) || took > 3*time.Second {
		t.Fatalf("write while locked: %v after %v; want store.ErrUnavailable after about 200ms", err, took)
	}
	if _, err := other.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCustomer(ctx, &store.Customer{Name: "x", Phones: []string{"+84912345678"}}); err != nil {
		t.Fatalf("write after unlock: %v", err)
	}
}
