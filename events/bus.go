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
// what tests assert on. The payload of each is a struct of the publishing
// package, named here; readers type-assert Event.Payload.
const (
	CallStarted  = "call.started"  // INVITE accepted (before answer); sip.CallStart
	CallAnswered = "call.answered" // 200 OK sent and ACKed; sip.CallAnswer
	CallEnded    = "call.ended"    // sip.CallEnd: cause, side, duration_ms
	CallRejected = "call.rejected" // sip.CallReject: status, reason
	NodeEntered  = "ivr.node"      // ivr.NodeEnter: node, type, flow, version
	PromptPlayed = "ivr.prompt"    // ivr.PromptPlay: prompt, lang, interrupted, duration_ms, ...
	DigitPressed = "ivr.digit"     // ivr.DigitPress: digit, source, duration_ms, discarded
	VarSet       = "ivr.var"       // ivr.VarSet: name, value
	FlowHandoff  = "ivr.handoff"   // ivr.FlowHandoff: kind (enqueue|callback), target, node
	QueueJoined  = "queue.joined"  // queue.Joined: caller, tier (callback)
	QueueLeft    = "queue.left"    // queue.Left: reason, wait_ms (exit, callback)
	AgentOffered = "agent.offered" // queue.Offered: offer, deadline, strategy, tier
	AgentState   = "agent.state"   // queue.AgentChange: presence, activity (reason, offer_result, talk_ms, handle_ms, callback)
	CallBridged  = "call.bridged"  // queue.Bridged: offer, wait_ms
)

// Event is one thing that happened. Payload must be JSON-encodable.
type Event struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	CallID string    `json:"call_id,omitempty"`
	Queue  string    `json:"queue,omitempty"`
	Agent  string    `json:"agent,omitempty"`
	// Payload is the body, a struct of the publishing package (e.g.
	// sip.CallEnd, queue.Left, callback.Change): a reader type-asserts it.
	// It goes on the wire as "data" (left out when nil). Decoding the
	// wire back into an Event, as the stream's tests do, yields whatever
	// encoding/json makes of an object in an any (a generic map), never
	// the publisher's struct.
	Payload any `json:"data,omitempty"`
	// Origin is the node that published the event, OriginSeq its Seq
	// there (a cluster, docs/cluster.md "Events on every node"): a board
	// reading several nodes' streams de-duplicates on the pair. Empty on
	// a bus without a node name (single node).
	Origin    string `json:"origin,omitempty"`
	OriginSeq uint64 `json:"origin_seq,omitempty"`
}

// Bus fans events out to subscribers. Publish never blocks: a subscriber that
// does not keep up loses events (counted in Dropped) rather than slowing a call.
//
// In a cluster a bus also carries other nodes' events (PublishRemote). Those
// reach only the subscriptions that asked for them (SubscribeAll: the SSE
// stream); Subscribe and Observe see this node's own events only, so
// metrics, the ticket history, alerts and wrap-up grants never count an
// event twice, once on its node and once here.
type Bus struct {
	seq     atomic.Uint64
	node    atomic.Pointer[string]
	mu      sync.RWMutex
	subs    map[*Subscription]struct{}
	obs     map[*observer]struct{}
	dropped atomic.Uint64
	now     func() time.Time
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{subs: make(map[*Subscription]struct{}), obs: make(map[*observer]struct{}), now: time.Now}
}

// Subscription receives events published after it was created.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	bus    *Bus
	once   sync.Once
	remote bool // also other nodes' events (SubscribeAll)
}

// Subscribe returns a subscription with a buffer of n events: this node's
// own events.
func (b *Bus) Subscribe(n int) *Subscription { return b.subscribe(n, false) }

// SubscribeAll is Subscribe plus the events of the cluster's other nodes
// (PublishRemote), for the event stream and the wallboard.
func (b *Bus) SubscribeAll(n int) *Subscription { return b.subscribe(n, true) }

func (b *Bus) subscribe(n int, remote bool) *Subscription {
	if n <= 0 {
		n = 256
	}
	c := make(chan Event, n)
	s := &Subscription{C: c, c: c, bus: b, remote: remote}
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
	e.Origin, e.OriginSeq = "", 0
	if node := b.node.Load(); node != nil {
		e.Origin, e.OriginSeq = *node, e.Seq
	}
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for o := range b.obs {
		o.f(e)
	}
	b.deliver(e, false)
}

// SetNode names the node this bus belongs to: from then on each event
// published here carries it as Origin, with its Seq as OriginSeq.
func (b *Bus) SetNode(id string) { b.node.Store(&id) }

// PublishRemote delivers an event another node published (e.Origin and
// e.OriginSeq as it was there) to the SubscribeAll subscriptions only: it
// gets this bus's next Seq (a stream's ids stay one increasing series) and
// keeps its time. Observers and Subscribe do not see it.
func (b *Bus) PublishRemote(e Event) {
	if b == nil {
		return
	}
	e.Seq = b.seq.Add(1)
	b.mu.RLock()
	defer b.mu.RUnlock()
	for o := range b.obs {
		if o.remote {
			o.f(e)
		}
	}
	b.deliver(e, true)
}

func (b *Bus) deliver(e Event, remote bool) {
	for s := range b.subs {
		if remote && !s.remote {
			continue
		}
		select {
		case s.c <- e:
		default:
			b.dropped.Add(1)
		}
	}
}

type observer struct {
	f      func(Event)
	remote bool // ObserveAll: also the other nodes' events
}

// Observe calls f with every event published from now on, on the
// publisher's goroutine, before Publish returns: unlike a Subscription it
// never misses an event, and whoever publishes (or waits for) an event
// knows f has seen it. f must be quick, must not block and must not
// publish. stop ends the calls; after it returns f is not called again.
func (b *Bus) Observe(f func(Event)) (stop func()) { return b.observe(f, false) }

// ObserveAll is Observe plus the cluster's other nodes' events
// (PublishRemote), whose Payload is the origin's JSON (json.RawMessage).
// For state that follows a call wherever its events happen (the API's
// wrap-up grants: the caller's queue.joined is the leader's, call.bridged
// the caller node's), never for counting: a node's counters count its own
// events (docs/cluster.md "No double counting").
func (b *Bus) ObserveAll(f func(Event)) (stop func()) { return b.observe(f, true) }

func (b *Bus) observe(f func(Event), remote bool) (stop func()) {
	o := &observer{f: f, remote: remote}
	b.mu.Lock()
	b.obs[o] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.obs, o)
		b.mu.Unlock()
	}
}

// Dropped reports how many deliveries were skipped because a subscriber was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }
