package calllog

import (
	"context"
	"fmt"
	"sync"

	"github.com/hotline-dev/hotline/store"
)

// Reopener is a Sink that opens its store on first use and again after an
// open fails, so Hotline can start (and spool calls) while the database is
// still down. Close closes the store it opened.
type Reopener struct {
	open func(ctx context.Context) (store.Store, error)
	mu   sync.Mutex
	s    store.Store
}

// NewReopener returns a Sink over open (e.g. a closure over storeopen.Open).
func NewReopener(open func(ctx context.Context) (store.Store, error)) *Reopener {
	return &Reopener{open: open}
}

// Store returns the opened store, opening it if needed.
func (r *Reopener) Store(ctx context.Context) (store.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s != nil {
		return r.s, nil
	}
	s, err := r.open(ctx)
	if err != nil {
		// Not %w on purpose: a bad URL is a store.FieldError (ErrInvalid),
		// and the logger must not take it for an invalid record and drop
		// the batch. Failing to open is an outage: spool and retry.
		return nil, fmt.Errorf("calllog: open store: %v", err)
	}
	r.s = s
	return s, nil
}

// LogCalls implements Sink.
func (r *Reopener) LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	s, err := r.Store(ctx)
	if err != nil {
		return nil, err
	}
	return s.LogCalls(ctx, rs)
}

// Close closes the store if one was opened.
func (r *Reopener) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s == nil {
		return nil
	}
	err := r.s.Close()
	r.s = nil
	return err
}
