package callback

import (
	"context"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// A scheduler with Config.Remote runs on a node whose callbacks are
// scheduled and dialled by another process (a cluster's leader): its
// requests and changes go to the store, which every node shares, and the
// scheduler that runs is told to Load the callback. What the running
// scheduler has in memory (status, position, figures) is not known here:
// the views are the stored row's.

// requested finishes a remote request: the row is stored; the events are
// this node's to publish (the relay carries them to every node), and the
// scheduler that runs is told to load it.
func (s *Scheduler) requested(ctx context.Context, cb store.Callback, set *settings, now time.Time) (Callback, error) {
	s.mu.Lock()
	e := &entry{cb: cb}
	s.publish(e, "requested", nil)
	if cb.NotBefore.After(now) || !set.open(now) {
		s.publish(e, "scheduled", nil)
	}
	s.mu.Unlock()
	s.log.Info("callback: requested", "callback", cb.ID, "queue", cb.Queue, "source", cb.Source, "call_id", cb.CallID,
		"not_before", cb.NotBefore, "remote", true)
	if err := s.cfg.Remote(ctx, cb.ID); err != nil {
		// Stored but not yet scheduled: the running scheduler's next start
		// loads it, and the same request asked again tells it again (a
		// duplicate). The caller is told it did not go through.
		return s.view(cb), fmt.Errorf("callback %d stored, but the scheduler was not told (ask again): %w: %w", cb.ID, store.ErrUnavailable, err)
	}
	return s.view(cb), nil
}

// changeRemote is change on the stored row: the version the row has is
// the check (a claim by the running scheduler moves it, so a change races
// a dial safely), then the scheduler that runs re-reads it.
func (s *Scheduler) changeRemote(ctx context.Context, id, version int64, build func(cb store.Callback, set *settings, now time.Time) (store.CallbackChange, error), now time.Time) (Callback, error) {
	cur, err := s.cfg.Store.GetCallback(ctx, id)
	switch {
	case err != nil:
		return Callback{}, err
	case version != 0 && cur.Version != version:
		return s.view(*cur), fmt.Errorf("%w: callback %d is at version %d, not %d", store.ErrVersion, id, cur.Version, version)
	case cur.State.Open() && cur.State != store.CallbackWaiting:
		return s.view(*cur), fmt.Errorf("%w: callback %d is %s", ErrInProgress, id, cur.State)
	case !cur.State.Open():
		return s.view(*cur), &store.ConflictError{Field: "state", Message: fmt.Sprintf("callback %d has already ended: %s", id, cur.State)}
	}
	set, ok := s.queues[cur.Queue]
	if !ok {
		set, _ = newSettings(cur.Queue, config.Queue{}, nil)
	}
	c, err := build(*cur, set, now)
	if err != nil {
		return s.view(*cur), err
	}
	cb, err := s.cfg.Store.ChangeCallback(ctx, c)
	if err != nil {
		return Callback{}, err
	}
	if cb.State.Open() {
		s.mu.Lock()
		s.publish(&entry{cb: cb}, "scheduled", nil)
		s.mu.Unlock()
	} // an end (cancelled) is published by the running scheduler, which drops it then
	s.log.Info("callback: changed", "callback", id, "state", cb.State, "by", c.By, "remote", true)
	if err := s.cfg.Remote(ctx, id); err != nil {
		return s.view(cb), fmt.Errorf("callback %d changed, but the scheduler was not told: %w: %w", id, store.ErrUnavailable, err)
	}
	return s.view(cb), nil
}
