package queue

// Callbacks in the line: a caller who asked to be called back keeps their
// place. The callback scheduler (package callback, wired by app) offers
// each due callback here as a CallbackEntry; it waits in q.waiting ranked
// exactly like a live caller, so positions count it and nobody behind it
// is served first. When dispatch reaches it as the best head and an agent
// is eligible, the queue reserves that agent (customer first) or rings
// them (agent first) and tells Config.Callbacks, outside the lock.

import (
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// CallbackEntry is a callback waiting at its place in a queue's line.
type CallbackEntry struct {
	Key      string     // "callback:42": unique, never a live call's ID
	Queue    string     // the queue
	Tier     store.Tier // the caller's tier ("" = standard)
	JoinedAt time.Time  // the original join time: its place
	// AgentFirst rings an agent for it (Offer.Callback) instead of
	// reserving one while the customer is dialled.
	AgentFirst bool
	Caller     string // the number, for the agent's display (agent first)
}

// CallbackDue is a callback's turn, as Config.Callbacks is told.
type CallbackDue struct {
	Key   string
	Queue string
	// FreeAgents is the pacing figure for the scheduler: the queue's
	// agents idle and eligible plus those held by its callbacks (reserved,
	// on an agent-first call, or with a confirmed customer), this one's
	// included.
	FreeAgents int
	// Agent is the agent reserved (customer first) or who answered
	// (agent first).
	Agent string
	// AgentFirst: Agent answered Offer; the agent's leg waits in the
	// ringer (SIPRinger.Take(Offer)) for the dialler to call the customer.
	AgentFirst bool
	Offer      string
}

// CallbackHook hears of callbacks whose turn came. Due is called outside
// the service's lock, in order, and must not block: it may call back into
// the Service (CallbackFailed, ...), but the dial itself belongs on a
// goroutine of the hook's own.
type CallbackHook interface {
	Due(d CallbackDue)
}

// CallbackHookFunc adapts a function to CallbackHook.
type CallbackHookFunc func(CallbackDue)

// Due calls f.
func (f CallbackHookFunc) Due(d CallbackDue) { f(d) }

type cbState uint8

const (
	cbWaiting  cbState = iota // in line, waiting for its turn
	cbDialling                // customer first: its turn came, the customer is being dialled
	cbAnswered                // agent first: the agent answered; out of the line, the agent on its call
)

// cbEntry is the callback side of an entry.
type cbEntry struct {
	key        string
	agentFirst bool
	state      cbState
	agent      *agent // reserved (dialling) or on its call (answered)
	offer      string // answered: the offer the agent answered
	// held: a dial was refused (CallbackFailed); it is not due again until
	// an agent of the queue is freed (q.freed moves past heldAt).
	held   bool
	heldAt uint64
}

// OfferCallback puts a callback in its queue's line at its place: ranked
// at JoinedAt less the tier's boost, then JoinedAt, like the caller it
// stands for. A key already in line is replaced (a retry offered again
// before its last call was reported ended): its agent is released first.
func (s *Service) OfferCallback(c CallbackEntry) error {
	s.mu.Lock()
	defer s.unlock()
	q, ok := s.queues[c.Queue]
	if !ok {
		return fmt.Errorf("callback %q in %q: %w", c.Key, c.Queue, ErrUnknownQueue)
	}
	if c.Key == "" || c.JoinedAt.IsZero() || s.entries[c.Key] != nil {
		return fmt.Errorf("callback %q joined %v: %w", c.Key, c.JoinedAt, ErrBadCallback)
	}
	if old := s.cbs[c.Key]; old != nil {
		s.dropCallback(old, "callback-replaced")
	}
	if c.Tier == "" {
		c.Tier = store.TierStandard
	}
	s.seq++
	e := &entry{callID: c.Key, queue: c.Queue, tier: c.Tier, caller: c.Caller, joined: c.JoinedAt, placed: c.JoinedAt,
		vt: c.JoinedAt.Add(-s.cfg.TierBoost[c.Tier]), seq: s.seq, offers: map[string]*offer{}, tried: map[string]bool{},
		cb: &cbEntry{key: c.Key, agentFirst: c.AgentFirst}}
	s.cbs[c.Key] = e
	q.insert(e)
	q.ncb++
	s.dispatch()
	return nil
}

// WithdrawCallback takes a callback out of the line (cancelled,
// rescheduled, expired, the calendar closed): an agent ringing for it is
// cancelled, one reserved for it is freed, one on its agent-first call is
// freed as from a hang-up (wrap-up).
func (s *Service) WithdrawCallback(key string) error {
	s.mu.Lock()
	defer s.unlock()
	e, ok := s.cbs[key]
	if !ok {
		return fmt.Errorf("withdraw callback %q: %w", key, ErrUnknownCall)
	}
	s.dropCallback(e, "callback-withdrawn")
	s.dispatch()
	return nil
}

// CallbackEnded says the callback's call is over without its customer in
// the queue (no answer, busy, no confirmation, or an agent-first call that
// ended): the entry leaves the line and its agent is freed (wrap-up after
// an agent-first call). The scheduler offers it again for a retry. A key
// no longer known (the customer rejoined, or it was withdrawn) is
// ErrUnknownCall, harmless.
func (s *Service) CallbackEnded(key string) error {
	s.mu.Lock()
	defer s.unlock()
	e, ok := s.cbs[key]
	if !ok {
		return fmt.Errorf("callback %q ended: %w", key, ErrUnknownCall)
	}
	s.dropCallback(e, "callback-ended")
	s.dispatch()
	return nil
}

// CallbackFailed says the dial the hook asked for was refused (pacing, or
// the callback no longer waiting): the agent is released (an agent-first
// agent's leg is the caller's to hang up) and the entry stays at its place
// but is not due again until an agent of the queue is freed, or it is
// withdrawn: no loop of refused dials.
func (s *Service) CallbackFailed(key string) error {
	s.mu.Lock()
	defer s.unlock()
	e, ok := s.cbs[key]
	if !ok {
		return fmt.Errorf("callback %q failed: %w", key, ErrUnknownCall)
	}
	q := s.queues[e.queue]
	c := e.cb
	switch c.state {
	case cbDialling:
		s.unreserve(c, false)
	case cbAnswered:
		// The agent answered for nothing: free at once, no wrap-up.
		a := c.agent
		delete(s.oncall, key)
		c.agent, c.offer = nil, ""
		a.activity, a.idleSince, a.call, a.callQueue, a.talk = Idle, s.cfg.Now(), "", "", 0
		a.holds, a.holdsQueue = "", ""
		s.release(a)
		s.emitAgent(a, e.queue, AgentChange{Callback: key})
		q.insert(e)
		q.ncb++
	}
	c.state, c.held, c.heldAt = cbWaiting, true, q.freed
	s.dispatch()
	return nil
}

// CallbackPosition is a callback's position in its line (1 = next),
// counting the callers and callbacks ahead of it, and the EWT.
func (s *Service) CallbackPosition(key string) (Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cbs[key]; ok {
		q := s.queues[e.queue]
		if i := q.index(e); i >= 0 {
			return s.position(q, i+1), nil
		}
	}
	return Position{}, fmt.Errorf("position of callback %q: %w", key, ErrUnknownCall)
}

// CallbackPositions is CallbackPosition of every callback waiting in a
// line, by key, under one lock: a cluster's leader publishes them in its
// view for the other nodes (docs/cluster.md "Callbacks in a cluster").
func (s *Service) CallbackPositions() map[string]Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Position, len(s.cbs))
	for key, e := range s.cbs {
		q := s.queues[e.queue]
		if i := q.index(e); i >= 0 {
			out[key] = s.position(q, i+1)
		}
	}
	return out
}

// CallbackAgent is the agent on an agent-first callback's call and the
// offer they answered (SIPRinger.Take(offer) hands over their leg).
func (s *Service) CallbackAgent(key string) (agent, offer string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.cbs[key]
	if e == nil || e.cb.state != cbAnswered || e.cb.agent == nil {
		return "", "", false
	}
	return e.cb.agent.cfg.ID, e.cb.offer, true
}

// reserve holds agent a for callback e (customer first) and tells the
// hook. Called with the lock held, from dispatch.
func (s *Service) reserve(q *queueState, e *entry, a *agent) {
	c := e.cb
	c.state, c.held, c.agent = cbDialling, false, a
	a.activity, a.call, a.holds, a.holdsQueue = Reserved, c.key, c.key, q.name
	q.rotate(a)
	s.emitAgent(a, q.name, AgentChange{Callback: c.key})
	s.due(CallbackDue{Key: c.key, Queue: q.name, FreeAgents: s.freeFor(q), Agent: a.cfg.ID})
}

func (s *Service) due(d CallbackDue) {
	s.outbox = append(s.outbox, action{due: &d})
}

// freeFor is the pacing figure of q (CallbackDue.FreeAgents).
func (s *Service) freeFor(q *queueState) int {
	n := 0
	for _, a := range q.members {
		if s.eligible(q, a) || (a.holds != "" && a.holdsQueue == q.name) {
			n++
		}
	}
	return n
}

// unreserve ends c's reservation: its agent, if still reserved for it,
// goes back to idle. freed says whether that counts as an agent freed
// (a callback held after a refused dial may be due again).
func (s *Service) unreserve(c *cbEntry, freed bool) {
	a := c.agent
	c.agent = nil
	if a == nil || a.activity != Reserved || a.holds != c.key {
		return
	}
	q := a.holdsQueue
	a.activity, a.call, a.holds, a.holdsQueue = Idle, "", "", ""
	if freed {
		s.agentFreed(a)
	} else {
		s.release(a)
	}
	s.emitAgent(a, q, AgentChange{Callback: c.key})
}

// release makes a's queues look for a free agent again without counting
// it as freed: a refused dial's agent going back must not make the
// refused callback due again at once.
func (s *Service) release(a *agent) {
	for name := range a.queues {
		if q := s.queues[name]; q != nil {
			q.noFree = false
		}
	}
}

// dropCallback removes callback entry e, whatever its state.
func (s *Service) dropCallback(e *entry, reason string) {
	q, c := s.queues[e.queue], e.cb
	for _, o := range e.offers {
		s.endOffer(o, ResultCancelled, reason)
	}
	delete(s.cbs, c.key)
	switch c.state {
	case cbAnswered:
		if a := s.oncall[c.key]; a != nil {
			s.endCall(c.key, a)
		}
		return // out of the line already
	case cbDialling:
		s.unreserve(c, true)
	}
	q.remove(e)
	q.ncb--
}

// takeReservation puts caller e (joined with Reservation) in callback
// entry cb's place and rings the agent reserved for it at once.
func (s *Service) takeReservation(q *queueState, cb *entry, e *entry) {
	e.vt, e.placed, e.seq = cb.vt, cb.placed, cb.seq
	q.waiting.replace(cb, e) // the same rank: the order holds
	q.ncb--
	delete(s.cbs, cb.cb.key)
	for _, o := range cb.offers {
		s.endOffer(o, ResultCancelled, "callback-rejoined")
	}
	a := cb.cb.agent
	cb.cb.agent = nil
	if a == nil || a.activity != Reserved || a.holds != cb.cb.key {
		return // no reservation (lost to a pause or a logout): served as any caller
	}
	// The reserved agent rings for the customer now; holds stays (until
	// the offer ends unanswered, or the call does).
	a.activity, a.call = Idle, ""
	s.makeOffer(q, e, a)
}

// answeredCallback: the agent answered an agent-first callback's offer
// (the agent is OnCall for its key already). The entry leaves the line
// while the customer is dialled; the hook is told who and which offer.
func (s *Service) answeredCallback(q *queueState, e *entry, o *offer) {
	c, a := e.cb, o.a
	c.state, c.agent, c.offer = cbAnswered, a, o.ID
	a.holds, a.holdsQueue = c.key, q.name
	q.remove(e)
	q.ncb--
	s.emitAgent(a, q.name, AgentChange{Callback: c.key})
	s.due(CallbackDue{Key: c.key, Queue: q.name, FreeAgents: s.freeFor(q), Agent: a.cfg.ID, AgentFirst: true, Offer: o.ID})
	s.dispatch()
}

// dropReservation frees an agent who pauses or logs out while reserved:
// the callback keeps dialling its customer, who is then served at their
// place by whoever is free.
func (s *Service) dropReservation(a *agent) {
	if a.activity != Reserved {
		return
	}
	if e := s.cbs[a.holds]; e != nil && e.cb.agent == a {
		e.cb.agent = nil
	}
	a.activity, a.call, a.holds, a.holdsQueue = Idle, "", "", ""
}
