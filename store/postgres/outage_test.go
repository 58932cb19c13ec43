package postgres_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// toolPorts are the ports this package's tests name before the process
// that binds them runs (a private PostgreSQL's): this package's range in
// internal/testports, below the kernel's ephemeral range.
var toolPorts = testports.New(13900, 13999)

// within runs f with a fresh 1 s context and fails unless it returns an
// error wrapping store.ErrUnavailable within bound.
func within(t *testing.T, what string, bound time.Duration, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t0 := time.Now()
	err := f(ctx)
	if took := time.Since(t0); !errors.Is(err, store.ErrUnavailable) || took > bound {
		t.Fatalf("%s: %v after %v; want store.ErrUnavailable within %v", what, err, took, bound)
	}
}

// A stopped or hung server is store.ErrUnavailable, within the caller's
// deadline or the connect timeout, never a hang.
func TestUnavailable(t *testing.T) {
	pg := pgtest.StartCluster(t, toolPorts)
	s, err := postgres.Open(t.Context(), pg.URL(), store.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var st string
	if err := s.Conn().QueryRow(t.Context(), "SHOW statement_timeout").Scan(&st); err != nil || st != "300ms" {
		t.Fatalf("statement_timeout = %q, %v; want 300ms from Options.Timeout", st, err)
	}
	get := func(ctx context.Context) error { _, err := s.GetCustomer(ctx, 1); return err }
	if err := get(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCustomer on a live server = %v; want not found", err)
	}

	pg.Freeze()
	within(t, "read from a hung server", 2*time.Second, get)
	within(t, "ping a hung server", 2*time.Second, s.Ping)
	// A new connection to a hung server gives up at the connect timeout,
	// even with a long context.
	t0 := time.Now()
	_, err = postgres.Open(context.Background(), pg.URL(), store.Options{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) || time.Since(t0) > 3*time.Second {
		t.Fatalf("open on a hung server: %v after %v; want ErrUnavailable at the connect timeout", err, time.Since(t0))
	}
	pg.Thaw()
	if err := get(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCustomer after thaw = %v", err)
	}

	pg.Stop()
	within(t, "read from a stopped server", time.Second, get)
	within(t, "write to a stopped server", time.Second, func(ctx context.Context) error {
		return s.CreateCustomer(ctx, &store.Customer{Name: "x", Phones: []string{"+84912345678"}})
	})
	pg.Start()
	if err := get(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCustomer after restart = %v", err)
	}
}

func TestOpenRefusedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	within(t, "open on a closed port", time.Second, func(ctx context.Context) error {
		_, err := postgres.Open(ctx, "postgres://postgres@"+addr+"/test?sslmode=disable", store.Options{})
		return err
	})
}
