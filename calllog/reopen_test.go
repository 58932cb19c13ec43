package calllog

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// A database that hangs on connect: callers give up at their own deadline
// while one attempt runs; when it connects, everyone gets the store.
func TestReopenerHungOpenDoesNotBlockCallers(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	release := make(chan struct{})
	var opens atomic.Int64
	r := NewReopener(func(ctx context.Context) (store.Store, error) {
		opens.Add(1)
		select {
		case <-release:
			return s, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			if _, err := r.Store(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Store during a hung open = %v; want the caller's deadline", err)
			}
		})
	}
	wg.Wait()
	if n := opens.Load(); n != 1 {
		t.Fatalf("%d open attempts for 10 waiting callers; want 1", n)
	}
	close(release)
	got, err := r.Store(t.Context())
	if err != nil || got != s {
		t.Fatalf("Store after connect = %v, %v", got, err)
	}
	r.mu.Lock()
	r.s = nil // the test's cleanup closes s
	r.mu.Unlock()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// A failed open is not repeated for every caller: within the delay the
// error comes back at once; after it, a new attempt runs.
func TestReopenerFailureCachedThenRetried(t *testing.T) {
	var opens atomic.Int64
	down := errors.New("connection refused")
	r := NewReopener(func(context.Context) (store.Store, error) {
		opens.Add(1)
		return nil, down
	})
	defer r.Close()
	r.delay = time.Hour
	for range 5 {
		if _, err := r.Store(t.Context()); err == nil || errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Store = %v; want an outage error", err)
		}
	}
	if n := opens.Load(); n != 1 {
		t.Fatalf("%d attempts within the delay; want 1", n)
	}
	r.mu.Lock()
	r.delay = 0
	r.mu.Unlock()
	if _, err := r.Store(t.Context()); err == nil {
		t.Fatal("Store succeeded")
	}
	if n := opens.Load(); n != 2 {
		t.Fatalf("%d attempts after the delay; want 2", n)
	}
}

// A bad URL (a FieldError) must read as an outage, not as an invalid
// record: the logger would drop the batch.
func TestReopenerOpenErrorIsNotInvalid(t *testing.T) {
	r := NewReopener(func(context.Context) (store.Store, error) {
		return nil, &store.FieldError{Field: "database.url", Message: "bad"}
	})
	defer r.Close()
	if _, err := r.LogCalls(t.Context(), []store.CallRecord{sample("x")}); err == nil || errors.Is(err, store.ErrInvalid) {
		t.Fatalf("LogCalls = %v; want an outage error that is not ErrInvalid", err)
	}
}

// Close ends an attempt that hangs and waits for it (goleak checks).
func TestReopenerCloseEndsAttempt(t *testing.T) {
	started := make(chan struct{})
	r := NewReopener(func(ctx context.Context) (store.Store, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := r.Store(ctx); err == nil {
		t.Fatal("Store succeeded")
	}
	<-started
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Store after Close = %v; want ErrClosed", err)
	}
}
