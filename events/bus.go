// Package events is the one stream of call, IVR, queue and agent events.
// Metrics, the wallboard's Server-Sent Events, tests and the ticket history
// all read the same events, so the numbers they show cannot disagree.
package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event types. Keep them stable: they are part of the HTTP API (SSE) and of
// what tests assert on.
const (
	CallStarted  = "call.started"  // INVITE accepted (before answer)
	CallAnswered = "call.answered" // 200 OK sent and ACKed
	CallEnded    = "call.ended"    // Data: cause, side, duration_ms
	CallRejected = "call.rejected" // Data: status, reason
	NodeEntered  = "ivr.node"      // Data: node, type, flow, version
	PromptPlayed = "ivr.prompt"    // Data: prompt, lang, interrupted, duration_ms
	DigitPressed = "ivr.digit"     // Data: digit, source, duration_ms
	VarSet       = "ivr.var"       // Data: name, value
	FlowHandoff  = "ivr.handoff"   // Data: kind (enqueue|callback), target
	QueueJoined  = "queue.joined"
	QueueLeft    = "queue.left" // Data: reason (answered|abandoned|timeout|full|exit-key|transfer)
	AgentOffered = "agent.offered"
	AgentState   = "agent.state"
	CallBridged  = "call.bridged"
)

// Event is one thing that happened. Data values must be JSON-encodable.
type Event struct {
	Seq    uint64         `json:"seq"`
	Time   time.Time      `json:"time"`
	Type   string         `json:"type"`
	CallID string         `json:"call_id,omitempty"`
	Queue  string         `json:"queue,omitempty"`
	Agent  string         `json:"agent,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
}

// Bus fans events out to subscribers. Publish never blocks: a subscriber that
// does not keep up loses events (counted in Dropped) rather than slowing a call.
type Bus struct {
	seq     atomic.Uint64
	mu      sync.RWMutex
	subs    map[*Subscription]struct{}
	dropped atomic.Uint64
	now     func() time.Time
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{subs: make(map[*Subscription]struct{}), now: time.Now}
}

// Subscription receives events published after it was created.
type Subscription struct {
	C    <-chan Event
	c    chan Event
	bus  *Bus
	once sync.Once
}

// Subscribe returns a subscription with a buffer of n events.
func (b *Bus) Subscribe(n int) *Subscription {
	if n <= 0 {
		n = 256
	}
	c := make(chan Event, n)
	s := &Subscription{C: c, c: c, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close stops delivery and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		close(s.c)
		s.bus.mu.Unlock()
	})
}

// Publish stamps e with a sequence number and time (if unset) and delivers it.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	e.Seq = b.seq.Add(1)
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.c <- e:
		default:
			b.dropped.Add(1)
		}
	}
}

// Dropped reports how many deliveries were skipped because a subscriber was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }
