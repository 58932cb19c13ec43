package queue

import (
	"maps"
	"slices"
	"strings"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// dispatch offers waiting callers to eligible agents until no queue can make
// another offer. Across queues the caller with the earliest virtual join time
// goes first, so an agent in several queues serves the longest (priority-
// adjusted) wait. Deterministic: queues and agents are visited in ID order.
func (s *Service) dispatch() {
	order := s.queueOrder()
	pos := make([]cursor, len(order))
	for i, q := range order {
		pos[i] = q.waiting.cursor()
	}
	done := make([]bool, len(order))
	for {
		best, bestE := -1, (*entry)(nil)
		for i, q := range order {
			if done[i] {
				continue
			}
			// A queue without a free agent first: most calls come
			// after a join or a leave with every agent busy, and the
			// walk below passes every caller ringing at the head.
			if q.noFree {
				done[i] = true
				continue
			}
			h := pos[i].at()
			for h != nil && !q.servable(h) {
				pos[i].next()
				h = pos[i].at()
			}
			if h == nil {
				done[i] = true
				continue
			}
			if bestE == nil || entryLess(h, bestE) {
				best, bestE = i, h
			}
		}
		if best < 0 {
			return
		}
		q := order[best]
		if bestE.cb != nil && !bestE.cb.agentFirst {
			// Customer first: one agent is reserved for the customer
			// Hotline is about to dial, whatever the strategy.
			a := s.pick(q, bestE)
			if a == nil {
				done[best], q.noFree = true, true
				continue
			}
			s.reserve(q, bestE, a)
			continue
		}
		if q.cfg.Strategy == config.StrategyRingAll {
			n := 0
			for _, a := range q.members {
				if s.eligible(q, a) {
					s.makeOffer(q, bestE, a)
					n++
				}
			}
			if n == 0 {
				done[best], q.noFree = true, true
			}
			continue
		}
		a := s.pick(q, bestE)
		if a == nil {
			done[best], q.noFree = true, true
			continue
		}
		s.makeOffer(q, bestE, a)
	}
}

func (s *Service) queueOrder() []*queueState {
	if len(s.qorder) != len(s.queues) {
		s.qorder = s.qorder[:0]
		for _, q := range s.queues {
			s.qorder = append(s.qorder, q)
		}
		sortQueues(s.qorder)
	}
	return s.qorder
}

// agentFreed clears noFree on the agent's queues: call it whenever the
// agent may have become eligible (login, ready, offer ended, wrap-up ended).
func (s *Service) agentFreed(a *agent) {
	for name := range a.queues {
		if q := s.queues[name]; q != nil {
			q.noFree = false
			q.freed++
		}
	}
}

// servable reports whether dispatch may offer (or reserve for) e now: a
// caller not ringing; a callback not ringing, not being dialled, and not
// waiting for an agent to be freed after a refused dial.
func (q *queueState) servable(e *entry) bool {
	if len(e.offers) > 0 {
		return false
	}
	if c := e.cb; c != nil {
		return c.state == cbWaiting && (!c.held || c.heldAt != q.freed)
	}
	return true
}

func (s *Service) eligible(q *queueState, a *agent) bool {
	if a.presence != Available || a.activity != Idle || a.offer != nil {
		return false
	}
	return q.cfg.Skill == "" || a.cfg.Skills[q.cfg.Skill] > 0
}

// pick chooses one agent for e by the queue's strategy. Agents who already
// missed this caller are chosen only when no other agent is eligible (RONA:
// the next agent rings first).
func (s *Service) pick(q *queueState, e *entry) *agent {
	var best *agent
	bestIdx, bestTried := -1, true
	for i, a := range q.members {
		if !s.eligible(q, a) {
			continue
		}
		tried := e.tried[a.cfg.ID]
		if best == nil || (bestTried && !tried) || (bestTried == tried && s.better(q, a, i, best, bestIdx)) {
			best, bestIdx, bestTried = a, i, tried
		}
	}
	return best
}

// better reports whether agent a (member index ai) beats b (index bi).
// Penalty (lower first) ranks before the strategy's own order, except for
// skills, where the skill level (higher first) ranks before the penalty.
func (s *Service) better(q *queueState, a *agent, ai int, b *agent, bi int) bool {
	pa, pb := a.queues[q.name], b.queues[q.name]
	switch q.cfg.Strategy {
	case config.StrategySkills:
		la, lb := a.cfg.Skills[q.cfg.Skill], b.cfg.Skills[q.cfg.Skill]
		if la != lb {
			return la > lb
		}
		if pa != pb {
			return pa < pb
		}
		return a.idleSince.Before(b.idleSince)
	}
	if pa != pb {
		return pa < pb
	}
	switch q.cfg.Strategy {
	case config.StrategyRoundRobin:
		n := len(q.members)
		return (ai-q.rr-1+2*n)%n < (bi-q.rr-1+2*n)%n
	case config.StrategyFewestCalls:
		if a.answered != b.answered {
			return a.answered < b.answered
		}
	}
	return a.idleSince.Before(b.idleSince) // config.StrategyLongestIdle, and the tie-break
}

func (s *Service) makeOffer(q *queueState, e *entry, a *agent) {
	now := s.cfg.Now()
	o := &offer{Offer: Offer{ID: s.newOfferID(), CallID: e.callID, Queue: q.name, Agent: a.cfg.ID,
		Username: a.cfg.Username, URI: a.cfg.URI, Caller: e.caller, Deadline: now.Add(q.cfg.RingTimeout)}, e: e, a: a, rang: now}
	if e.cb != nil {
		o.Callback = e.cb.key
	}
	s.offers[o.ID] = o
	e.offers[o.ID] = o
	a.offer = o
	a.activity = Ringing
	q.rotate(a)
	s.emit(events.Event{Type: events.AgentOffered, CallID: e.callID, Queue: q.name, Agent: a.cfg.ID,
		Payload: Offered{Deadline: o.Deadline, Offer: o.ID, Strategy: q.cfg.Strategy, Tier: e.tier}})
	s.emitAgent(a, q.name, AgentChange{})
	s.outbox = append(s.outbox, action{ring: true, o: o.Offer})
}

// endOffer closes an offer. A non-empty cancelReason asks the Ringer to stop
// ringing. Misses (no-answer, busy, declined, error) count towards MaxMisses.
func (s *Service) endOffer(o *offer, result, cancelReason string) {
	delete(s.offers, o.ID)
	delete(o.e.offers, o.ID)
	a := o.a
	if a.offer == o {
		a.offer = nil
		if a.activity == Ringing {
			a.activity = Idle
			if result != ResultAnswered {
				a.holds, a.holdsQueue = "", "" // a callback's agent who missed its customer
			}
		}
		s.agentFreed(a)
	}
	if cancelReason != "" {
		s.outbox = append(s.outbox, action{o: o.Offer, reason: cancelReason})
	}
	s.emit(events.Event{Type: OfferEnded, CallID: o.CallID, Queue: o.Queue, Agent: a.cfg.ID,
		Payload: OfferEnd{Offer: o.ID, Result: result}})
	if result == ResultAnswered {
		return
	}
	if result != ResultCancelled {
		o.e.tried[a.cfg.ID] = true
		a.misses++
		if max := s.queues[o.Queue].cfg.MaxMisses; max > 0 && a.misses >= max && a.presence == Available {
			a.presence, a.reason, a.misses = Paused, PauseNoAnswer, 0
		}
	}
	s.emitAgent(a, o.Queue, AgentChange{OfferResult: result})
}

// emitAgent publishes a's agent.state: c carries what caused the change
// (offer result, talk and handle time, callback, membership); presence,
// activity and pause reason come from a. A change of presence, pause
// reason, membership or idle time goes to Config.State.
func (s *Service) emitAgent(a *agent, queue string, c AgentChange) {
	c.Presence, c.Activity, c.Reason = a.presence, a.activity, a.reason
	// One reading of the clock: the saved Since below is the state_since a
	// restart puts back, so it must be the same instant, not a later one.
	now := s.cfg.Now()
	if st := a.agentState(); st != a.state {
		a.state, a.stateSince = st, now
	}
	s.emit(events.Event{Type: events.AgentState, Agent: a.cfg.ID, Queue: queue, CallID: a.call, Payload: c})
	if s.cfg.State == nil {
		return
	}
	var queues map[string]int // nil: as configured
	if a.custom {
		queues = a.queues
	}
	st := store.AgentState{AgentID: a.cfg.ID, Presence: string(a.presence), Reason: a.reason, Since: a.saved.Since, Queues: queues,
		IdleSince: a.idleSince}
	presence := a.saved.Presence != st.Presence || a.saved.Reason != st.Reason
	if !presence && (a.saved.Queues == nil) == (queues == nil) && maps.Equal(a.saved.Queues, queues) && a.saved.IdleSince.Equal(st.IdleSince) {
		return
	}
	if presence {
		st.Since = now
	}
	a.saved = st
	s.cfg.State.SaveAgent(st)
}

// rotate records a as the last agent chosen (round-robin).
func (q *queueState) rotate(a *agent) {
	if q.cfg.Strategy == config.StrategyRoundRobin {
		for i, m := range q.members {
			if m == a {
				q.rr = i
			}
		}
	}
}

func sortQueues(qs []*queueState) {
	slices.SortFunc(qs, func(a, b *queueState) int { return strings.Compare(a.name, b.name) })
}
