package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/store"
)

// callbackRequester is what the IVR's callback seam needs of the
// scheduler; *callback.Scheduler satisfies it.
type callbackRequester interface {
	Request(ctx context.Context, r callback.Request) (callback.Callback, error)
	FirstCall(queue string, at time.Time) (time.Time, bool, error)
	Cancel(ctx context.Context, id, version int64, by string) (callback.Callback, error)
}

// cancelledByCaller is who cancels, in the callback's ticket history.
const cancelledByCaller = "caller (IVR)"

// ivrCallbacks implements ivr.CallbackScheduler on the callback scheduler:
// a caller who waited in a queue keeps their place there (virtual hold:
// their join time and tier); one who never waited asks from the IVR. It
// turns the scheduler's answers into what the dialogue says: a duplicate
// is the existing callback's receipt, the refusals become ivr's errors.
type ivrCallbacks struct {
	s callbackRequester
	// await, in a cluster, waits (bounded) for a new callback's position
	// to reach this node: the leader loads it after the request returns.
	// nil: the request's answer has it (one node).
	await func(ctx context.Context, queue string, id int64) int
}

func (c ivrCallbacks) ScheduleCallback(ctx context.Context, req ivr.CallbackRequest) (ivr.CallbackReceipt, error) {
	src := store.SourceIVR
	if !req.JoinedAt.IsZero() {
		src = store.SourceVirtualHold
	}
	cb, err := c.s.Request(ctx, callback.Request{Source: src, Queue: req.Queue, Number: req.Number, Caller: req.Number,
		CallID: req.CallID, JoinedAt: req.JoinedAt, Tier: req.Tier, At: req.At, Category: req.Category, Language: req.Language})
	var dup *callback.DuplicateError
	if errors.As(err, &dup) {
		rc := ivr.CallbackReceipt{ID: dup.Existing.ID, Version: dup.Existing.Version, Position: dup.Position, Existing: true}
		c.when(&rc, req.Queue, dup.Existing.NotBefore)
		return rc, nil
	}
	if err != nil {
		return ivr.CallbackReceipt{}, fmt.Errorf("callback request for queue %q: %w", req.Queue, ivrError(err))
	}
	rc := ivr.CallbackReceipt{ID: cb.ID, Version: cb.Version, Position: cb.Position}
	c.when(&rc, req.Queue, req.At)
	if rc.Position == 0 && rc.OpenNow && c.await != nil {
		// Due now, so it goes in the line: the caller is told where.
		rc.Position = c.await(ctx, req.Queue, cb.ID)
	}
	return rc, nil
}

// when fills in the first dial time, in the calendar's zone (the clock
// time the caller is told), and whether the calendar is open now.
func (c ivrCallbacks) when(rc *ivr.CallbackReceipt, queue string, at time.Time) {
	if !at.After(time.Now()) {
		at = time.Time{}
	}
	first, ok, err := c.s.FirstCall(queue, at)
	if err != nil || !ok {
		return // the caller is not told a time
	}
	// Open now: the first call is now (FirstCall's own now, before ours).
	rc.FirstCall, rc.OpenNow = first, at.IsZero() && !first.After(time.Now())
}

func (c ivrCallbacks) CancelCallback(ctx context.Context, id, version int64) error {
	if _, err := c.s.Cancel(ctx, id, version, cancelledByCaller); err != nil {
		return fmt.Errorf("cancel callback %d: %w", id, ivrError(err))
	}
	return nil
}

// ivrError maps the scheduler's errors to those the IVR tells apart,
// keeping the original in the chain for the log.
func ivrError(err error) error {
	var oh *callback.OutsideHoursError
	switch {
	case errors.As(err, &oh):
		return &ivr.CallbackOutsideHoursError{At: oh.At, Next: oh.Next}
	case errors.Is(err, callback.ErrRefused):
		return fmt.Errorf("%w: %w", ivr.ErrCallbackRefused, err)
	case errors.Is(err, callback.ErrRateLimited):
		return fmt.Errorf("%w: %w", ivr.ErrCallbackRateLimited, err)
	}
	return fmt.Errorf("%w: %w", ivr.ErrCallbackUnavailable, err)
}
