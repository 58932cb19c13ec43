package callback

import (
	"errors"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Sentinel errors. Store errors (store.ErrVersion, store.ErrNotFound,
// store.ErrUnavailable, *store.FieldError) come through wrapped as they are.
var (
	// ErrUnknownQueue means the request names a queue that is not configured.
	ErrUnknownQueue = errors.New("callback: unknown queue")
	// ErrDisabled means the queue does not take callback requests
	// (queues.<name>.callback.enabled is false).
	ErrDisabled = errors.New("callback: callbacks are off for this queue")
	// ErrRefused means the outbound policy does not let Hotline call the
	// number; the wrapping error says why.
	ErrRefused = errors.New("callback: number refused")
	// ErrRateLimited means a request bound (per number, per source, total)
	// is used up; see *RateLimitError.
	ErrRateLimited = errors.New("callback: too many requests")
	// ErrOutsideHours means a chosen time falls outside the queue's
	// calendar; see *OutsideHoursError.
	ErrOutsideHours = errors.New("callback: outside business hours")
	// ErrDuplicate means the number already has an open callback in the
	// queue; see *DuplicateError.
	ErrDuplicate = errors.New("callback: already requested")
	// ErrInProgress means the callback is being dialled, in a call, or
	// being changed: it cannot be changed now.
	ErrInProgress = errors.New("callback: in progress")
	// ErrNotWaiting means Dial named a callback that is not waiting in its
	// queue's line (not due, already dialled, withdrawn).
	ErrNotWaiting = errors.New("callback: not waiting in line")
	// ErrPacing means the queue already has as many callbacks dialling as
	// the agents predicted free allow.
	ErrPacing = errors.New("callback: pacing limit")
	// ErrNotReady means the scheduler has not loaded its callbacks yet (the
	// database is not reachable at start); retry later.
	ErrNotReady = errors.New("callback: scheduler not ready")
	// ErrClosed means the scheduler is shutting down.
	ErrClosed = errors.New("callback: scheduler closed")
)

// DuplicateError carries the open callback a duplicate request found, and
// its position in the queue when the ACD knows it.
type DuplicateError struct {
	Existing store.Callback
	Position int // 0: unknown
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("callback: %s already has callback %d in queue %s (%s)", e.Existing.Number, e.Existing.ID,
		e.Existing.Queue, e.Existing.State)
}

func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// RateLimitError names the bound that refused a request and when to retry.
type RateLimitError struct {
	Bound      string // "per_number", "per_source", "total" (config callbacks.<bound>)
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("callback: too many requests (callbacks.%s); retry in %v", e.Bound, e.RetryAfter.Round(time.Second))
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// OutsideHoursError is a chosen time when the queue's calendar is closed;
// Next is the first open moment after it.
type OutsideHoursError struct {
	At, Next time.Time
	Calendar string
}

func (e *OutsideHoursError) Error() string {
	return fmt.Sprintf("callback: %s is outside the %s calendar's hours; it opens next at %s", e.At.Format(time.RFC3339),
		e.Calendar, e.Next.Format(time.RFC3339))
}

func (e *OutsideHoursError) Unwrap() error { return ErrOutsideHours }
