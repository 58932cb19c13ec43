// Package queue is Hotline's automatic call distribution: agents with
// presence and activity, queues with strategies, offers with deadlines,
// caller priority with aging, and metrics computed from the event stream.
//
// The core (Service) is a synchronous, deterministic state machine: every
// method takes one mutex, decides, publishes events and returns; time comes
// from an injected clock and deadlines fire in Tick (Run calls it). The SIP
// side drives it through Join / Leave / Key / Hangup and a Ringer that rings
// agents and reports back with Answered / Failed.
package queue

import "time"

// Presence is whether an agent wants calls.
type Presence string

// Presence values.
const (
	LoggedOut Presence = "logged_out"
	Available Presence = "available"
	Paused    Presence = "paused"
)

// Activity is what an agent is doing.
type Activity string

// Activity values.
const (
	Idle    Activity = "idle"
	Ringing Activity = "ringing"
	OnCall  Activity = "on_call"
	WrapUp  Activity = "wrap_up"
)

// Leave reasons (events.QueueLeft Data["reason"]).
const (
	ReasonAnswered  = "answered"
	ReasonAbandoned = "abandoned" // caller hung up while waiting or ringing
	ReasonTimeout   = "timeout"   // MaxWait reached
	ReasonFull      = "full"      // MaxLength reached at join
	ReasonEmpty     = "empty"     // no agent logged in (JoinEmpty / LeaveWhenEmpty)
	ReasonExitKey   = "exit-key"
	ReasonTransfer  = "transfer"
)

// Offer results (OfferEnded Data["result"]). Busy, Declined, NoAnswer and
// Error count as misses; Cancelled does not.
const (
	ResultAnswered  = "answered"
	ResultNoAnswer  = "no-answer" // ring timeout or the phone gave up
	ResultBusy      = "busy"
	ResultDeclined  = "declined"
	ResultError     = "error" // unreachable, not registered, 5xx
	ResultCancelled = "cancelled"
)

// PauseNoAnswer is the pause reason after MaxMisses consecutive misses.
const PauseNoAnswer = "no-answer"

// Event types this package adds to those in package events.
const (
	// OfferEnded closes every agent.offered. Data: offer, result.
	OfferEnded = "agent.offer_ended"
)

// Offer asks the Ringer to ring one agent for one caller until Deadline.
type Offer struct {
	ID       string    `json:"id"`
	CallID   string    `json:"call_id"`
	Queue    string    `json:"queue"`
	Agent    string    `json:"agent"`
	Username string    `json:"username,omitempty"` // SIP user to look up in the registrar
	URI      string    `json:"uri,omitempty"`      // static agent URI (config), if any
	Caller   string    `json:"caller,omitempty"`
	Deadline time.Time `json:"deadline"`
}

// Ringer connects offers to phones (the SIP side). Ring and Cancel must not
// block for long: ring asynchronously and report the outcome with
// Service.Answered or Service.Failed. After Cancel, the offer is over as far
// as the queue is concerned; a late Answered returns ErrOfferGone and the
// ringer must hang the agent leg up.
type Ringer interface {
	Ring(o Offer)
	Cancel(o Offer, reason string)
}

// Outcome is how a caller's stay in a queue ended.
type Outcome struct {
	Reason string        `json:"reason"`          // a Reason* constant
	Exit   string        `json:"exit,omitempty"`  // flow node to continue at (timeout, empty, exit-key)
	Agent  string        `json:"agent,omitempty"` // answered: who
	Offer  string        `json:"offer,omitempty"` // answered: the offer that won
	Wait   time.Duration `json:"wait"`
}

// Ticket is a caller's handle on its place in a queue.
type Ticket struct {
	callID  string
	done    chan struct{}
	outcome Outcome
}

// CallID is the caller's call ID.
func (t *Ticket) CallID() string { return t.callID }

// Done is closed when the caller left the queue (answered or not).
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Outcome is valid once Done is closed.
func (t *Ticket) Outcome() Outcome {
	<-t.done
	return t.outcome
}

// Position is what a waiting caller may be told.
type Position struct {
	Position int           `json:"position"` // 1 = next; never increases between calls
	EWT      time.Duration `json:"ewt"`      // estimated wait; 0 when unknown
	Known    bool          `json:"ewt_known"`
}
