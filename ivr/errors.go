package ivr

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrMaxSteps ends a call whose flow went through Config.MaxSteps nodes:
	// a loop the checker could not rule out (a queue that keeps bouncing the
	// caller back, say) must not hold a channel forever.
	ErrMaxSteps = errors.New("ivr: too many steps, flow stopped")
	// ErrUnknownNode is returned when a flow names a node it does not have;
	// a checked flow never does.
	ErrUnknownNode = errors.New("ivr: unknown node")
	// ErrLookup wraps every reason an http node fails: timeout, transport
	// error, non-2xx status, bad JSON or a missing field.
	ErrLookup = errors.New("ivr: lookup failed")
	// ErrBadCalendar is returned by NewEngine for a calendar it cannot
	// evaluate (unknown time zone, bad day or hours).
	ErrBadCalendar = errors.New("ivr: bad calendar")
	// ErrNoPrompt is logged when a prompt exists neither in the current nor
	// in the fallback language; the engine skips it and carries on.
	ErrNoPrompt = errors.New("ivr: prompt missing")

	// The callback errors a CallbackScheduler returns (wrapped) and the
	// dialogue tells apart; each has its own prompt.

	// ErrCallbackRefused: the outbound policy will not call that number.
	ErrCallbackRefused = errors.New("ivr: callback number refused")
	// ErrCallbackRateLimited: too many requests for the number (or in all).
	ErrCallbackRateLimited = errors.New("ivr: too many callback requests")
	// ErrCallbackOutsideHours: the chosen time is outside the queue's
	// calendar; see *CallbackOutsideHoursError.
	ErrCallbackOutsideHours = errors.New("ivr: callback time outside business hours")
	// ErrCallbackUnavailable: the scheduler cannot take a request now
	// (not ready, shutting down, the database, callbacks off for the queue).
	ErrCallbackUnavailable = errors.New("ivr: callbacks unavailable")
)

// CallbackOutsideHoursError is a chosen time the queue's calendar is
// closed at; Next is its next opening (zero: it never opens), which the
// dialogue offers instead.
type CallbackOutsideHoursError struct {
	At, Next time.Time
}

func (e *CallbackOutsideHoursError) Error() string {
	return fmt.Sprintf("ivr: callback at %s is outside business hours; next opening %s", e.At.Format(time.RFC3339), e.Next.Format(time.RFC3339))
}

func (e *CallbackOutsideHoursError) Unwrap() error { return ErrCallbackOutsideHours }
