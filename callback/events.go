package callback

import (
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// Event types on the bus, one per status a callback reaches. Keep them
// stable: they are part of the HTTP API (SSE).
const (
	EventRequested = "callback.requested" // a request was recorded
	EventScheduled = "callback.scheduled" // waiting for its time: a chosen time, a retry's spacing, the calendar
	EventWaiting   = "callback.waiting"   // due: in its queue's line at its place
	EventDialling  = "callback.dialling"  // an attempt is claimed; the call is being placed
	EventConnected = "callback.connected" // the customer confirmed
	EventCompleted = "callback.completed"
	EventFailed    = "callback.failed"
	EventExpired   = "callback.expired"
	EventCancelled = "callback.cancelled"
)

// Change is every callback event's payload (events.Event.Payload).
type Change struct {
	ID          int64                `json:"id"`
	Queue       string               `json:"queue"`
	Number      string               `json:"number"`
	Status      string               `json:"status"` // the event's: requested, scheduled, waiting, dialling, ...
	Source      store.CallbackSource `json:"source"`
	Attempt     int                  `json:"attempt"` // attempts made so far
	MaxAttempts int                  `json:"max_attempts"`
	JoinedAt    time.Time            `json:"joined_at"`
	Tier        store.Tier           `json:"tier,omitempty"`
	NotBefore   time.Time            `json:"not_before"`
	ExpiresAt   time.Time            `json:"expires_at"`
	TicketID    int64                `json:"ticket_id"`
	Version     int64                `json:"version"`
	Outcome     string               `json:"outcome,omitempty"`
	// The attempt that just ended (scheduled after a retry, and the final
	// states).
	Result    store.AttemptResult `json:"result,omitempty"`
	SIPStatus int                 `json:"sip_status,omitempty"`
	Agent     string              `json:"agent,omitempty"`
}

// publish sends e's change to status. Called with s.mu held: Publish never
// blocks, and the order of a callback's events is the order of its changes.
func (s *Scheduler) publish(e *entry, status string, extra *Change) {
	if s.cfg.Bus == nil {
		return
	}
	cb := e.cb
	c := Change{ID: cb.ID, Queue: cb.Queue, Number: cb.Number, Status: status, Source: cb.Source, Attempt: cb.Attempts,
		MaxAttempts: cb.MaxAttempts, JoinedAt: cb.JoinedAt, Tier: cb.Tier, NotBefore: cb.NotBefore, ExpiresAt: cb.ExpiresAt,
		TicketID: cb.TicketID, Version: cb.Version, Outcome: cb.Outcome}
	if extra != nil {
		c.Result, c.SIPStatus, c.Agent = extra.Result, extra.SIPStatus, extra.Agent
	}
	s.cfg.Bus.Publish(events.Event{Type: "callback." + status, CallID: cb.CallID, Queue: cb.Queue, Agent: c.Agent, Payload: c})
}
