package storeopen_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
)

func TestBackend(t *testing.T) {
	for _, tc := range []struct{ url, kind, target string }{
		{"sqlite:./var/hotline.db", "sqlite", "./var/hotline.db"},
		{"sqlite:///tmp/h.db", "sqlite", "/tmp/h.db"},
		{"postgres://u@h/db", "postgres", "postgres://u@h/db"},
		{"postgresql://u@h/db", "postgres", "postgresql://u@h/db"},
	} {
		k, p, err := storeopen.Backend(tc.url)
		if err != nil || k != tc.kind || p != tc.target {
			t.Errorf("Backend(%q) = %q, %q, %v", tc.url, k, p, err)
		}
	}
	for _, bad := range []string{"", "sqlite:", "mysql://x", "u:secret@host"} {
		_, _, err := storeopen.Backend(bad)
		var fe *store.FieldError
		if !errors.As(err, &fe) || fe.Field != "database.url" {
			t.Errorf("Backend(%q) err = %v; want FieldError database.url", bad, err)
		}
	}
}

func TestOpenBoth(t *testing.T) {
	urls := []string{"sqlite:" + filepath.Join(t.TempDir(), "new", "dir", "h.db")}
	urls = append(urls, pgtest.Schema(t))
	for _, u := range urls {
		s, err := storeopen.Open(t.Context(), u, store.Options{})
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		c := &store.Customer{Phones: []string{"0912345678"}}
		if err := s.CreateCustomer(t.Context(), c); err != nil || c.Phones[0] != "+84912345678" {
			t.Fatalf("%s: create = %+v, %v", u, c, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopening finds the schema applied and the data kept.
		s, err = storeopen.Open(t.Context(), u, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindCustomerByPhone(t.Context(), "0912 345 678"); err != nil {
			t.Fatalf("%s after reopen: %v", u, err)
		}
		s.Close()
	}
}
