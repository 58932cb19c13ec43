package pgtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// toolPorts are the ports this package's tests name before the process
// that binds them runs (a private PostgreSQL's): this package's range in
// internal/testports, below the kernel's ephemeral range.
var toolPorts = testports.New(17000, 17099)

func ping(url string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.Ping(ctx)
}

// The private cluster answers, hangs when frozen, answers again when
// thawed, refuses when stopped and comes back on the same port.
func TestCluster(t *testing.T) {
	c := pgtest.StartCluster(t, toolPorts)
	if err := ping(c.URL(), 5*time.Second); err != nil {
		t.Fatalf("started cluster: %v", err)
	}
	held, err := pgx.Connect(t.Context(), c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(context.Background())

	c.Freeze()
	if err := ping(c.URL(), 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connect to a frozen cluster = %v; want a timeout", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err = held.Exec(ctx, "select 1")
	cancel()
	if err == nil {
		t.Fatal("a query on an open connection to a frozen cluster answered")
	}
	c.Thaw()
	if err := ping(c.URL(), 5*time.Second); err != nil {
		t.Fatalf("thawed cluster: %v", err)
	}

	c.Stop()
	if err := ping(c.URL(), 5*time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connect to a stopped cluster = %v; want refused at once", err)
	}
	c.Start()
	if err := ping(c.URL(), 5*time.Second); err != nil {
		t.Fatalf("restarted cluster: %v", err)
	}
}
