// Package pgtest gives each test its own PostgreSQL schema, so tests of
// several engineers can share one server at once.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// candidates are tried in order when HOTLINE_TEST_PG_URL is not set.
var candidates = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
}

// BaseURL finds a reachable server, or skips the test (fails it when
// HOTLINE_REQUIRE_PG=1, as CI sets).
func BaseURL(t testing.TB) string {
	t.Helper()
	urls := candidates
	if u := os.Getenv("HOTLINE_TEST_PG_URL"); u != "" {
		urls = []string{u}
	}
	var last error
	for _, u := range urls {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := pgx.Connect(ctx, u)
		if err == nil {
			_ = c.Close(ctx)
			cancel()
			return u
		}
		cancel()
		last = err
	}
	if os.Getenv("HOTLINE_REQUIRE_PG") == "1" {
		t.Fatalf("PostgreSQL unreachable and HOTLINE_REQUIRE_PG=1: %v", last)
	}
	t.Skipf("PostgreSQL unreachable at 127.0.0.1:5432 (set HOTLINE_TEST_PG_URL; HOTLINE_REQUIRE_PG=1 makes this a failure): %v", last)
	return ""
}

// Schema creates a fresh schema with a random name, drops it when the test
// ends, and returns a URL whose search_path selects it.
func Schema(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "hotline_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
