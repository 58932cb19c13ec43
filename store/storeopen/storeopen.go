// Package storeopen picks the store backend from a database URL. It sits
// beside store (not in it) because the backends import store.
package storeopen

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
	"github.com/hotline-dev/hotline/store/migrate"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// Backend names what a URL selects: "sqlite" with a file path, or
// "postgres" with the URL itself. Accepted: sqlite:PATH, sqlite://PATH
// (sqlite:///abs/path), postgres://..., postgresql://...
func Backend(url string) (kind, target string, err error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "postgres", url, nil
	case strings.HasPrefix(url, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if p == "" {
			return "", "", &store.FieldError{Field: "database.url", Message: "sqlite: needs a file path, e.g. sqlite:./var/hotline.db"}
		}
		return "sqlite", p, nil
	}
	return "", "", &store.FieldError{Field: "database.url", Message: fmt.Sprintf("%q is neither postgres://... nor sqlite:PATH", redact(url))}
}

// Open opens the store url selects and applies pending migrations (unless
// o.NoMigrate).
func Open(ctx context.Context, url string, o store.Options) (store.Store, error) {
	kind, target, err := Backend(url)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if kind == "postgres" {
		return postgres.Open(ctx, target, o)
	}
	return sqlite.Open(ctx, target, o)
}

// Migrator opens a bare connection and its migration runner (hotline
// migrate). Close the returned closer when done.
func Migrator(ctx context.Context, url string) (*migrate.Runner, io.Closer, error) {
	kind, target, err := Backend(url)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	var c sqlcore.Conn
	var r *migrate.Runner
	if kind == "postgres" {
		if c, err = postgres.OpenConn(ctx, target); err == nil {
			r, err = postgres.Runner(c)
		}
	} else {
		if c, err = sqlite.OpenConn(target); err == nil {
			r, err = sqlite.Runner(c)
		}
	}
	if err != nil {
		if c != nil {
			_ = c.Close()
		}
		return nil, nil, err
	}
	return r, c, nil
}

// redact hides a password in a URL-ish string for error messages.
func redact(s string) string {
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		if colon := strings.Index(s[:at], "://"); colon >= 0 {
			return s[:colon+3] + "…@" + s[at+1:]
		}
	}
	return s
}
