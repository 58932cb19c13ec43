package queue

// Queue membership at run time (issue 11, "State that survives"): an
// agent added to a queue, its penalty there changed, or taken out of it,
// without a restart. The change is published as the agent's agent.state
// with the membership after it (AgentChange.Queues, which Stats follows),
// and kept across a restart (Config.State as store.AgentState.Queues,
// put back by Restore).

import (
	"fmt"
	"maps"
	"slices"
)

// Member is one agent of a queue's live view (QueueView.Members).
type Member struct {
	Agent   string `json:"agent"`
	Penalty int    `json:"penalty"` // lower is offered first
}

// SetMember makes agent agentID a member of queue with penalty, or
// changes its penalty there; added says it was not a member before. A new
// member who is free is offered the queue's waiting callers at once.
func (s *Service) SetMember(agentID, queue string, penalty int) (added bool, err error) {
	s.mu.Lock()
	defer s.unlock()
	a, q, err := s.memberOf(agentID, queue)
	if err != nil {
		return false, fmt.Errorf("add %q to %q: %w", agentID, queue, err)
	}
	old, was := a.queues[queue]
	if was && old == penalty {
		return false, nil
	}
	m := maps.Clone(a.queues)
	if m == nil {
		m = map[string]int{}
	}
	m[queue] = penalty
	s.setQueues(a, m)
	if !was { // an agent of the queue who may be free (agentFreed, for q alone)
		q.noFree = false
		q.freed++
	}
	s.emitAgent(a, queue, AgentChange{Queues: m})
	s.dispatch()
	return !was, nil
}

// RemoveMember takes agent agentID out of queue. An offer ringing for
// one of the queue's callers is cancelled (not a miss), a reservation for
// one of its callbacks is dropped (the callback keeps dialling its
// customer, served at their place by whoever is free); a call in
// progress continues. When the queue has LeaveWhenEmpty and nobody logged
// in is left, its callers go to the exit node. ErrNotMember when the agent
// is not in the queue.
func (s *Service) RemoveMember(agentID, queue string) error {
	s.mu.Lock()
	defer s.unlock()
	a, q, err := s.memberOf(agentID, queue)
	if err == nil {
		if _, ok := a.queues[queue]; !ok {
			err = ErrNotMember
		}
	}
	if err != nil {
		return fmt.Errorf("remove %q from %q: %w", agentID, queue, err)
	}
	m := maps.Clone(a.queues)
	delete(m, queue)
	s.setQueues(a, m)
	if o := a.offer; o != nil && o.Queue == queue {
		s.endOffer(o, ResultCancelled, "agent-removed")
	}
	if a.activity == Reserved && a.holdsQueue == queue {
		s.dropReservation(a)
		s.agentFreed(a) // for its other queues
	}
	s.emitAgent(a, queue, AgentChange{Queues: m})
	if a.presence != LoggedOut {
		s.leaveIfEmpty(q)
	}
	s.dispatch()
	return nil
}

// memberOf looks the agent and the queue up, for a membership change.
func (s *Service) memberOf(agentID, queue string) (*agent, *queueState, error) {
	q, ok := s.queues[queue]
	if !ok {
		return nil, nil, ErrUnknownQueue
	}
	a, ok := s.agents[agentID]
	if !ok {
		return nil, nil, ErrUnknownAgent
	}
	return a, q, nil
}

// setQueues replaces a's membership with m (which nobody changes in place
// afterwards): the queues' member lists follow. Queues not configured are
// ignored (Restore drops them first).
func (s *Service) setQueues(a *agent, m map[string]int) {
	for name := range a.queues {
		if _, keep := m[name]; !keep {
			if q := s.queues[name]; q != nil {
				q.dropMember(a)
			}
		}
	}
	for name := range m {
		if _, had := a.queues[name]; !had {
			if q := s.queues[name]; q != nil {
				q.addMember(a)
			}
		}
	}
	a.queues = m
	a.custom = !maps.Equal(m, a.cfg.Queues)
}

// addMember puts a in q.members at its place by ID; the round-robin
// position stays on the agent it was on.
func (q *queueState) addMember(a *agent) {
	i, found := slices.BinarySearchFunc(q.members, a, byID)
	if found {
		return
	}
	q.members = slices.Insert(q.members, i, a)
	if i <= q.rr {
		q.rr++
	}
}

// dropMember takes a out of q.members; round robin goes on with the agent
// after it.
func (q *queueState) dropMember(a *agent) {
	i, found := slices.BinarySearchFunc(q.members, a, byID)
	if !found {
		return
	}
	q.members = slices.Delete(q.members, i, i+1)
	if i <= q.rr {
		q.rr--
	}
}
