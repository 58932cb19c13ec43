package callback

import (
	"context"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// Place is where a callback waits in its queue: the tier the caller was
// ranked with and their original join time. Rank is the join time less the
// tier's boost (the ACD's priority with aging): lines are ordered by
// (Rank, JoinedAt, id).
type Place struct {
	Tier     store.Tier `json:"tier"`
	JoinedAt time.Time  `json:"joined_at"`
	Rank     time.Time  `json:"rank"`
}

// Waiting is a callback that is due and waits in its queue's line.
type Waiting struct {
	ID       int64              `json:"id"`
	Queue    string             `json:"queue"`
	Number   string             `json:"number"`
	Mode     store.CallbackMode `json:"mode"`
	Place    Place              `json:"place"`
	Attempt  int                `json:"attempt"` // the attempt a Dial would make
	TicketID int64              `json:"ticket_id"`
	Language string             `json:"language,omitempty"`
}

// ACD is the queue's side of the line. The scheduler calls it from one
// goroutine, in order, never holding its own lock, so an ACD may call back
// into the Scheduler (Dial) from these methods or, better, from its own
// dispatch.
type ACD interface {
	// Offer says callback w is due and waits at w.Place in w.Queue. When
	// it is at the head (ranked among live callers) and an agent is
	// predicted free, the ACD calls Scheduler.Dial(ctx, w.ID, ...). On
	// success the callback has left the line; on an error it stays (or
	// was withdrawn).
	Offer(w Waiting)
	// Withdraw says callback id left queue's line without a Dial: it was
	// cancelled, rescheduled or expired, or the queue's calendar closed.
	Withdraw(queue string, id int64)
	// Position is callback id's position in queue counting the live
	// callers ahead of it (1 = next); ok false when the ACD does not know.
	Position(queue string, id int64) (pos int, ok bool)
}

// Go is the ACD's "dial now".
type Go struct {
	// FreeAgents is how many of the queue's agents the ACD predicts free
	// (idle, or about to be): at most FreeAgents × pacing_ratio callbacks
	// of the queue dial at once.
	FreeAgents int
	// Agent is the agent the ACD reserved (agent_first); "" otherwise.
	Agent string
	// Node, in a cluster, is the node that places the call when it is not
	// this scheduler's: the attempt is claimed "<node>/dial/<uuid>", so
	// it is recovered with that node (RecoverNode, or its own restart),
	// and the Dialer hands the call to it (DialRequest.Node).
	Node string
}

// DialRequest is one attempt's call.
type DialRequest struct {
	CallbackID  int64
	Attempt     int
	MaxAttempts int
	Queue       string
	Number      string // E.164; the Dialer checks it against the outbound policy again
	Mode        store.CallbackMode
	// CallID and FromTag are the INVITE's Call-ID and From tag: the
	// attempt's voice interaction on the ticket is already keyed on them.
	CallID  string
	FromTag string
	Agent   string    // agent_first: the agent the ACD reserved
	AskedAt time.Time // when the customer asked ("about your call at 14:05")
	// JoinedAt is the customer's place: after confirming, a customer_first
	// callback is connected to the next agent ahead of everyone who joined
	// after it.
	JoinedAt       time.Time
	Tier           store.Tier
	ConfirmKey     string
	ConfirmTimeout time.Duration
	// RingTimeout is how long the customer's phone may ring (the queue's
	// ring_timeout); 0: the Dialer's default.
	RingTimeout time.Duration
	Prompts     config.CallbackPrompts
	Language    string
	TicketID    int64
	// Node and Claim: the node that places the call ("": this process)
	// and the attempt's claimed_by, which that node's PlaceAssigned
	// records the call's end under.
	Node  string `json:",omitempty"`
	Claim string `json:",omitempty"`
}

// Result is how an attempt's call ended.
type Result struct {
	Result    store.AttemptResult
	SIPStatus int    // the final SIP status of the INVITE (0 when none came)
	Reason    string // the SIP reason phrase or what failed, for the ticket
	Trunk     string
	Agent     string // who talked with the customer
	// AnsweredAt and ConfirmedAt are zero when it did not happen.
	AnsweredAt  time.Time
	ConfirmedAt time.Time
	Talk        time.Duration
	// Elsewhere says the call was placed by another node (DialRequest.Node),
	// which records its end itself (PlaceAssigned), or still has it up: the
	// scheduler reads the callback back from the store instead of writing.
	Elsewhere bool
}

// Progress is how a Dialer reports a call's progress while it lasts.
type Progress interface {
	// Confirmed says the customer pressed the confirm key: the callback is
	// connected (answered by a person, not a machine).
	Confirmed(at time.Time)
}

// Dialer places one attempt's call and returns when the call has ended:
// ringing, the greeting and the confirmation key, then (confirmed) the
// connection to an agent and the talk. When ctx ends (a shutdown, a
// cancel) it hangs up and returns at once. It must dial the number only
// if the outbound policy allows it, with DialRequest.CallID and FromTag: a
// dial the policy refuses for the number (not allowed, a blocked range) is
// Result refused, one it refuses for capacity (trunks busy, a rate or a
// cap) is not_placed.
type Dialer interface {
	Dial(ctx context.Context, r DialRequest, p Progress) Result
}

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, r DialRequest, p Progress) Result

// Dial calls f.
func (f DialerFunc) Dial(ctx context.Context, r DialRequest, p Progress) Result { return f(ctx, r, p) }
