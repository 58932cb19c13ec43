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
	"github.com/hotline-dev/hotline/store"
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
// language. CallerTier reads "tier" back as a store.Tier.
type Attributes interface {
	Attributes() map[string]string
}

// CallerTier is the flow variable "tier" as a store.Tier: the one place a
// flow's string becomes a tier (the queue's ranking, a callback's place).
// It is not checked against store.Tiers, because a flow may set "tier" to
// anything: the queue gives a tier it has no boost for none (as it does
// standard) and the store refuses an unknown one on a callback request.
func CallerTier(vars map[string]string) store.Tier { return store.Tier(vars["tier"]) }

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

// QueueResult is what happened to the caller from the enqueue node on:
// every leg (each stay in a queue, each agent or number they were bridged
// to, each transfer), and how they left.
type QueueResult struct {
	// Answered: the caller's last leg was a bridged call (an agent, or a
	// number an agent transferred them to) and it has ended, whoever hung
	// up: the flow ends there, and the call is answered (completed).
	Answered bool
	Legs     []store.CallLeg
	Reason   string // unanswered: the queue's leave reason (events.QueueLeft: timeout, full, exit-key, ...)
	Next     string // flow node chosen by the queue (exit key, queue exit); "" = the enqueue node's next
	// Position is the caller's position in the queue when they left it
	// unanswered (1 = next), for the callback dialogue ("you keep your
	// place: your position is 3"); 0 when unknown.
	Position int
	// Recordings are the recordings of the bridged calls (a queue with
	// recording on), stored; the call log links them to the call.
	Recordings []Recorded
}

// Enqueuer puts a caller in an ACD queue and returns when they leave it.
type Enqueuer interface {
	Enqueue(ctx context.Context, call Call, req QueueRequest) (QueueResult, error)
}

// CallbackRequest is what a callback node hands to the scheduler.
type CallbackRequest struct {
	CallID string
	Number string // the caller's number: where to call back
	Called string
	// Queue is whose agents call back: the queue the caller was waiting in
	// when they asked (the queue's callback key, or the flow's callback
	// after leaving it), else the callback node's queue. JoinedAt and Tier
	// are their place in that queue (when they joined it and the tier they
	// were ranked with), so the callback can keep it; zero and "" when the
	// caller never waited.
	Queue       string
	JoinedAt    time.Time
	Tier        store.Tier
	Language    string
	Vars        map[string]string
	Category    string
	Tags        []string
	Priority    string
	RequestedAt time.Time
	// At is a chosen time (the callback node's `at`); zero: as soon as
	// the queue's calendar allows.
	At time.Time
}

// CallbackScheduler records a callback durably and tells the IVR what it
// recorded, so the caller hears it (their position, when they will be
// called). The app's adapter implements it on the callback scheduler.
type CallbackScheduler interface {
	// ScheduleCallback records req. A number that already has an open
	// callback in the queue is no error: the receipt names that callback
	// with Existing set, and nothing new is recorded. Errors the caller
	// hears about wrap ErrCallbackRefused, ErrCallbackRateLimited,
	// ErrCallbackOutsideHours (a *CallbackOutsideHoursError with the next
	// opening) or ErrCallbackUnavailable.
	ScheduleCallback(ctx context.Context, req CallbackRequest) (CallbackReceipt, error)
	// CancelCallback cancels callback id at version (the receipt's; 0
	// skips the check), on the caller's word.
	CancelCallback(ctx context.Context, id, version int64) error
}

// CallbackReceipt is what the scheduler recorded, or found.
type CallbackReceipt struct {
	ID      int64
	Version int64
	// Position is the callback's place in its queue's line, 1 = next; 0
	// when unknown (not in line yet: scheduled for later).
	Position int
	// FirstCall is when it will first be dialled: the chosen time, the
	// calendar's next opening, or about now (OpenNow). In the calendar's
	// zone, since that is the clock time the caller is told.
	FirstCall time.Time
	// OpenNow: the calendar is open, the callback waits only for an agent.
	OpenNow bool
	// Existing: the number already had this open callback in the queue.
	Existing bool
}
