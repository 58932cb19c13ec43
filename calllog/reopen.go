package calllog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Reopener attempt limits.
const (
	// openTimeout bounds one open attempt (connect and migrations); the
	// store's own connect timeout (store.Options.Timeout) is usually
	// shorter.
	openTimeout = time.Minute
	// reopenDelay: after a failed attempt, callers get its error at once
	// for this long instead of starting another (a database that is down
	// is not asked again on every API request).
	reopenDelay = time.Second
)

// Reopener is a Sink that opens its store on first use and again after an
// open fails, so Hotline can start (and spool calls) while the database is
// still down. One attempt runs at a time, in the background: a caller
// waits for it only as long as its own context allows, so a database that
// hangs on connect never holds every request for the connect timeout.
// Close closes the store it opened.
type Reopener struct {
	open   func(ctx context.Context) (store.Store, error)
	ctx    context.Context // cancelled by Close: ends an attempt
	cancel context.CancelFunc
	wg     sync.WaitGroup
	delay  time.Duration // reopenDelay (tests shorten it)

	mu      sync.Mutex
	s       store.Store
	attempt *attempt // running now, or the last failed one
	closed  bool
}

type attempt struct {
	done chan struct{}
	err  error // set before done is closed
	at   time.Time
}

// NewReopener returns a Sink over open (e.g. a closure over storeopen.Open).
func NewReopener(open func(ctx context.Context) (store.Store, error)) *Reopener {
	ctx, cancel := context.WithCancel(context.Background())
	return &Reopener{open: open, ctx: ctx, cancel: cancel, delay: reopenDelay}
}

// Store returns the opened store, opening it if needed. While an attempt
// runs it waits until the attempt ends or ctx does.
func (r *Reopener) Store(ctx context.Context) (store.Store, error) {
	r.mu.Lock()
	if r.s != nil {
		s := r.s
		r.mu.Unlock()
		return s, nil
	}
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("calllog: open store: %w", ErrClosed)
	}
	a := r.attempt
	if a == nil || (isDone(a) && time.Since(a.at) >= r.delay) {
		a = &attempt{done: make(chan struct{})}
		r.attempt = a
		r.wg.Add(1)
		go r.try(a)
	}
	r.mu.Unlock()
	select {
	case <-a.done:
	case <-ctx.Done():
		// Not %w on purpose for the attempt's own errors (below); a
		// deadline here is an outage like any other.
		return nil, fmt.Errorf("calllog: open store: still connecting: %w", ctx.Err())
	}
	if a.err != nil {
		// Not %w on purpose: a bad URL is a store.FieldError (ErrInvalid),
		// and the logger must not take it for an invalid record and drop
		// the batch. Failing to open is an outage: spool and retry.
		return nil, fmt.Errorf("calllog: open store: %v", a.err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s == nil {
		return nil, fmt.Errorf("calllog: open store: %w", ErrClosed)
	}
	return r.s, nil
}

// try runs one open attempt.
func (r *Reopener) try(a *attempt) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, openTimeout)
	defer cancel()
	s, err := r.open(ctx)
	r.mu.Lock()
	switch {
	case err == nil && r.closed:
		_ = s.Close()
		err = ErrClosed
	case err == nil:
		r.s = s
		r.attempt = nil
	}
	a.err, a.at = err, time.Now()
	r.mu.Unlock()
	close(a.done)
}

func isDone(a *attempt) bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// LogCalls implements Sink.
func (r *Reopener) LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	s, err := r.Store(ctx)
	if err != nil {
		return nil, err
	}
	return s.LogCalls(ctx, rs)
}

// Close ends a running attempt, waits for it and closes the store if one
// was opened.
func (r *Reopener) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s == nil {
		return nil
	}
	err := r.s.Close()
	r.s = nil
	return err
}
