// Package store is the ticket history shared by the voice, email and chat
// channels: customers, tickets and interactions, on PostgreSQL (production)
// or an embedded SQLite file (the zero-setup default). Both backends pass one
// conformance suite, so callers cannot tell them apart.
package store

import (
	"encoding/json"
	"time"
)

// Tier is a customer's segment (RFM segmentation decides it; VIPs get queue
// priority). Queue and callback rank by it (their TierBoost maps); the value
// is what the database and the JSON wire carry.
type Tier string

// Customer tiers: Tiers lists them all (validation, the API's schema).
const (
	TierVIP      Tier = "vip"
	TierStandard Tier = "standard"
	TierNew      Tier = "new"
)

// Tiers are the customer tiers, the one list validation and the API's
// schema read.
var Tiers = []Tier{TierVIP, TierStandard, TierNew}

// Ticket statuses.
const (
	StatusOpen    = "open"
	StatusPending = "pending"
	StatusSolved  = "solved"
	StatusClosed  = "closed"
)

// Channels an interaction can come from.
const (
	ChannelVoice  = "voice"
	ChannelEmail  = "email"
	ChannelChat   = "chat"
	ChannelSMS    = "sms"
	ChannelSocial = "social"
)

// Directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Outcome is how a call ended for the customer (VoiceDetails.Outcome).
type Outcome string

// Call outcomes: Outcomes lists them all (validation, the API's schema).
const (
	OutcomeCompleted         Outcome = "completed"
	OutcomeAbandonedIVR      Outcome = "abandoned_ivr"
	OutcomeAbandonedQueue    Outcome = "abandoned_queue"
	OutcomeCallbackRequested Outcome = "callback_requested"
	OutcomeVoicemail         Outcome = "voicemail"
	OutcomeFailed            Outcome = "failed"
)

// Outcomes are the call outcomes, in the order documents list them.
var Outcomes = []Outcome{OutcomeCompleted, OutcomeAbandonedIVR, OutcomeAbandonedQueue,
	OutcomeCallbackRequested, OutcomeVoicemail, OutcomeFailed}

// Customer is one person or company, whatever channel they use.
type Customer struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Phones      []string          `json:"phones"` // E.164
	Emails      []string          `json:"emails"`
	ChatHandles []string          `json:"chat_handles"`
	Tier        Tier              `json:"tier"`
	Attributes  map[string]string `json:"attributes"`
	// ExternalIDs are the ids other systems (a desk, a CRM) know this
	// customer by: unique per source, any number of sources.
	ExternalIDs []ExternalID `json:"external_ids"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	// Version is the row's change number (its entity tag): it changes with
	// every write. Set by reads and writes; UpdateCustomer checks it when
	// IfVersion is set.
	Version int64 `json:"-"`
	// IfVersion, when not 0, makes UpdateCustomer fail with ErrVersion
	// unless the row is still at that Version (If-Match).
	IfVersion int64 `json:"-"`
}

// ExternalID is another system's id for a customer or ticket: Source names
// the system ("zendesk", "freshdesk"), ID is its id there. A (Source, ID)
// pair names at most one customer and at most one ticket.
type ExternalID struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// String is "source:id", the form the API's external_id parameter takes.
func (e ExternalID) String() string { return e.Source + ":" + e.ID }

// IsZero reports whether e is unset.
func (e ExternalID) IsZero() bool { return e.Source == "" && e.ID == "" }

// Ticket groups interactions about one problem.
type Ticket struct {
	ID         int64    `json:"id"`
	CustomerID int64    `json:"customer_id"`
	Subject    string   `json:"subject"`
	Category   string   `json:"category"`
	Tags       []string `json:"tags"`
	Status     string   `json:"status"`
	Priority   string   `json:"priority"` // low, normal, high, urgent
	Assignee   string   `json:"assignee"`
	Channel    string   `json:"channel"` // channel it was opened from
	// ExternalIDs: see Customer.ExternalIDs.
	ExternalIDs []ExternalID `json:"external_ids"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Version     int64        `json:"-"` // see Customer.Version
	IfVersion   int64        `json:"-"` // see Customer.IfVersion
}

// Interaction is one contact on any channel.
type Interaction struct {
	ID         int64           `json:"id"`
	CustomerID int64           `json:"customer_id"`
	TicketID   int64           `json:"ticket_id"`
	Channel    string          `json:"channel"`
	Direction  string          `json:"direction"`
	StartedAt  time.Time       `json:"started_at"`
	EndedAt    *time.Time      `json:"ended_at,omitempty"`
	Summary    string          `json:"summary"`
	Body       string          `json:"body,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"` // channel-specific (email headers, chat ids)
	Voice      *VoiceDetails   `json:"voice,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	Version    int64           `json:"-"` // see Customer.Version
}

// VoiceDetails is what the phone channel knows about one call.
//
// A call is identified by its SIP Call-ID and the caller's From tag (RFC
// 3261 §12: a dialog is Call-ID plus tags, and a new From tag is a new
// call); the pair is unique and logging is idempotent on it.
//
// With several legs (a blind transfer, a re-queue) the top-level fields sum
// them up: Queue is the first queue the caller waited in (where the IVR sent
// them; for a callback requested from the IVR alone, the callback's queue),
// Agent the first agent who answered, WaitSeconds the total time waiting
// (in queues and for transfer targets to answer) and TalkSeconds the total
// time bridged. Legs tells each stay apart.
type VoiceDetails struct {
	CallID           string    `json:"call_id"`  // SIP Call-ID
	FromTag          string    `json:"from_tag"` // the caller's From tag ("" for records written before it was kept)
	CallerNumber     string    `json:"caller_number"`
	CalledNumber     string    `json:"called_number"`
	FlowName         string    `json:"flow_name"`
	FlowVersion      string    `json:"flow_version"`
	Path             []IVRStep `json:"path"`
	Queue            string    `json:"queue,omitempty"`
	WaitSeconds      float64   `json:"wait_seconds"`
	Agent            string    `json:"agent,omitempty"`
	TalkSeconds      float64   `json:"talk_seconds"`
	Legs             []CallLeg `json:"legs"` // every stay after the IVR, in order; [] when the caller never queued
	Outcome          Outcome   `json:"outcome"`
	HangupCause      string    `json:"hangup_cause"` // sip.Cause* (caller-bye, agent-bye, completed, media-timeout, shutdown, ...)
	HangupSide       Side      `json:"hangup_side"`
	CallbackAttempts int       `json:"callback_attempts"`
	PacketsLost      int64     `json:"packets_lost"`
	JitterMillis     float64   `json:"jitter_ms"`
	// Recordings are the call's recordings (a voicemail message), not
	// those deleted; [] when none.
	Recordings []Recording `json:"recordings"`
}

// ApplyLegs sets the legs and the top-level fields they sum up: Queue (the
// first queue waited in; left as it is without legs), Agent (the first
// agent who answered), WaitSeconds and TalkSeconds (totals over the legs).
func (v *VoiceDetails) ApplyLegs(legs []CallLeg) {
	v.Legs = legs
	if len(legs) == 0 {
		return
	}
	v.Queue, v.Agent, v.WaitSeconds, v.TalkSeconds = legs[0].Queue, "", 0, 0
	for _, l := range legs {
		if v.Agent == "" && l.Answered() {
			v.Agent = l.Agent
		}
		v.WaitSeconds += l.WaitSeconds
		v.TalkSeconds += l.TalkSeconds
	}
}

// Side is who ended a call (VoiceDetails.HangupSide) or a leg (CallLeg.EndedBy).
type Side string

// Sides.
const (
	SideCaller  Side = "caller"  // the caller hung up
	SideAgent   Side = "agent"   // the party the caller was bridged to hung up: an agent, or the number an agent transferred the call to
	SideHotline Side = "hotline" // Hotline ended it: the flow hung up, a shutdown, a media timeout, an error
)

// LegEnd is how a leg ended (CallLeg.End).
type LegEnd string

// Leg ends.
const (
	LegHangup      LegEnd = "hangup"      // bridged, then hung up: EndedBy says who
	LegTransferred LegEnd = "transferred" // the agent transferred the caller: TransferTo says where
	LegUnanswered  LegEnd = "unanswered"  // nobody answered: Reason says why
)

// CallLeg is one stay of the caller after the IVR handed them on: in a
// queue (waiting, and if an agent answered, talking to them) or with a
// number an agent transferred the call to.
type CallLeg struct {
	Queue       string     `json:"queue,omitempty"`      // the queue waited in; for a number, the queue of the agent who transferred
	Agent       string     `json:"agent,omitempty"`      // who answered from the queue
	Number      string     `json:"number,omitempty"`     // a transfer to a number: the URI dialled
	JoinedAt    time.Time  `json:"joined_at"`            // joined the queue, or started dialling the number
	OfferedAt   *time.Time `json:"offered_at,omitempty"` // the answering agent's phone started ringing
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	EndedAt     time.Time  `json:"ended_at"`
	WaitSeconds float64    `json:"wait_seconds"` // joined to answered, or to the end when unanswered
	TalkSeconds float64    `json:"talk_seconds"` // answered to the end
	End         LegEnd     `json:"end"`
	EndedBy     Side       `json:"ended_by,omitempty"`    // hangup: who hung up; unanswered: caller when they gave up
	TransferTo  string     `json:"transfer_to,omitempty"` // transferred: the queue or the number's URI
	// Reason says why an unanswered leg ended: a queue's leave reason
	// (abandoned, timeout, full, empty, exit-key, dropped) or, for a
	// number, the SIP failure ("486 Busy Here").
	Reason string `json:"reason,omitempty"`
}

// Answered reports whether someone answered on this leg.
func (l CallLeg) Answered() bool { return l.AnsweredAt != nil }

// IVRStep is one node visited in a flow.
type IVRStep struct {
	Node   string    `json:"node"`
	Type   string    `json:"type"`
	At     time.Time `json:"at"`
	Digits string    `json:"digits,omitempty"`
}

// CallRecord is what the call path hands to the call logger when a call ends.
// Category and Tags come from the flow (set_ticket nodes); Subject is optional.
type CallRecord struct {
	StartedAt time.Time    `json:"started_at"`
	EndedAt   time.Time    `json:"ended_at"`
	Direction string       `json:"direction"`
	Category  string       `json:"category"`
	Tags      []string     `json:"tags"`
	Subject   string       `json:"subject"`
	Summary   string       `json:"summary"`
	Voice     VoiceDetails `json:"voice"`
}
