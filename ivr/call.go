// Package ivr walks a flow (package flows) against a call: it plays prompts
// with barge-in, collects DTMF for menus and gathers, evaluates branches
// (business-hours calendars, caller patterns, variables), calls HTTP lookups,
// classifies the ticket and hands the caller to a queue or a callback. The
// same engine runs real calls and `hotline flows simulate` (Simulate).
package ivr

import (
	"context"
	"time"

	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
)

// Call is what the engine needs from a call; *sip.Call satisfies it.
type Call interface {
	ID() string
	Caller() string
	Called() string
	// Play blocks until the prompts have played or ctx is done.
	Play(ctx context.Context, prompts ...*media.Prompt) error
	Digits() <-chan media.Digit
}

// Attributes is optionally implemented by a Call that knows more about its
// caller before the flow starts: the app looks the caller up in the ticket
// history and provides "tier" (vip, standard, new) and "customer_id", so a
// flow can branch on them and the queue can rank VIP callers first. They
// are set after the built-in variables and never replace caller, called or
// language.
type Attributes interface {
	Attributes() map[string]string
}

// InputWaiter is optionally implemented by a Call that wants to know when
// the engine waits for one input event (a menu choice, a gather's digits, a
// confirmation) and when that event is over: the simulator releases its next
// scripted event at WaitingForInput and drops the digits the node did not
// read at InputDone. Real calls do not implement it (their extra digits are
// type-ahead for the next input).
type InputWaiter interface {
	WaitingForInput(node string)
	InputDone(node string)
}

// Prompts finds a prompt by language and name; *media.Library satisfies it.
type Prompts interface {
	Prompt(lang, name string) (*media.Prompt, error)
}

// Clock is time for the engine: Now for timestamps and calendars, After for
// the digit timeouts. nil in Config means the real clock; tests run the
// real clock inside testing/synctest, the simulator uses a virtual one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a stop
	// function that releases the timer early.
	After(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// QueueRequest is what an enqueue node hands to the Enqueuer.
type QueueRequest struct {
	Queue    string
	Flow     *flows.Flow
	Node     string // the enqueue node
	Language string
	Vars     map[string]string // a copy
	Category string
	Tags     []string
	Priority string
}

// QueueResult is how the caller left the queue.
type QueueResult struct {
	Answered bool // bridged to an agent: the flow ends there
	Agent    string
	Wait     time.Duration
	Talk     time.Duration // agent answer to the end of the bridge (ticket history talk time)
	Reason   string        // events.QueueLeft reasons: timeout, full, exit-key, ...
	Next     string        // flow node chosen by the queue (exit key, queue exit); "" = the enqueue node's next
}

// Enqueuer puts a caller in an ACD queue and returns when they leave it.
type Enqueuer interface {
	Enqueue(ctx context.Context, call Call, req QueueRequest) (QueueResult, error)
}

// CallbackRequest is what a callback node hands to the scheduler.
type CallbackRequest struct {
	CallID      string
	Number      string // the caller's number: where to call back
	Called      string
	Queue       string // whose agents call back
	Language    string
	Vars        map[string]string
	Category    string
	Tags        []string
	Priority    string
	RequestedAt time.Time
}

// CallbackScheduler records a callback durably.
type CallbackScheduler interface {
	ScheduleCallback(ctx context.Context, req CallbackRequest) error
}
