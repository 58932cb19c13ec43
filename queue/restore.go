package queue

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Restore puts back what a previous run of the server left (Config.State):
// agents' presence (logged in, paused with its reason; every agent is idle,
// as no call survived), their queue membership changed at run time (for
// logged-out agents too; a queue no longer configured is dropped from it,
// and logged), and the statistics records behind "today" and the sliding
// window (the agents' calls today among them). Call it once, before calls
// arrive. Agents no longer in the configuration are ignored, with a
// warning naming each. A paused or
// logged-out agent has been in that state since the saved change; an
// available one since now (what it was doing did not survive). Agents are
// idle since the saved idle time, so longest-idle ranks them as before.
func (s *Service) Restore(agents []store.AgentState, recs []store.QueueRec) {
	s.mu.Lock()
	defer s.unlock()
	now := s.cfg.Now()
	s.stats.restore(recs, now, nil)
	for _, st := range agents {
		a, ok := s.agents[st.AgentID]
		if !ok {
			// Removed from the configuration since: its saved presence and
			// any run-time membership go with it. Say so, so that a
			// supervisor missing an agent (or a member) learns why.
			s.cfg.Logger.Warn("saved state of an agent no longer configured is ignored",
				"agent", st.AgentID, "presence", st.Presence, "reason", st.Reason, "queues", fmt.Sprint(st.Queues))
			continue
		}
		since := now
		if !st.Since.IsZero() && !st.Since.After(now) {
			since = st.Since
		}
		a.saved = st // what the store holds: emitAgent saves only a difference
		var c AgentChange
		if st.Queues != nil {
			m := make(map[string]int, len(st.Queues))
			for name, penalty := range st.Queues {
				if _, ok := s.queues[name]; !ok {
					s.cfg.Logger.Warn("queue membership restored without a queue no longer configured",
						"agent", a.cfg.ID, "queue", name)
					continue
				}
				m[name] = penalty
			}
			s.setQueues(a, m)
			c.Queues = m
			if a.custom {
				// It stands until changed again through the API: an edit of
				// the agent's queues in the configuration does not apply.
				s.cfg.Logger.Info("queue membership restored from a run-time change; it replaces the configured one",
					"agent", a.cfg.ID, "queues", fmt.Sprint(m), "configured", fmt.Sprint(a.cfg.Queues))
			}
		}
		switch Presence(st.Presence) {
		case Available, Paused:
			a.presence, a.reason = Presence(st.Presence), st.Reason
		default:
			a.stateSince = since // logged out, as New left it
			if c.Queues == nil {
				continue
			}
		}
		// Idle since the saved time (longest-idle goes on ranking as
		// before the restart), or since now when none was saved.
		a.idleSince = now
		if !st.IdleSince.IsZero() && !st.IdleSince.After(now) {
			a.idleSince = st.IdleSince
		}
		if a.presence == Available {
			s.agentFreed(a)
		}
		s.emitAgent(a, "", c)
		if a.presence != Available {
			a.stateSince = since
		}
	}
	s.dispatch()
}

// Since is the oldest record the figures at now read: local midnight, or
// the start of the sliding window when that reaches back into yesterday.
func (st *Stats) Since(now time.Time) time.Time {
	day, win := startOfDay(now, st.loc), now.Add(-st.window)
	if win.Before(day) {
		return win
	}
	return day
}

// restore rebuilds the records from a previous run (or a Service this one
// resumes), ahead of any recorded since. A caller it saw join and never
// leave was cut off by the restart: it is counted as exited now (and that
// record kept too), so Joined = Answered + Abandoned + Exited + Waiting
// still holds; unless waiting (nil: nobody) says the caller waits here
// now, resumed.
func (st *Stats) restore(recs []store.QueueRec, now time.Time, waiting func(callID string) bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	open := map[string]map[string]bool{} // queue → joined call IDs not yet left
	old := map[*qstats][]rec{}
	for _, r := range recs {
		q := st.queues[r.Queue]
		if q == nil {
			continue
		}
		k, ok := recKinds[r.Kind]
		if !ok {
			continue
		}
		rc := rec{at: r.At, kind: k, d: r.Duration, agent: r.Agent}
		old[q] = append(old[q], rc)
		q.totals.count(k)
		if k == recAgentAnswered {
			st.countCall(rc)
		}
		if open[r.Queue] == nil {
			open[r.Queue] = map[string]bool{}
		}
		switch k {
		case recJoined:
			open[r.Queue][r.CallID] = true
		case recAnswered, recAbandoned, recExited:
			delete(open[r.Queue], r.CallID)
		}
	}
	for q, rs := range old {
		q.recs = append(rs, q.recs...)
	}
	for _, name := range slices.Sorted(maps.Keys(open)) {
		q := st.queues[name]
		for _, id := range slices.Sorted(maps.Keys(open[name])) {
			if waiting != nil && waiting(id) {
				continue
			}
			r := rec{at: now, kind: recExited}
			q.recs = append(q.recs, r)
			q.totals.count(recExited)
			st.save(name, id, r)
		}
	}
	for _, q := range st.queues {
		st.prune(q, now)
	}
}

var recKinds = map[string]recKind{store.RecJoined: recJoined, store.RecAnswered: recAnswered,
	store.RecAbandoned: recAbandoned, store.RecExited: recExited, store.RecHandled: recHandled,
	store.RecAgentAnswered: recAgentAnswered}

var recNames = map[recKind]string{recJoined: store.RecJoined, recAnswered: store.RecAnswered,
	recAbandoned: store.RecAbandoned, recExited: store.RecExited, recHandled: store.RecHandled,
	recAgentAnswered: store.RecAgentAnswered}

func (t *Totals) count(k recKind) {
	switch k {
	case recJoined:
		t.Joined++
	case recAnswered:
		t.Answered++
	case recAbandoned:
		t.Abandoned++
	case recExited:
		t.Exited++
	}
}

// save hands a new record to the sink, if any. Callers hold st.mu.
func (st *Stats) save(queue, callID string, r rec) {
	if st.sink != nil {
		st.sink(store.QueueRec{Queue: queue, At: r.at, Kind: recNames[r.kind], CallID: callID, Duration: r.d, Agent: r.agent})
	}
}
