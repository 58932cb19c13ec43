package app

import (
	"context"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// lazyCallbacks is store.Callbacks on the lazily (re)opened store: while
// the database is down the scheduler's writes fail as unavailable, and it
// keeps them and retries (docs/callbacks.md, "A database outage").
type lazyCallbacks struct{ l *lazyStore }

var _ store.Callbacks = lazyCallbacks{}

func (c lazyCallbacks) RequestCallback(ctx context.Context, r store.CallbackRequest) (store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) (store.Callback, error) { return s.RequestCallback(ctx, r) })
}

func (c lazyCallbacks) GetCallback(ctx context.Context, id int64) (*store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) (*store.Callback, error) { return s.GetCallback(ctx, id) })
}

func (c lazyCallbacks) ListCallbacks(ctx context.Context, f store.CallbackFilter, p store.Page) ([]store.Callback, string, error) {
	type page struct {
		cbs  []store.Callback
		next string
	}
	r, err := withPartT(ctx, c.l, func(s store.Callbacks) (page, error) {
		cbs, next, err := s.ListCallbacks(ctx, f, p)
		return page{cbs, next}, err
	})
	return r.cbs, r.next, err
}

func (c lazyCallbacks) OpenCallbacks(ctx context.Context) ([]store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) ([]store.Callback, error) { return s.OpenCallbacks(ctx) })
}

func (c lazyCallbacks) ClaimCallback(ctx context.Context, cl store.CallbackClaim) (store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) (store.Callback, error) { return s.ClaimCallback(ctx, cl) })
}

func (c lazyCallbacks) ConnectCallback(ctx context.Context, cc store.CallbackConnect) (store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) (store.Callback, error) { return s.ConnectCallback(ctx, cc) })
}

func (c lazyCallbacks) FinishCallback(ctx context.Context, f store.CallbackFinish) (store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) (store.Callback, error) { return s.FinishCallback(ctx, f) })
}

func (c lazyCallbacks) ChangeCallback(ctx context.Context, ch store.CallbackChange) (store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) (store.Callback, error) { return s.ChangeCallback(ctx, ch) })
}

func (c lazyCallbacks) RecoverCallbacks(ctx context.Context, r store.CallbackRecovery) ([]store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) ([]store.Callback, error) { return s.RecoverCallbacks(ctx, r) })
}

func (c lazyCallbacks) CountCallbacks(ctx context.Context, since time.Time) ([]store.CallbackCount, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) ([]store.CallbackCount, error) { return s.CountCallbacks(ctx, since) })
}

func (c lazyCallbacks) OldestCallbacks(ctx context.Context, at time.Time) ([]store.Callback, error) {
	return withPartT(ctx, c.l, func(s store.Callbacks) ([]store.Callback, error) { return s.OldestCallbacks(ctx, at) })
}
