package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Runtime is the live state a restart must not lose (issue 11, "State that
// survives"): phones' registrations, agents' presence and run-time queue
// membership, and the queue events behind "today" on the wallboard. Both
// backends implement it next to Store. Writers replace whole rows (the
// latest state wins), so a writer that retries after an outage never
// leaves a half state behind.
type Runtime interface {
	// SaveBindings replaces the registered contacts of each username given
	// (an empty Contacts removes them all).
	SaveBindings(ctx context.Context, bs []UserBindings) error
	// Bindings lists every contact that has not expired at now.
	Bindings(ctx context.Context, now time.Time) ([]UserBindings, error)

	// SaveAgents upserts agents' presence and membership.
	SaveAgents(ctx context.Context, as []AgentState) error
	// Agents lists every saved agent state.
	Agents(ctx context.Context) ([]AgentState, error)

	// AppendQueueRecs adds queue events; a record with an ID already
	// stored (a retried batch) is skipped.
	AppendQueueRecs(ctx context.Context, rs []QueueRec) error
	// QueueRecs lists the records at or after since, oldest first, and
	// deletes those older than since (nothing reads them again).
	QueueRecs(ctx context.Context, since time.Time) ([]QueueRec, error)
}

// UserBindings are one digest username's registered contacts.
type UserBindings struct {
	Username string
	Contacts []Binding
}

// Binding is one registered contact (RFC 3261 §10).
type Binding struct {
	URI       string    `json:"uri"`
	Expires   time.Time `json:"expires"`
	Q         float64   `json:"q,omitempty"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Path is the REGISTER's Path (RFC 3327), first proxy first: the route
	// set of requests to this contact. Kept in the contact's JSON column, so
	// no migration: a row written before it has none.
	Path    []string  `json:"path,omitempty"`
	CallID  string    `json:"call_id"`
	CSeq    uint32    `json:"cseq"`
	Updated time.Time `json:"updated"`
}

// AgentState is an agent's presence as the ACD had it, and the queues it
// was added to or removed from at run time (nil: as configured).
type AgentState struct {
	AgentID  string
	Presence string // available, paused, logged_out
	Reason   string // the pause reason
	Since    time.Time
	// IdleSince is when the agent last became idle (longest-idle ranks by
	// it); zero: unknown.
	IdleSince time.Time
	// Queues, when not nil, is the agent's membership (queue → penalty)
	// after a run-time change; it replaces the configured one.
	Queues map[string]int
}

// QueueRec is one event of a queue's statistics: a caller joined, left
// (answered, abandoned, or another exit), or an agent finished handling a
// call. Duration is the wait (left) or the handle time.
type QueueRec struct {
	ID       string // unique per record (the writer's sequence), for idempotent retries
	Queue    string
	At       time.Time
	Kind     string // joined, answered, abandoned, exited, handled, agent_answered
	CallID   string
	Duration time.Duration
	Agent    string // agent_answered: who answered
}

// SortQueueRecs puts rs in (At, ID) order, the order the statistics
// replay them in.
func SortQueueRecs(rs []QueueRec) {
	slices.SortStableFunc(rs, func(a, b QueueRec) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Queue record kinds.
const (
	RecJoined    = "joined"
	RecAnswered  = "answered"
	RecAbandoned = "abandoned"
	RecExited    = "exited"
	RecHandled   = "handled"
	// RecAgentAnswered is an offer an agent answered (callbacks
	// included): the agent's calls today.
	RecAgentAnswered = "agent_answered"
)
