package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrVersion means the row changed since the version the caller read (an
// optimistic lock: the API's If-Match). Read it again and retry.
var ErrVersion = errors.New("store: version mismatch")

// CallbackState is where a callback is. Waiting, dialling and connected are
// open: at most one open callback per (number, queue). "Scheduled" (on the
// wallboard) is a waiting callback whose time has not come yet.
type CallbackState string

// Callback states.
const (
	CallbackWaiting   CallbackState = "waiting"   // in its queue at its place, or scheduled for later (NotBefore)
	CallbackDialling  CallbackState = "dialling"  // an attempt is claimed: the call is being placed
	CallbackConnected CallbackState = "connected" // the customer confirmed; being connected to, or talking with, an agent
	CallbackCompleted CallbackState = "completed" // the customer confirmed and talked with an agent
	CallbackFailed    CallbackState = "failed"    // every attempt used, or a number the policy refuses
	CallbackExpired   CallbackState = "expired"   // not completed before ExpiresAt
	CallbackCancelled CallbackState = "cancelled" // cancelled by the caller, an agent or the API
)

// CallbackStates lists every state in lifecycle order.
var CallbackStates = []CallbackState{CallbackWaiting, CallbackDialling, CallbackConnected, CallbackCompleted,
	CallbackFailed, CallbackExpired, CallbackCancelled}

// Open reports whether the callback may still be dialled or is in a call.
func (s CallbackState) Open() bool {
	return s == CallbackWaiting || s == CallbackDialling || s == CallbackConnected
}

// Claimed reports whether an attempt is in flight (a process holds the claim).
func (s CallbackState) Claimed() bool { return s == CallbackDialling || s == CallbackConnected }

// CallbackMode says who is called first.
type CallbackMode string

// Callback modes (config queues.<name>.callback.mode).
const (
	CallbackCustomerFirst CallbackMode = "customer_first"
	CallbackAgentFirst    CallbackMode = "agent_first"
)

// CallbackSource is where the request came from.
type CallbackSource string

// Callback sources.
const (
	SourceVirtualHold CallbackSource = "virtual_hold" // a caller waiting in the queue pressed its callback key
	SourceIVR         CallbackSource = "ivr"          // a flow's callback node (after hours, a menu)
	SourceAPI         CallbackSource = "api"          // POST /api/v1/callbacks (web site, chat, email desk)
)

// AttemptResult is how one call of a callback ended.
type AttemptResult string

// Attempt results. Every one but completed, refused and (after the
// second time) interrupted leads to a retry while attempts and time remain.
const (
	AttemptCompleted      AttemptResult = "completed"       // confirmed and talked with an agent
	AttemptNoAnswer       AttemptResult = "no_answer"       // rang out (SIP 408/480 or our ring timeout)
	AttemptBusy           AttemptResult = "busy"            // 486/600
	AttemptRejected       AttemptResult = "rejected"        // 603 or another final refusal from the far end
	AttemptNoConfirmation AttemptResult = "no_confirmation" // answered but the confirm key never came (voicemail, answering machine)
	AttemptAbandoned      AttemptResult = "abandoned"       // confirmed, then hung up before an agent answered
	AttemptTrunkFailed    AttemptResult = "trunk_failed"    // the trunk failed (5xx, timeout, no trunk free)
	AttemptRefused        AttemptResult = "refused"         // the outbound policy refused the number at dial time
	AttemptAgentMissed    AttemptResult = "agent_missed"    // agent_first: the reserved agent did not answer; the customer was not dialled
	AttemptNotPlaced      AttemptResult = "not_placed"      // Hotline placed no call: every trunk busy, a dial cap reached (outbound:)
	AttemptInterrupted    AttemptResult = "interrupted"     // Hotline stopped during the call (crash, restart)
)

// AttemptResults lists every result.
var AttemptResults = []AttemptResult{AttemptCompleted, AttemptNoAnswer, AttemptBusy, AttemptRejected, AttemptNoConfirmation,
	AttemptAbandoned, AttemptTrunkFailed, AttemptRefused, AttemptAgentMissed, AttemptNotPlaced, AttemptInterrupted}

// Callback is one request to call a customer back, with its place in its
// queue (Tier and JoinedAt: how the caller was ranked while waiting, never
// changed) and its attempts.
type Callback struct {
	ID         int64          `json:"id"`
	CustomerID int64          `json:"customer_id"`
	TicketID   int64          `json:"ticket_id"`
	Queue      string         `json:"queue"`
	Number     string         `json:"number"` // E.164
	Mode       CallbackMode   `json:"mode"`
	Source     CallbackSource `json:"source"`
	State      CallbackState  `json:"state"`
	Tier       Tier           `json:"tier"`      // the tier the caller was ranked with ("" for none)
	JoinedAt   time.Time      `json:"joined_at"` // the original join time: the place in the queue
	NotBefore  time.Time      `json:"not_before"`
	ExpiresAt  time.Time      `json:"expires_at"`
	// Attempts counts the calls placed so far; MaxAttempts is how many it
	// may get (one more for each attempt that was not its fault: a crash,
	// an agent who missed the whisper).
	Attempts    int    `json:"attempts"`
	MaxAttempts int    `json:"max_attempts"`
	Interrupted int    `json:"interrupted"` // attempts a crash or restart cut short
	ClaimedBy   string `json:"claimed_by,omitempty"`
	Version     int64  `json:"version"` // changes with every write: the ETag
	// Outcome says why it ended, or how the last attempt went while open.
	Outcome   string    `json:"outcome"`
	CallID    string    `json:"call_id,omitempty"`  // the call it was asked from
	FromTag   string    `json:"from_tag,omitempty"` // with CallID, that call's name in the history
	Language  string    `json:"language,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Calls are the attempts, oldest first (GetCallback; ClaimCallback
	// returns the new one alone; lists leave it empty).
	Calls []CallbackAttempt `json:"calls,omitempty"`
}

// CallbackAttempt is one call of a callback; it is also a voice interaction
// on the ticket (InteractionID), keyed on its Call-ID and From tag.
type CallbackAttempt struct {
	Attempt       int           `json:"attempt"`
	ClaimedBy     string        `json:"claimed_by"`
	StartedAt     time.Time     `json:"started_at"`
	EndedAt       *time.Time    `json:"ended_at,omitempty"`
	Result        AttemptResult `json:"result,omitempty"` // "" while in flight
	Trunk         string        `json:"trunk,omitempty"`
	Agent         string        `json:"agent,omitempty"`
	CallID        string        `json:"call_id"`
	FromTag       string        `json:"from_tag"`
	SIPStatus     int           `json:"sip_status,omitempty"`
	Reason        string        `json:"reason,omitempty"`
	AnsweredAt    *time.Time    `json:"answered_at,omitempty"`
	ConfirmedAt   *time.Time    `json:"confirmed_at,omitempty"`
	TalkSeconds   float64       `json:"talk_seconds"`
	InteractionID int64         `json:"interaction_id"`
}

// CallbackRequest asks for a callback. The ticket is TicketID's, else the
// one of the call CallID/FromTag if it is already logged, else the
// customer's (CustomerID, else the one Caller's number or caller ID names,
// else Number's; created when missing) newest open ticket in Category, as
// LogCall would pick for the call (opened when there is none).
type CallbackRequest struct {
	Queue       string
	Number      string // where to call; normalised to E.164
	Mode        CallbackMode
	Source      CallbackSource
	Tier        Tier
	JoinedAt    time.Time // zero: At
	NotBefore   time.Time // zero: At
	ExpiresAt   time.Time
	MaxAttempts int
	Caller      string // the caller ID of the call it was asked from ("" from the API)
	CallID      string
	FromTag     string
	CustomerID  int64
	TicketID    int64
	Category    string
	Language    string
	Note        string // added to the request's interaction summary ("position 4, asked while waiting 3m")
	At          time.Time
	// SourceKey is who asked (the API's token and client address; "" not
	// counted per source), kept for Bounds.
	SourceKey string
	// Bounds, when set, are checked in the insert's transaction against
	// the callbacks the store already has (every process's on a shared
	// database): past one, *CallbackBoundError and nothing is written.
	Bounds *CallbackBounds
}

// CallbackBounds are request bounds counted in the store: at most so many
// callbacks created in the Window before the request's At, per number,
// per SourceKey and in all; 0 is no bound. Checks are serialised across
// processes (PostgreSQL: an advisory lock held by the transaction), so N
// nodes allow the bound, not N times it.
type CallbackBounds struct {
	Window                      time.Duration
	PerNumber, PerSource, Total int
}

// CallbackBoundError is RequestCallback's answer when a CallbackBounds
// bound is used up. It wraps ErrConflict.
type CallbackBoundError struct {
	Bound      string        // "per_number", "per_source", "total"
	RetryAfter time.Duration // until the oldest counted request leaves the window
}

func (e *CallbackBoundError) Error() string {
	return fmt.Sprintf("callback request bound %s used up: retry in %s", e.Bound, e.RetryAfter.Round(time.Second))
}

func (e *CallbackBoundError) Unwrap() error { return ErrConflict }

// DuplicateCallbackError is RequestCallback's answer when the number
// already has an open callback in the queue. It wraps ErrConflict.
type DuplicateCallbackError struct{ Existing Callback }

func (e *DuplicateCallbackError) Error() string {
	return fmt.Sprintf("callback %d for %s in queue %s is already %s", e.Existing.ID, e.Existing.Number, e.Existing.Queue, e.Existing.State)
}

func (e *DuplicateCallbackError) Unwrap() error { return ErrConflict }

// CallbackClaim takes a waiting, due callback for one attempt: the claim
// commits (attempt row and its interaction included) before the INVITE.
type CallbackClaim struct {
	ID      int64
	Version int64  // 0: any
	Boot    string // the claiming process (its boot id)
	At      time.Time
	CallID  string // the outbound call's Call-ID and From tag, chosen before dialling
	FromTag string
	Trunk   string
	Agent   string // agent_first: the reserved agent
}

// CallbackConnect records the customer's confirmation (the connected state).
type CallbackConnect struct {
	ID      int64
	Boot    string
	Attempt int
	At      time.Time
	// AnsweredAt is when the customer's phone answered; zero: At.
	AnsweredAt time.Time
}

// CallbackFinish records how an attempt ended and what follows, as the
// scheduler decided: Next is waiting (a retry at NotBefore), completed,
// failed or expired; GiveBack returns the attempt (it was not the
// customer's: an agent who missed the whisper).
type CallbackFinish struct {
	ID          int64
	Boot        string
	Attempt     int
	At          time.Time
	Result      AttemptResult
	SIPStatus   int
	Reason      string
	Trunk       string
	Agent       string
	AnsweredAt  *time.Time
	ConfirmedAt *time.Time
	TalkSeconds float64
	Next        CallbackState
	NotBefore   time.Time // Next waiting: when to try again
	GiveBack    bool
	Outcome     string // Next final: why it ended
}

// CallbackChange moves a waiting callback: To waiting reschedules it
// (NotBefore, ExpiresAt when set), cancelled, expired or failed ends it
// with Outcome. By says who asked, for the ticket ("api token helpdesk").
type CallbackChange struct {
	ID        int64
	Version   int64 // 0: any
	At        time.Time
	To        CallbackState
	NotBefore time.Time
	ExpiresAt time.Time
	Outcome   string
	By        string
}

// CallbackRecovery marks attempts in flight as interrupted. Without IDs it
// takes every claim not held by Boot (a previous process: run it at start,
// before loading): each callback goes back to waiting at its place at At
// with its attempt given back ("retried once"), or, when a crash had
// already cut one of its calls short, ends failed. With IDs it takes those
// callbacks' claims whoever holds them, for a claim whose commit outcome is
// unknown (no call was placed): the attempt is given back and not counted
// as interrupted.
//
// Prefix (without IDs) narrows it to claims whose claimed_by starts with
// Prefix: in a cluster a claim is "<node>/<boot>", and a node recovers
// only the claims of its own earlier boots and of nodes declared lost, never
// those of a live node (docs/cluster.md, "Callbacks in a cluster").
type CallbackRecovery struct {
	Boot   string
	At     time.Time
	IDs    []int64
	Reason string
	Prefix string
}

// CallbackFilter narrows ListCallbacks; zero fields do not filter. State
// "open" is waiting, dialling or connected.
type CallbackFilter struct {
	Queue      string
	State      CallbackState
	CustomerID int64
	TicketID   int64
	Number     string
}

// CallbackOpen is the CallbackFilter state for any open callback.
const CallbackOpen CallbackState = "open"

// CallbackCount is how many callbacks of a queue ended in a state.
type CallbackCount struct {
	Queue string
	State CallbackState
	N     int
}

// Callbacks is the callback scheduler's durable state. Both backends
// implement it next to Store and pass the same conformance suite. Every
// change of state is a conditional update (it names the state, the claim
// or the version it expects) in one transaction with its attempt row and
// its interaction on the ticket, so two writers never both win.
type Callbacks interface {
	// RequestCallback records a request and its interaction on the
	// ticket. A number with an open callback in the queue gets a
	// *DuplicateCallbackError holding that one, also when two requests
	// race.
	RequestCallback(ctx context.Context, r CallbackRequest) (Callback, error)
	GetCallback(ctx context.Context, id int64) (*Callback, error)
	// ListCallbacks lists newest first.
	ListCallbacks(ctx context.Context, f CallbackFilter, p Page) ([]Callback, string, error)
	// OpenCallbacks lists every open callback by queue and join time (the
	// scheduler's load at start).
	OpenCallbacks(ctx context.Context) ([]Callback, error)
	// ClaimCallback claims one attempt of a waiting callback that is due
	// (NotBefore passed, not expired, attempts left): ErrVersion, a
	// ConflictError on "state", or ErrNotFound when it cannot.
	ClaimCallback(ctx context.Context, c CallbackClaim) (Callback, error)
	ConnectCallback(ctx context.Context, c CallbackConnect) (Callback, error)
	FinishCallback(ctx context.Context, f CallbackFinish) (Callback, error)
	ChangeCallback(ctx context.Context, c CallbackChange) (Callback, error)
	// RecoverCallbacks returns the callbacks it changed.
	RecoverCallbacks(ctx context.Context, r CallbackRecovery) ([]Callback, error)
	// CountCallbacks counts callbacks that ended (completed, failed,
	// expired, cancelled) at or after since, by queue and state.
	CountCallbacks(ctx context.Context, since time.Time) ([]CallbackCount, error)
	// OldestCallbacks is, per queue, the waiting callback due at at (not
	// before passed, not expired) whose caller joined first, by queue name.
	// The calendar is the scheduler's business: it is not applied here.
	OldestCallbacks(ctx context.Context, at time.Time) ([]Callback, error)
}
