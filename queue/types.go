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
	// Reserved: held for a customer-first callback while Hotline dials
	// the customer (callbacks.go); offered nothing else meanwhile.
	Reserved Activity = "reserved"
)

// Leave reasons (Left.Reason of events.QueueLeft).
const (
	ReasonAnswered  = "answered"
	ReasonAbandoned = "abandoned" // caller hung up while waiting or ringing
	ReasonTimeout   = "timeout"   // MaxWait reached
	ReasonFull      = "full"      // MaxLength reached at join
	ReasonEmpty     = "empty"     // no agent logged in (JoinEmpty / LeaveWhenEmpty)
	ReasonExitKey   = "exit-key"
	ReasonTransfer  = "transfer"
	ReasonDropped   = "dropped" // Hotline ended the call while it waited (shutdown, an error), not the caller
)

// Offer results (OfferEnd.Result of OfferEnded). Busy, Declined, NoAnswer and
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
	// OfferEnded closes every agent.offered; its payload is an OfferEnd.
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
	// Callback is the callback's key ("callback:42") when the offer is an
	// agent-first callback's (CallID is the key too): no caller waits on
	// the other side; when the agent answers, Config.Callbacks is told.
	Callback string `json:"callback,omitempty"`
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
	Reason  string        `json:"reason"`          // a Reason* constant
	Exit    string        `json:"exit,omitempty"`  // flow node to continue at (timeout, empty, exit-key)
	Agent   string        `json:"agent,omitempty"` // answered: who
	Offer   string        `json:"offer,omitempty"` // answered: the offer that won
	Joined  time.Time     `json:"joined"`          // when the caller joined
	Offered time.Time     `json:"offered"`         // answered: when the winning offer started ringing
	Wait    time.Duration `json:"wait"`            // joined to left (answered or not)
	// Position is the caller's place in the line as they left it (1 =
	// next): what a caller who asked for a callback is told they keep.
	Position int `json:"position,omitempty"`
}

// Place is a caller's place in a queue, as Join hands it out: Done is
// closed when the caller leaves it (answered or not), Outcome says how.
type Place struct {
	callID  string
	done    chan struct{}
	outcome Outcome
}

// CallID is the caller's call ID.
func (p *Place) CallID() string { return p.callID }

// Done is closed when the caller left the queue (answered or not).
func (p *Place) Done() <-chan struct{} { return p.done }

// Outcome is valid once Done is closed.
func (p *Place) Outcome() Outcome {
	<-p.done
	return p.outcome
}

// Position is what a waiting caller may be told.
type Position struct {
	Position int           `json:"position"` // 1 = next; never increases between calls
	EWT      time.Duration `json:"ewt"`      // estimated wait; 0 when unknown
	Known    bool          `json:"ewt_known"`
}
