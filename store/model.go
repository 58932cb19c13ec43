// Package store is the ticket history shared by the voice, email and chat
// channels: customers, tickets and interactions, on PostgreSQL (production)
// or an embedded SQLite file (the zero-setup default). Both backends pass one
// conformance suite, so callers cannot tell them apart.
package store

import (
	"encoding/json"
	"time"
)

// Customer tiers (RFM segmentation decides them; VIPs get queue priority).
const (
	TierVIP      = "vip"
	TierStandard = "standard"
	TierNew      = "new"
)

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

// Call outcomes recorded in VoiceDetails.Outcome.
const (
	OutcomeCompleted         = "completed"
	OutcomeAbandonedIVR      = "abandoned_ivr"
	OutcomeAbandonedQueue    = "abandoned_queue"
	OutcomeCallbackRequested = "callback_requested"
	OutcomeVoicemail         = "voicemail"
	OutcomeFailed            = "failed"
)

// Customer is one person or company, whatever channel they use.
type Customer struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Phones      []string          `json:"phones"` // E.164
	Emails      []string          `json:"emails"`
	ChatHandles []string          `json:"chat_handles"`
	Tier        string            `json:"tier"`
	Attributes  map[string]string `json:"attributes"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// Ticket groups interactions about one problem.
type Ticket struct {
	ID         int64     `json:"id"`
	CustomerID int64     `json:"customer_id"`
	Subject    string    `json:"subject"`
	Category   string    `json:"category"`
	Tags       []string  `json:"tags"`
	Status     string    `json:"status"`
	Priority   string    `json:"priority"` // low, normal, high, urgent
	Assignee   string    `json:"assignee"`
	Channel    string    `json:"channel"` // channel it was opened from
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
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
}

// VoiceDetails is what the phone channel knows about one call.
type VoiceDetails struct {
	CallID           string    `json:"call_id"` // SIP Call-ID; unique: logging is idempotent on it
	CallerNumber     string    `json:"caller_number"`
	CalledNumber     string    `json:"called_number"`
	FlowName         string    `json:"flow_name"`
	FlowVersion      string    `json:"flow_version"`
	Path             []IVRStep `json:"path"`
	Queue            string    `json:"queue,omitempty"`
	WaitSeconds      float64   `json:"wait_seconds"`
	Agent            string    `json:"agent,omitempty"`
	TalkSeconds      float64   `json:"talk_seconds"`
	Outcome          string    `json:"outcome"`
	HangupCause      string    `json:"hangup_cause"`
	HangupSide       string    `json:"hangup_side"` // caller, hotline, agent
	CallbackAttempts int       `json:"callback_attempts"`
	PacketsLost      int64     `json:"packets_lost"`
	JitterMillis     float64   `json:"jitter_ms"`
}

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
