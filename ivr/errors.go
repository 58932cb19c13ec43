package ivr

import "errors"

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
)
