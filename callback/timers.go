package callback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// wake decides where waiting callback e stands at now: in line (due and
// the calendar open), waiting for its time, or to be expired or resolved
// (returned: Run does the write). Called with s.mu held.
func (s *Scheduler) wake(e *entry, now time.Time) (work func(ctx context.Context)) {
	if e.busy || e.dial != nil || e.cb.State != store.CallbackWaiting {
		return nil // whoever holds it re-arms it when done
	}
	if e.suspect {
		e.busy = true
		s.leaveLine(e)
		return func(ctx context.Context) { s.resolve(ctx, e) }
	}
	if !now.Before(e.cb.ExpiresAt) {
		e.busy = true
		s.leaveLine(e)
		return func(ctx context.Context) { s.expire(ctx, e, "not completed before it expired") }
	}
	due, ok := e.q.set.dueAt(e.cb.NotBefore, now)
	if !ok {
		e.busy = true
		s.leaveLine(e)
		return func(ctx context.Context) { s.expire(ctx, e, "the queue's calendar never opens") }
	}
	if !due.After(now) && e.q.set.open(now) {
		if !e.inLine {
			e.q.insert(e)
			w := e.waiting()
			s.outbox = append(s.outbox, notice{offer: &w})
			s.publish(e, "waiting", nil)
		}
		s.timers.Set(&e.t, e.cb.ExpiresAt)
	} else {
		if e.inLine { // the calendar closed: back to scheduled
			s.leaveLine(e)
			s.publish(e, "scheduled", nil)
		}
		s.timers.Set(&e.t, minTime(due, e.cb.ExpiresAt))
	}
	s.kickRun()
	return nil
}

// leaveLine takes e out of its line and tells the ACD. Called with s.mu held.
func (s *Scheduler) leaveLine(e *entry) {
	if !e.inLine {
		return
	}
	e.q.remove(e)
	s.outbox = append(s.outbox, notice{queue: e.cb.Queue, withdraw: e.cb.ID})
	s.kickRun()
}

// retryLater re-arms e after a failed write, with backoff. Called with
// s.mu held.
func (s *Scheduler) retryLater(e *entry, now time.Time) {
	e.backoff = nextBackoff(e.backoff)
	s.timers.Set(&e.t, now.Add(e.backoff))
	s.kickRun()
}

// armClose sets l's timer to the next closing of its calendar after now.
// Called with s.mu held.
func (s *Scheduler) armClose(l *line, now time.Time) {
	s.timers.Stop(&l.close)
	if l.set.cal == nil {
		return
	}
	at := now
	if !l.set.open(now) {
		next, ok := l.set.cal.NextOpen(now)
		if !ok {
			return
		}
		at = next
	}
	end := l.set.closesAt(at)
	if end.IsZero() { // open for more than a week: look again then
		end = at.Add(7 * 24 * time.Hour)
	}
	s.timers.Set(&l.close, end)
}

// fire runs every timer that is due.
func (s *Scheduler) fire(ctx context.Context) {
	now := time.Now()
	var work []func(ctx context.Context)
	s.mu.Lock()
	for {
		t := s.timers.PopDue(now)
		if t == nil {
			break
		}
		if t.V.line != nil {
			// The calendar closed: the line empties until it opens (each
			// callback's own timer brings it back then).
			for _, e := range append([]*entry(nil), t.V.line.due...) {
				if w := s.wake(e, now); w != nil {
					work = append(work, w)
				}
			}
			s.armClose(t.V.line, now)
			continue
		}
		if w := s.wake(t.V.entry, now); w != nil {
			work = append(work, w)
		}
	}
	s.mu.Unlock()
	for _, w := range work {
		w(ctx)
	}
}

// expire ends waiting callback e (marked busy by wake) as expired.
func (s *Scheduler) expire(ctx context.Context, e *entry, why string) {
	s.mu.Lock()
	change := store.CallbackChange{ID: e.cb.ID, Version: e.cb.Version, To: store.CallbackExpired, Outcome: why}
	s.mu.Unlock()
	now := time.Now()
	change.At = now
	var cb store.Callback
	err := s.write(ctx, func(ctx context.Context) (err error) {
		cb, err = s.cfg.Store.ChangeCallback(ctx, change)
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	if err != nil {
		s.writeFailed(e, "expire", err, now)
		return
	}
	s.ended(e, cb, now, nil)
}

// resolve settles a claim whose commit outcome was unknown: if it did
// commit, the database holds it dialling under this boot with no call
// placed, and it is given back; either way the callback then waits again.
func (s *Scheduler) resolve(ctx context.Context, e *entry) {
	now := time.Now()
	var got []store.Callback
	var fresh *store.Callback
	err := s.write(ctx, func(ctx context.Context) (err error) {
		got, err = s.cfg.Store.RecoverCallbacks(ctx, store.CallbackRecovery{At: now, IDs: []int64{e.cb.ID},
			Reason: "the claim's commit was not confirmed; no call was placed"})
		if err != nil || len(got) > 0 {
			return err
		}
		fresh, err = s.cfg.Store.GetCallback(ctx, e.cb.ID)
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.drop(e, now)
			return
		}
		s.writeFailed(e, "resolve the claim of", err, now)
		return
	}
	e.suspect = false
	e.backoff = 0
	cb := fresh
	if len(got) > 0 {
		cb = &got[0]
		s.log.Warn("callback: a claim had committed without a call; given back", "callback", cb.ID, "attempt", cb.Attempts)
	}
	s.refresh(e, *cb, now)
}

// refresh puts the database's view of e in memory and lets the Run loop
// place it. Called with s.mu held.
func (s *Scheduler) refresh(e *entry, cb store.Callback, now time.Time) {
	if !cb.State.Open() {
		s.ended(e, cb, now, nil)
		return
	}
	e.cb = cb
	s.rearm(e, now)
}

// rearm has the Run loop look at e at once. Called with s.mu held.
func (s *Scheduler) rearm(e *entry, now time.Time) {
	s.timers.Set(&e.t, now)
	s.kickRun()
}

// writeFailed handles a write for e that did not go through: an outage is
// retried with backoff, anything else (the row changed under us) is
// resynchronised from the database. Called with s.mu held.
func (s *Scheduler) writeFailed(e *entry, what string, err error, now time.Time) {
	if transient(err) {
		s.log.Warn(fmt.Sprintf("callback: cannot %s the callback; retrying", what), "callback", e.cb.ID, "err", err)
		s.retryLater(e, now)
		return
	}
	s.log.Error(fmt.Sprintf("callback: cannot %s the callback; reloading it", what), "callback", e.cb.ID, "err", err)
	e.suspect = true // resolve re-reads the row (and gives back a claim of ours)
	s.retryLater(e, now)
}

// ended records that e's callback reached a final state and forgets it.
// Called with s.mu held.
func (s *Scheduler) ended(e *entry, cb store.Callback, now time.Time, extra *Change) {
	s.leaveLine(e)
	l := e.q
	s.rollDay(l, now)
	l.ended[cb.State]++
	e.cb = cb
	s.drop(e, now)
	s.publish(e, string(cb.State), extra)
}

// drop forgets e. Called with s.mu held.
func (s *Scheduler) drop(e *entry, _ time.Time) {
	s.leaveLine(e)
	s.timers.Stop(&e.t)
	delete(s.entries, e.cb.ID)
	if s.dropped != nil {
		s.dropped[e.cb.ID] = true
	}
	if k := openKey(e.cb.Queue, e.cb.Number); s.byPhone[k] == e {
		delete(s.byPhone, k)
	}
}

// rollDay starts a new day of ended counts when now has passed into one.
func (s *Scheduler) rollDay(l *line, now time.Time) {
	if day := s.dayStart(l, now); day.After(l.day) {
		l.day = day
		clear(l.ended)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
