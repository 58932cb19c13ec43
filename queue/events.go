package queue

import (
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// The payloads of this package's events (events.Event.Payload). Readers
// (Stats, app, tests) type-assert them. Fields are in JSON-key order so
// the wire reads as it did when these were maps (pinned by
// api/testdata/events).

// Joined is queue.joined's payload.
type Joined struct {
	// Callback is the callback key of a confirmed callback's customer
	// back in line; Stats skips such a caller (counted when they first
	// waited).
	Callback string `json:"callback,omitempty"`
	Caller   string `json:"caller"`
	// Resumed is set for a caller back in a rebuilt Service (a new
	// cluster leader): when they first joined. Stats counted them then.
	Resumed time.Time  `json:"resumed,omitzero"`
	Tier    store.Tier `json:"tier"`
}

// Left is queue.left's payload.
type Left struct {
	Callback string `json:"callback,omitempty"` // as in Joined
	Exit     string `json:"exit,omitempty"`     // the flow node the caller continues at
	Reason   string `json:"reason"`             // a Reason* constant
	WaitMS   int64  `json:"wait_ms"`            // joined to left
}

// Offered is agent.offered's payload.
type Offered struct {
	Deadline time.Time       `json:"deadline"`
	Offer    string          `json:"offer"`
	Strategy config.Strategy `json:"strategy"`
	Tier     store.Tier      `json:"tier"`
}

// OfferEnd is agent.offer_ended's payload.
type OfferEnd struct {
	Offer  string `json:"offer"`
	Result string `json:"result"` // a Result* constant
}

// AgentChange is agent.state's payload: the agent's presence and activity
// after the change, and what caused it.
type AgentChange struct {
	Activity Activity `json:"activity"`
	Callback string   `json:"callback,omitempty"` // the callback the agent is held for or took
	// HandleMS is set when an agent becomes idle after a call (talk +
	// wrap-up): its presence, not its value, makes the call count for AHT.
	HandleMS    *int64   `json:"handle_ms,omitempty"`
	OfferResult string   `json:"offer_result,omitempty"` // the offer that just ended (a Result*)
	Presence    Presence `json:"presence"`
	// Queues is set when the agent's queue membership changed (members.go,
	// Restore): the membership after the change, queue → penalty ({} for
	// none). Stats follows it.
	Queues map[string]int `json:"queues,omitzero"`
	Reason string         `json:"reason,omitempty"` // why paused
	// TalkMS is set when a call ends, 0 included (a pointer for that).
	TalkMS *int64 `json:"talk_ms,omitempty"`
}

// Bridged is call.bridged's payload.
type Bridged struct {
	Offer  string `json:"offer"`
	WaitMS int64  `json:"wait_ms"`
}

// Transferred is call.transferred's payload.
type Transferred struct {
	From       string `json:"from"`
	Kind       string `json:"kind"` // queue | number
	ReferredBy string `json:"referred_by"`
	Result     string `json:"result"` // ok, or the SIP status that failed it
	Target     string `json:"target"` // the queue or the URI
}

// ms is d in milliseconds, for a pointer field.
func ms(d time.Duration) *int64 {
	v := d.Milliseconds()
	return &v
}
