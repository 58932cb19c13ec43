package callback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Request asks for a callback.
type Request struct {
	Source store.CallbackSource
	Queue  string
	Number string // where to call back, any format the policy reads
	// Caller is the caller ID of the call it was asked from (the customer
	// it belongs to when no CustomerID or TicketID is given); CallID and
	// FromTag name that call, so the call's record lands on the same ticket.
	Caller  string
	CallID  string
	FromTag string
	// JoinedAt and Tier are the caller's place (virtual hold: when they
	// joined the queue and the tier they were ranked with). Without them
	// the place is the request's time, or the chosen time.
	JoinedAt time.Time
	Tier     store.Tier
	// At is a chosen time ("tomorrow at 10:00"); it must fall inside the
	// queue's calendar. Zero: as soon as the calendar allows.
	At         time.Time
	CustomerID int64
	TicketID   int64
	Category   string
	Language   string
	Note       string
	// SourceKey is who asks, for the per-source bound (the API: token and
	// client address); "" is not counted per source.
	SourceKey string
}

// Status is a callback's state in the wallboard's words: a waiting
// callback is "scheduled" until its time comes, then "waiting" in line.
type Status string

// Statuses beyond the store's states.
const (
	StatusScheduled Status = "scheduled"
	StatusWaiting   Status = "waiting"
)

// Callback is a callback as the API shows it: the stored row with its
// attempts, its status, when it is due and its position in the queue.
type Callback struct {
	store.Callback
	Status Status `json:"status"`
	// DueAt is when it may next be dialled (its time, retry spacing and
	// the calendar applied); nil when it is not waiting.
	DueAt *time.Time `json:"due_at,omitempty"`
	// Position counts the callers and callbacks ahead of it, 1 = next (as
	// the ACD ranks them); 0 when not in line or unknown.
	Position int `json:"position,omitempty"`
}

// Request records a callback request: checked against the queue (enabled),
// the outbound policy (the number), the calendar (a chosen time) and the
// request bounds, then stored with its interaction on the ticket and put
// in its queue's line, or scheduled. A number that already has an open
// callback in the queue gets *DuplicateError.
func (s *Scheduler) Request(ctx context.Context, r Request) (Callback, error) {
	now := time.Now()
	set, ok := s.queues[r.Queue]
	switch {
	case !ok:
		return Callback{}, fmt.Errorf("%w %q", ErrUnknownQueue, r.Queue)
	case !set.cfg.Enabled:
		return Callback{}, fmt.Errorf("%w: queue %q", ErrDisabled, r.Queue)
	}
	number, err := s.cfg.Policy.CheckNumber(r.Number)
	if err != nil {
		return Callback{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var notBefore time.Time
	if !r.At.IsZero() {
		if r.At.Before(now.Add(-time.Minute)) {
			return Callback{}, &store.FieldError{Field: "at", Message: r.At.Format(time.RFC3339) + " is in the past"}
		}
		if err := s.inHours(set, r.At, now); err != nil {
			return Callback{}, err
		}
		notBefore = r.At
	} else {
		due, ok := set.dueAt(now, now)
		if !ok {
			return Callback{}, &OutsideHoursError{At: now, Calendar: set.calName}
		}
		notBefore = due
	}
	joined, tier := r.JoinedAt, r.Tier
	switch {
	case r.Source == store.SourceVirtualHold && (joined.IsZero() || joined.After(now)):
		return Callback{}, &store.FieldError{Field: "joined_at", Message: "a virtual hold keeps the caller's join time: required, not in the future"}
	case joined.IsZero() && !r.At.IsZero():
		joined = notBefore // a chosen time: the place is that time's, behind those already waiting then
	case joined.IsZero():
		joined = now
	}
	s.mu.Lock()
	ready, closing := s.ready, s.closing
	var open *store.Callback
	if e := s.byPhone[openKey(r.Queue, number)]; e != nil {
		cb := e.cb
		open = &cb
	}
	s.mu.Unlock()
	switch {
	case closing:
		return Callback{}, ErrClosed
	case !ready:
		return Callback{}, ErrNotReady
	case open != nil:
		// Already asked: the caller hears where it stands ("position 4;
		// press 2 to cancel"), before any bound counts the request. The
		// store's unique index stays the rule (a race, another node).
		v := s.view(*open)
		return v, &DuplicateError{Existing: *open, Position: v.Position}
	}
	// One process counts the bounds in memory; a Remote one (a cluster's
	// node) has the store count them, so that every node's requests count.
	var held reservation
	var bounds *store.CallbackBounds
	if s.cfg.Remote != nil {
		bounds = &store.CallbackBounds{Window: time.Hour, PerNumber: s.cfg.Limits.PerNumber, PerSource: s.cfg.Limits.PerSource,
			Total: s.cfg.Limits.Total}
	} else {
		var lerr *RateLimitError
		if held, lerr = s.limits.reserve(number, r.SourceKey, now); lerr != nil {
			return Callback{}, lerr
		}
	}
	cb, err := s.cfg.Store.RequestCallback(ctx, store.CallbackRequest{Queue: r.Queue, Number: number,
		Mode: store.CallbackMode(set.cfg.Mode), Source: r.Source, Tier: tier, JoinedAt: joined, NotBefore: notBefore,
		ExpiresAt: notBefore.Add(set.cfg.Expiry), MaxAttempts: set.cfg.MaxAttempts, Caller: r.Caller, CallID: r.CallID,
		FromTag: r.FromTag, CustomerID: r.CustomerID, TicketID: r.TicketID, Category: r.Category, Language: r.Language,
		Note: r.Note, At: now, SourceKey: r.SourceKey, Bounds: bounds})
	var bound *store.CallbackBoundError
	if errors.As(err, &bound) {
		return Callback{}, &RateLimitError{Bound: bound.Bound, RetryAfter: bound.RetryAfter}
	}
	var dup *store.DuplicateCallbackError
	if errors.As(err, &dup) {
		held.cancel(now)
		if s.cfg.Remote != nil {
			// Asked again, maybe because the first answer was an error: the
			// scheduler that runs is told again (Load is idempotent).
			if err := s.cfg.Remote(ctx, dup.Existing.ID); err != nil {
				s.log.Warn("callback: the scheduler was not told of an existing callback", "callback", dup.Existing.ID, "err", err)
			}
		}
		v := s.view(dup.Existing)
		return v, &DuplicateError{Existing: dup.Existing, Position: v.Position}
	}
	if err != nil {
		held.cancel(now)
		return Callback{}, err
	}
	if s.cfg.Remote != nil {
		return s.requested(ctx, cb, set, now)
	}
	s.mu.Lock()
	e := s.add(cb)
	s.publish(e, "requested", nil)
	if cb.NotBefore.After(now) || !set.open(now) {
		s.publish(e, "scheduled", nil)
	}
	s.place(e, now)
	s.mu.Unlock()
	s.log.Info("callback: requested", "callback", cb.ID, "queue", cb.Queue, "source", cb.Source, "call_id", cb.CallID,
		"not_before", cb.NotBefore)
	return s.view(cb), nil
}

// inHours refuses a chosen time outside the queue's calendar.
func (s *Scheduler) inHours(set *settings, at, now time.Time) error {
	if set.open(at) {
		return nil
	}
	next, _ := set.dueAt(at, now)
	return &OutsideHoursError{At: at, Next: next, Calendar: set.calName}
}

// add makes an entry for a new open callback. Called with s.mu held.
func (s *Scheduler) add(cb store.Callback) *entry {
	e := &entry{cb: cb, q: s.lineOf(cb.Queue), rank: s.rankOf(cb)}
	e.t.V.entry = e
	s.entries[cb.ID] = e
	s.byPhone[openKey(cb.Queue, cb.Number)] = e
	return e
}

// place puts waiting e in line or on its timer now. Called with s.mu held.
func (s *Scheduler) place(e *entry, now time.Time) {
	if w := s.wake(e, now); w != nil {
		e.busy = false // the Run loop does the write
		s.rearm(e, now)
	}
}

// FirstCall is when a callback of queue asked at now for at (zero: as
// soon as possible) would first be dialled: the moment to announce ("we
// will call you back from 08:00"). It equals now, or at, when the calendar
// is open then. ok is false when the calendar never opens.
func (s *Scheduler) FirstCall(queue string, at time.Time) (time.Time, bool, error) {
	set, found := s.queues[queue]
	if !found {
		return time.Time{}, false, fmt.Errorf("%w %q", ErrUnknownQueue, queue)
	}
	now := time.Now()
	if at.IsZero() {
		at = now
	}
	t, ok := set.dueAt(at, now)
	return t, ok, nil
}

// Cancel ends waiting callback id as cancelled; version 0 skips the
// optimistic check (the If-Match), by says who cancels, for the ticket.
func (s *Scheduler) Cancel(ctx context.Context, id, version int64, by string) (Callback, error) {
	return s.change(ctx, id, version, func(cb store.Callback, _ *settings, now time.Time) (store.CallbackChange, error) {
		return store.CallbackChange{ID: id, Version: cb.Version, At: now, To: store.CallbackCancelled, By: by,
			Outcome: "cancelled"}, nil
	})
}

// Reschedule moves waiting callback id to at (inside the queue's
// calendar), keeping its place in the queue; its expiry moves with it when
// it would come sooner than the queue's expiry after at.
func (s *Scheduler) Reschedule(ctx context.Context, id, version int64, at time.Time, by string) (Callback, error) {
	return s.change(ctx, id, version, func(cb store.Callback, set *settings, now time.Time) (store.CallbackChange, error) {
		if at.Before(now.Add(-time.Minute)) {
			return store.CallbackChange{}, &store.FieldError{Field: "at", Message: at.Format(time.RFC3339) + " is in the past"}
		}
		if err := s.inHours(set, at, now); err != nil {
			return store.CallbackChange{}, err
		}
		exp := cb.ExpiresAt
		if later := at.Add(set.cfg.Expiry); !exp.After(at) || later.After(exp) {
			exp = later
		}
		return store.CallbackChange{ID: id, Version: cb.Version, At: now, To: store.CallbackWaiting, NotBefore: at,
			ExpiresAt: exp, By: by}, nil
	})
}

// change runs one ChangeCallback on a waiting callback that is not in use.
func (s *Scheduler) change(ctx context.Context, id, version int64, build func(cb store.Callback, set *settings, now time.Time) (store.CallbackChange, error)) (Callback, error) {
	now := time.Now()
	if s.cfg.Remote != nil {
		return s.changeRemote(ctx, id, version, build, now)
	}
	s.mu.Lock()
	if !s.ready {
		s.mu.Unlock()
		return Callback{}, ErrNotReady
	}
	e := s.entries[id]
	if e == nil {
		s.mu.Unlock()
		cb, err := s.cfg.Store.GetCallback(ctx, id)
		switch {
		case err != nil:
			return Callback{}, err
		case version != 0 && cb.Version != version:
			return s.view(*cb), fmt.Errorf("%w: callback %d is at version %d", store.ErrVersion, id, cb.Version)
		case cb.State.Open():
			return s.view(*cb), fmt.Errorf("%w: callback %d is being recorded; retry", ErrInProgress, id)
		}
		return s.view(*cb), &store.ConflictError{Field: "state", Message: fmt.Sprintf("callback %d has already ended: %s", id, cb.State)}
	}
	cur := e.cb
	if version != 0 && version != cur.Version {
		s.mu.Unlock()
		return s.view(cur), fmt.Errorf("%w: callback %d is at version %d, not %d", store.ErrVersion, id, cur.Version, version)
	}
	if e.busy || e.suspect || e.dial != nil || cur.State != store.CallbackWaiting {
		s.mu.Unlock()
		return s.view(cur), fmt.Errorf("%w: callback %d is %s", ErrInProgress, id, s.statusOf(e))
	}
	c, err := build(e.cb, e.q.set, now)
	if err != nil {
		s.mu.Unlock()
		return s.view(cur), err
	}
	e.busy = true
	s.mu.Unlock()

	cb, err := s.cfg.Store.ChangeCallback(ctx, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	if err != nil {
		if errors.Is(err, store.ErrVersion) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			e.suspect = true // the row changed under us: re-read it
		}
		s.rearm(e, now)
		return Callback{}, err
	}
	if !cb.State.Open() {
		s.ended(e, cb, now, nil)
		s.log.Info("callback: ended", "callback", id, "state", cb.State, "by", c.By)
		return s.viewLocked(cb, nil), nil
	}
	e.cb = cb
	s.leaveLine(e)
	s.publish(e, "scheduled", nil)
	s.place(e, now)
	return s.viewLocked(cb, e), nil
}

// Get returns callback id with its attempts.
func (s *Scheduler) Get(ctx context.Context, id int64) (Callback, error) {
	cb, err := s.cfg.Store.GetCallback(ctx, id)
	if err != nil {
		return Callback{}, err
	}
	return s.view(*cb), nil
}

// List lists callbacks newest first (the store's filter and cursor).
func (s *Scheduler) List(ctx context.Context, f store.CallbackFilter, p store.Page) ([]Callback, string, error) {
	cbs, next, err := s.cfg.Store.ListCallbacks(ctx, f, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]Callback, len(cbs))
	inLine := make([]bool, len(cbs))
	s.mu.Lock()
	for i, cb := range cbs {
		e := s.entries[cb.ID]
		out[i] = s.viewLocked(cb, e)
		inLine[i] = e != nil && e.inLine
	}
	s.mu.Unlock()
	for i := range out {
		s.position(&out[i], inLine[i])
	}
	return out, next, nil
}

// Line is a snapshot of queue's line: the due callbacks in order.
func (s *Scheduler) Line(queue string) []Waiting {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lines[queue]
	if !ok {
		return nil
	}
	out := make([]Waiting, len(l.due))
	for i, e := range l.due {
		out[i] = e.waiting()
	}
	return out
}

// view is cb as the API shows it, with what memory knows (status, due
// time) and the ACD's position.
func (s *Scheduler) view(cb store.Callback) Callback {
	s.mu.Lock()
	v := s.viewLocked(cb, s.entries[cb.ID])
	inLine := false
	if e := s.entries[cb.ID]; e != nil {
		inLine = e.inLine
	}
	s.mu.Unlock()
	s.position(&v, inLine)
	return v
}

// position fills in v's position: the ACD's when v is in this scheduler's
// line, the running scheduler's (Config.Position) on a Remote one. Called
// without s.mu (the ACD may call back into the scheduler).
func (s *Scheduler) position(v *Callback, inLine bool) {
	switch {
	case s.cfg.Remote != nil && s.cfg.Position != nil && v.State == store.CallbackWaiting:
		if pos, ok := s.cfg.Position(v.Queue, v.ID); ok {
			v.Position = pos
		}
	case inLine && s.cfg.ACD != nil:
		if pos, ok := s.cfg.ACD.Position(v.Queue, v.ID); ok {
			v.Position = pos
		}
	}
}

// viewLocked is view without the ACD's position. Called with s.mu held.
func (s *Scheduler) viewLocked(cb store.Callback, e *entry) Callback {
	v := Callback{Callback: cb, Status: Status(cb.State)}
	if e == nil || cb.State != store.CallbackWaiting {
		if cb.State == store.CallbackWaiting {
			v.Status = StatusScheduled
			if cb.NotBefore.Before(time.Now()) {
				v.Status = StatusWaiting
			}
		}
		return v
	}
	v.Status = s.statusOf(e)
	if e.cb.Version == cb.Version && e.dial == nil {
		if due, ok := e.q.set.dueAt(cb.NotBefore, time.Now()); ok {
			v.DueAt = &due
		}
	}
	return v
}

// statusOf is e's status. Called with s.mu held.
func (s *Scheduler) statusOf(e *entry) Status {
	switch {
	case e.dial != nil && e.cb.State == store.CallbackWaiting:
		return Status(store.CallbackDialling) // claim in flight
	case e.cb.State != store.CallbackWaiting:
		return Status(e.cb.State)
	case e.inLine:
		return StatusWaiting
	}
	return StatusScheduled
}
