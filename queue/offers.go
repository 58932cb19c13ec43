package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/events"
)

// Answered reports that the agent of an offer answered. The caller leaves
// the queue connected to the agent; other offers for the caller (ring-all)
// are cancelled. ErrOfferGone means the offer had already ended: the ringer
// must hang up the agent's leg.
func (s *Service) Answered(offerID string) error {
	s.mu.Lock()
	defer s.unlock()
	o, ok := s.offers[offerID]
	if !ok {
		return fmt.Errorf("answered %q: %w", offerID, ErrOfferGone)
	}
	e, a, q := o.e, o.a, s.queues[o.Queue]
	for _, other := range e.offers {
		if other != o {
			s.endOffer(other, ResultCancelled, "answered-elsewhere")
		}
	}
	s.endOffer(o, ResultAnswered, "")
	now := s.cfg.Now()
	a.activity, a.call, a.callQueue, a.talkStart, a.caller = OnCall, e.callID, e.queue, now, e.caller
	a.misses = 0
	a.answered++
	s.oncall[e.callID] = a
	q.answers = append(q.answers, now)
	q.pruneAnswers(now, s.cfg.EWTWindow)
	if e.cb != nil {
		s.answeredCallback(q, e, o)
		return nil
	}
	if e.rejoin != "" { // a confirmed callback's customer: this agent is the callback's
		a.holds, a.holdsQueue = e.rejoin, e.queue
	}
	s.emitAgent(a, e.queue, AgentChange{})
	s.emit(events.Event{Type: events.CallBridged, CallID: e.callID, Queue: e.queue, Agent: a.cfg.ID,
		Payload: Bridged{Offer: o.ID, WaitMS: now.Sub(e.joined).Milliseconds()}})
	s.finish(e, Outcome{Reason: ReasonAnswered, Agent: a.cfg.ID, Offer: o.ID, Offered: o.rang}, "")
	s.dispatch()
	return nil
}

// Failed reports that ringing an offer's agent failed: result is
// ResultNoAnswer, ResultBusy, ResultDeclined or ResultError. It counts as a
// miss; the caller is offered to the next agent.
func (s *Service) Failed(offerID, result string) error {
	switch result {
	case ResultNoAnswer, ResultBusy, ResultDeclined, ResultError:
	default:
		result = ResultError
	}
	s.mu.Lock()
	defer s.unlock()
	o, ok := s.offers[offerID]
	if !ok {
		return fmt.Errorf("failed %q: %w", offerID, ErrOfferGone)
	}
	s.endOffer(o, result, "")
	s.dispatch()
	return nil
}

// Hangup reports that a connected call (caller and agent) ended, whichever
// side hung up. The agent enters wrap-up for the queue's WrapUp, then idle.
func (s *Service) Hangup(callID string) error {
	s.mu.Lock()
	defer s.unlock()
	a, ok := s.oncall[callID]
	if !ok {
		return fmt.Errorf("hangup %q: %w", callID, ErrUnknownCall)
	}
	s.endCall(callID, a)
	s.dispatch()
	return nil
}

// endCall ends agent a's call callID: wrap-up for the queue's WrapUp,
// then idle. An agent-first callback's call ends its entry too.
func (s *Service) endCall(callID string, a *agent) {
	delete(s.oncall, callID)
	if e := s.cbs[callID]; e != nil && e.cb.state == cbAnswered {
		delete(s.cbs, callID)
		e.cb.agent = nil
	}
	a.holds, a.holdsQueue = "", ""
	now := s.cfg.Now()
	a.talk = now.Sub(a.talkStart)
	wrap := s.queues[a.callQueue].cfg.WrapUp
	if wrap > 0 {
		a.activity, a.wrapEnd = WrapUp, now.Add(wrap)
		s.emitAgent(a, a.callQueue, AgentChange{TalkMS: ms(a.talk)})
		return
	}
	s.endWrapUp(a, now)
}

// endWrapUp makes a wrapped-up agent idle; the agent.state event carries
// handle_ms (talk + wrap-up) for AHT.
func (s *Service) endWrapUp(a *agent, now time.Time) {
	handle := a.talk
	if a.activity == WrapUp {
		handle += now.Sub(a.wrapEnd.Add(-s.queues[a.callQueue].cfg.WrapUp))
	}
	a.activity, a.idleSince = Idle, now
	s.agentFreed(a)
	q := a.callQueue
	s.emitAgent(a, q, AgentChange{HandleMS: ms(handle), TalkMS: ms(a.talk)})
	a.call, a.callQueue, a.talk, a.caller = "", "", 0, ""
}

// Tick fires every deadline that has passed: ring timeouts (a miss, and
// Cancel to the ringer), wrap-up ends and max waits (the caller exits).
func (s *Service) Tick() {
	s.mu.Lock()
	defer s.unlock()
	now := s.cfg.Now()
	for _, id := range s.sortedOfferIDs() {
		if o := s.offers[id]; o != nil && !now.Before(o.Deadline) {
			s.endOffer(o, ResultNoAnswer, "timeout")
		}
	}
	for _, a := range s.sortedAgents() {
		if a.activity == WrapUp && !now.Before(a.wrapEnd) {
			s.endWrapUp(a, now)
		}
	}
	for _, q := range s.queueOrder() {
		for {
			e := q.firstLive(s)
			if e == nil || now.Before(e.joined.Add(q.cfg.MaxWait)) || q.cfg.MaxWait <= 0 {
				break
			}
			s.finish(e, Outcome{Reason: ReasonTimeout, Exit: q.cfg.Exit}, "caller-left")
		}
	}
	s.dispatch()
}

// firstLive drops entries that already left from the front of byJoin and
// returns the earliest-joined waiting caller.
func (q *queueState) firstLive(s *Service) *entry {
	for len(q.byJoin) > 0 {
		e := q.byJoin[0]
		if s.entries[e.callID] == e {
			return e
		}
		q.byJoin = q.byJoin[1:]
	}
	return nil
}

// NextDeadline is the earliest pending deadline, if any.
func (s *Service) NextDeadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	take := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, o := range s.offers {
		take(o.Deadline)
	}
	for _, a := range s.agents {
		if a.activity == WrapUp {
			take(a.wrapEnd)
		}
	}
	for _, q := range s.queues {
		if e := q.firstLive(s); e != nil && q.cfg.MaxWait > 0 {
			take(e.joined.Add(q.cfg.MaxWait))
		}
	}
	return next, !next.IsZero()
}

// Run fires deadlines on time until ctx is done, then returns nil. It
// waits with real timers against Config.Now, so use it with the real clock
// (or inside testing/synctest); with a fake clock, call Tick instead.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.Tick()
		select { // Tick's own wake-up: NextDeadline below already sees its changes
		case <-s.wake:
		default:
		}
		wait := time.Hour
		if next, ok := s.NextDeadline(); ok {
			wait = max(next.Sub(s.cfg.Now()), 0)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}
