package queue

// Resuming: a Service rebuilt from what another one knew (a new cluster
// leader, docs/cluster.md "Failover"). The old Service's state is read with
// ExportQueue, ExportAgent and ExportEntry and kept elsewhere (the
// cluster's snapshot rows); the new one takes it back with ImportQueue for
// every queue, ImportAgent for every agent, Join with JoinRequest.Resume
// for every waiting caller in service order, and Resumed at the end. Offers in flight are not carried over: the rebuilt
// Service makes its own at Resumed.

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// AgentSnapshot is what a rebuilt Service needs of an agent.
type AgentSnapshot struct {
	Presence Presence `json:"presence"`
	Reason   string   `json:"reason,omitempty"`
	// Activity is on_call or wrap_up, else idle: an offer ringing is not
	// carried over (the rebuilt Service offers again) and neither is a
	// callback's reservation (its scheduler's).
	Activity  Activity `json:"activity"`
	Call      string   `json:"call,omitempty"` // on_call, wrap_up: the call and its queue
	CallQueue string   `json:"call_queue,omitempty"`
	Caller    string   `json:"caller,omitempty"`
	// TalkStart is when the call was answered; Talk (wrap_up) how long it
	// lasted, for its handle time; WrapEnd when the wrap-up ends.
	TalkStart time.Time     `json:"talk_start,omitzero"`
	Talk      time.Duration `json:"talk,omitempty"`
	WrapEnd   time.Time     `json:"wrap_end,omitzero"`
	// Queues is the membership after a run-time change (SetMember,
	// RemoveMember; {} for none); nil: as configured.
	Queues   map[string]int `json:"queues,omitzero"`
	Misses   int            `json:"misses,omitempty"`
	Answered int            `json:"answered,omitempty"`
	// IdleSince ranks longest-idle; StateSince dates the agent's state
	// (zero: the import's now, as for an agent that was ringing).
	IdleSince  time.Time `json:"idle_since"`
	StateSince time.Time `json:"state_since,omitzero"`
}

// EntrySnapshot is what a rebuilt Service needs of a waiting caller
// besides its JoinRequest: when the caller really joined (MaxWait and the
// wait reported count from it; the rank is JoinedAt's), and the agents
// who missed them (RONA: tried last).
type EntrySnapshot struct {
	Joined time.Time `json:"joined"`
	Tried  []string  `json:"tried,omitempty"` // sorted
}

// QueueSnapshot is what a rebuilt Service needs of a queue: where round
// robin stands and the answers behind EWT.
type QueueSnapshot struct {
	// RoundRobin is the member offered last (round-robin: the next offer
	// goes to the member after it by ID, also when it left the queue
	// since); "" for none.
	RoundRobin string `json:"round_robin"`
	// Answers are the answers within EWTWindow (EWT = position ×
	// EWTWindow / answers) by the second they were made in, oldest first:
	// at most one pair per second of the window, however many answers.
	Answers []AnswerCount `json:"answers,omitempty"`
}

// AnswerCount is N answers in the second starting at Unix time At (s).
type AnswerCount struct {
	At int64 `json:"t"`
	N  int   `json:"n"`
}

// ExportQueue is queue name's state for ImportQueue; without answers its
// Answers are left out (they cost one pass over the window's answers, and
// a cluster leader writes them less often than round robin moves).
func (s *Service) ExportQueue(name string, answers bool) (QueueSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return QueueSnapshot{}, fmt.Errorf("export queue %q: %w", name, ErrUnknownQueue)
	}
	var st QueueSnapshot
	if q.rr >= 0 && q.rr < len(q.members) {
		st.RoundRobin = q.members[q.rr].cfg.ID
	}
	if !answers {
		return st, nil
	}
	q.pruneAnswers(s.cfg.Now(), s.cfg.EWTWindow)
	for _, t := range q.answers {
		if n := len(st.Answers); n > 0 && st.Answers[n-1].At == t.Unix() {
			st.Answers[n-1].N++
		} else {
			st.Answers = append(st.Answers, AnswerCount{At: t.Unix(), N: 1})
		}
	}
	return st, nil
}

// maxAnswers bounds one second's answers an import believes (a corrupt
// row must not allocate without end).
const maxAnswers = 10000

// ImportQueue gives queue name the state st (ExportQueue's, from the
// Service this one replaces). Call it before agents and callers come back:
// round robin goes on after st.RoundRobin among the members then, and EWT
// counts the answers still within EWTWindow (none from the future: the
// clocks of two leaders may differ), each at the start of its second.
func (s *Service) ImportQueue(name string, st QueueSnapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return fmt.Errorf("import queue %q: %w", name, ErrUnknownQueue)
	}
	q.rr = -1
	if st.RoundRobin != "" {
		// The members are sorted by ID: rr is the last one at or before
		// the agent offered last, so the next offer goes to the one after.
		q.rr = sort.Search(len(q.members), func(i int) bool { return q.members[i].cfg.ID > st.RoundRobin }) - 1
	}
	now := s.cfg.Now()
	q.answers = q.answers[:0]
	for _, a := range slices.SortedFunc(slices.Values(st.Answers), func(a, b AnswerCount) int { return cmp.Compare(a.At, b.At) }) {
		if t := time.Unix(a.At, 0); !t.After(now) {
			for range min(a.N, maxAnswers) {
				q.answers = append(q.answers, t)
			}
		}
	}
	q.pruneAnswers(now, s.cfg.EWTWindow)
	return nil
}

// ExportAgent is agent id's state for ImportAgent.
func (s *Service) ExportAgent(id string) (AgentSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[id]
	if !ok {
		return AgentSnapshot{}, fmt.Errorf("export agent %q: %w", id, ErrUnknownAgent)
	}
	st := AgentSnapshot{Presence: a.presence, Reason: a.reason, Activity: Idle, Misses: a.misses, Answered: a.answered,
		IdleSince: a.idleSince, StateSince: a.stateSince}
	if a.custom {
		st.Queues = a.queues // replaced whole, never changed in place
	}
	switch a.activity {
	case OnCall:
		st.Activity, st.Call, st.CallQueue, st.Caller, st.TalkStart = OnCall, a.call, a.callQueue, a.caller, a.talkStart
	case WrapUp:
		st.Activity, st.Call, st.CallQueue, st.Caller, st.TalkStart, st.Talk, st.WrapEnd = WrapUp, a.call, a.callQueue, a.caller,
			a.talkStart, a.talk, a.wrapEnd
	case Ringing, Reserved:
		st.StateSince = time.Time{} // comes back idle: a new state
	}
	return st, nil
}

// ImportAgent gives agent id the state st (ExportAgent's, from the Service
// this one replaces). Call it before callers join, once per agent: an agent
// on a call stays on it (offered nothing until Hangup of st.Call, then
// wrap-up), one in wrap-up wraps up until st.WrapEnd (Tick ends it),
// membership, misses, calls answered, idle and state times are kept. A
// queue no longer configured is dropped from the membership.
func (s *Service) ImportAgent(id string, st AgentSnapshot) error {
	s.mu.Lock()
	defer s.unlock()
	a, ok := s.agents[id]
	if !ok {
		return fmt.Errorf("import agent %q: %w", id, ErrUnknownAgent)
	}
	if a.activity != Idle || a.offer != nil {
		return fmt.Errorf("import agent %q: already %s: %w", id, a.activity, ErrDuplicateCall)
	}
	switch st.Activity {
	case OnCall, WrapUp:
		if _, ok := s.queues[st.CallQueue]; !ok {
			return fmt.Errorf("import agent %q: call %q in %q: %w", id, st.Call, st.CallQueue, ErrUnknownQueue)
		}
		if st.Call == "" || s.oncall[st.Call] != nil || s.entries[st.Call] != nil {
			return fmt.Errorf("import agent %q: call %q: %w", id, st.Call, ErrDuplicateCall)
		}
	}
	now := s.cfg.Now()
	var c AgentChange
	if st.Queues != nil {
		m := make(map[string]int, len(st.Queues))
		for name, penalty := range st.Queues {
			if _, ok := s.queues[name]; ok {
				m[name] = penalty
			}
		}
		s.setQueues(a, m)
		c.Queues = m
	}
	switch st.Presence {
	case Available, Paused:
		a.presence, a.reason = st.Presence, st.Reason
	default:
		a.presence, a.reason = LoggedOut, ""
	}
	a.misses, a.answered = st.Misses, st.Answered
	if !st.IdleSince.IsZero() {
		a.idleSince = st.IdleSince
	}
	switch st.Activity {
	case OnCall:
		a.activity, a.call, a.callQueue, a.caller, a.talkStart = OnCall, st.Call, st.CallQueue, st.Caller, st.TalkStart
		if a.talkStart.IsZero() {
			a.talkStart = now
		}
		s.oncall[st.Call] = a
	case WrapUp:
		a.activity, a.call, a.callQueue, a.caller, a.talkStart, a.talk, a.wrapEnd = WrapUp, st.Call, st.CallQueue, st.Caller,
			st.TalkStart, st.Talk, st.WrapEnd
	}
	if a.presence == Available && a.activity == Idle {
		s.agentFreed(a)
	}
	s.emitAgent(a, a.callQueue, c)
	if !st.StateSince.IsZero() && !st.StateSince.After(now) {
		a.stateSince = st.StateSince
	}
	return nil
}

// ExportEntry is waiting caller callID's state for JoinRequest.Resume.
func (s *Service) ExportEntry(callID string) (EntrySnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[callID]
	if !ok {
		return EntrySnapshot{}, fmt.Errorf("export caller %q: %w", callID, ErrUnknownCall)
	}
	st := EntrySnapshot{Joined: e.joined}
	for id := range e.tried {
		st.Tried = append(st.Tried, id)
	}
	slices.Sort(st.Tried)
	return st, nil
}

// resumeEntry gives a resumed caller what the old Service knew of them
// and puts them in q.byJoin at their real join time (the MaxWait order),
// which the order they rejoin in (their rank) need not follow.
func (q *queueState) resumeEntry(e *entry, st *EntrySnapshot, now time.Time) {
	if !st.Joined.IsZero() && !st.Joined.After(now) {
		e.joined = st.Joined
	}
	for _, id := range st.Tried {
		e.tried[id] = true
	}
	i := sort.Search(len(q.byJoin), func(i int) bool { return q.byJoin[i].joined.After(e.joined) })
	q.byJoin = slices.Insert(q.byJoin, i, e)
}

// Resumed ends a rebuild: it puts back the statistics records the old
// Service left (Config.State had them) and offers the resumed callers, in
// order. A caller the records saw join and not leave is still waiting when
// resumed (their join is not counted again); one who is not came back
// nowhere, and counts as exited now, as at a restart (Restore).
func (s *Service) Resumed(recs []store.QueueRec) {
	s.mu.Lock()
	defer s.unlock()
	s.stats.restore(recs, s.cfg.Now(), func(callID string) bool { return s.entries[callID] != nil })
	s.dispatch()
}
