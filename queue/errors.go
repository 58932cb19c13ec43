package queue

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrUnknownQueue means no queue of that name is configured.
	ErrUnknownQueue = errors.New("queue: unknown queue")
	// ErrUnknownAgent means no agent with that ID is configured.
	ErrUnknownAgent = errors.New("queue: unknown agent")
	// ErrNotMember means the agent is not a member of the queue.
	ErrNotMember = errors.New("queue: agent not a member of the queue")
	// ErrUnknownCall means the call is not waiting in any queue.
	ErrUnknownCall = errors.New("queue: call not in a queue")
	// ErrDuplicateCall means the call ID is already waiting or connected.
	ErrDuplicateCall = errors.New("queue: call already queued")
	// ErrQueueFull means the queue holds MaxLength callers; the caller exits.
	ErrQueueFull = errors.New("queue: full")
	// ErrQueueEmpty means no agent is logged in and JoinEmpty is off.
	ErrQueueEmpty = errors.New("queue: no agent logged in")
	// ErrOfferGone means the offer already ended (caller left, timeout,
	// another agent answered); the ringer must hang up the agent leg.
	ErrOfferGone = errors.New("queue: offer no longer active")
	// ErrLoggedOut means the agent must log in first.
	ErrLoggedOut = errors.New("queue: agent logged out")
	// ErrBadState means the requested state change is not a known one.
	ErrBadState = errors.New("queue: invalid state change")
	// ErrUnknownFeatureCode means the dialled feature code is not one we know.
	ErrUnknownFeatureCode = errors.New("queue: unknown feature code")
	// ErrBadCallback means a callback entry without a key or a join
	// time, or with the key of a live call.
	ErrBadCallback = errors.New("queue: invalid callback entry")
	// ErrNoKey means the digit is not an exit key of the caller's queue.
	ErrNoKey = errors.New("queue: not an exit key")
)

// ExitError is returned by Join when the caller cannot wait: the flow should
// continue at Exit (the queue's exit node, possibly empty).
type ExitError struct {
	Queue  string
	Reason string // full or empty
	Exit   string
	err    error
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("queue %s: caller refused (%s), exit to %q", e.Queue, e.Reason, e.Exit)
}

// Unwrap returns ErrQueueFull or ErrQueueEmpty.
func (e *ExitError) Unwrap() error { return e.err }
