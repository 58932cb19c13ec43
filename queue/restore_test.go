package queue

import (
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// memState is a StateSink that keeps everything, as the store would.
type memState struct {
	mu     sync.Mutex
	agents map[string]store.AgentState
	recs   []store.QueueRec
}

func (m *memState) SaveAgent(a store.AgentState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.agents[a.AgentID] = a
}

func (m *memState) Rec(r store.QueueRec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
}

func (m *memState) snapshot() ([]store.AgentState, []store.QueueRec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var as []store.AgentState
	for _, a := range m.agents {
		as = append(as, a)
	}
	return as, append([]store.QueueRec(nil), m.recs...)
}

func TestRestoreKeepsPresenceAndToday(t *testing.T) {
	clk := &fakeClock{now: t0}
	st := &memState{agents: map[string]store.AgentState{}}
	queues := one(config.Queue{}.WithDefaults())
	s := New(Config{Agents: agents("a1", "a2", "a3"), Queues: queues, Ringer: newFakeRinger(), Now: clk.Now, State: st})
	if err := s.Pause("a1", "x"); err == nil {
		t.Fatal("a logged-out agent paused")
	}
	for _, id := range []string{"a1", "a2"} {
		if err := s.Login(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Pause("a2", "lunch"); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout("a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Login("a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause("a1", "training"); err != nil { // nobody takes calls: the callers wait
		t.Fatal(err)
	}
	for _, c := range []string{"c1", "c2", "c3"} {
		if _, err := s.Join(JoinRequest{CallID: c, Queue: "q"}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(40 * time.Second)
	if err := s.Leave("c1", ReasonAbandoned); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready("a1"); err != nil { // a1 is offered c2
		t.Fatal(err)
	}
	before, _ := s.Stats().Queue("q", clk.Now())

	// The restart: a new service from what the sink kept; c2 and c3 were
	// cut off by it.
	clk.Advance(time.Minute)
	as, recs := st.snapshot()
	st2 := &memState{agents: map[string]store.AgentState{}}
	s2 := New(Config{Agents: agents("a1", "a2", "a3"), Queues: queues, Ringer: newFakeRinger(), Now: clk.Now, State: st2})
	s2.Restore(as, recs)

	for id, want := range map[string][2]string{"a1": {"available", ""}, "a2": {"paused", "lunch"}, "a3": {"logged_out", ""}} {
		a, err := s2.Agent(id)
		if err != nil || string(a.Presence) != want[0] || a.Reason != want[1] || a.Activity != Idle {
			t.Errorf("%s after restart = %+v, %v; want %v and idle", id, a, err, want)
		}
	}
	after, _ := s2.Stats().Queue("q", clk.Now())
	today := after.Windows[1]
	if today.Joined != 3 || today.Abandoned != 1 || today.Exited != 2 || after.Waiting != 0 {
		t.Errorf("today after restart = %+v waiting %d; want 3 joined, 1 abandoned, 2 cut off by the restart", today, after.Waiting)
	}
	if before.Windows[1].Joined != today.Joined || before.Windows[1].Abandoned != today.Abandoned {
		t.Errorf("today before %+v, after %+v", before.Windows[1], today)
	}
	// The cut-off callers are kept as exited, so a second restart does
	// not count them again.
	_, recs2 := st2.snapshot()
	s3 := New(Config{Agents: agents("a1", "a2", "a3"), Queues: queues, Ringer: newFakeRinger(), Now: clk.Now})
	s3.Restore(nil, append(recs, recs2...))
	if w, _ := s3.Stats().Queue("q", clk.Now()); w.Windows[1].Exited != 2 || w.Windows[1].Joined != 3 {
		t.Errorf("after a second restart: %+v", w.Windows[1])
	}
	// Yesterday's records are not today's.
	clk.Advance(24 * time.Hour)
	s4 := New(Config{Agents: agents("a1"), Queues: queues, Ringer: newFakeRinger(), Now: clk.Now})
	s4.Restore(nil, recs)
	if w, _ := s4.Stats().Queue("q", clk.Now()); w.Windows[1].Joined != 0 {
		t.Errorf("a day later, today = %+v", w.Windows[1])
	}
}

// Longest-idle ranks restored agents by the idle times saved before the
// restart; a state saved without one (before migration 0014) is idle
// since the restart, and agents tied so go in ID order.
func TestRestoreKeepsIdleOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keepIdle bool
		want     string
	}{
		{"saved idle times", true, "a2"},
		{"no idle time saved", false, "a1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			st := &memState{agents: map[string]store.AgentState{}}
			queues := one(config.Queue{Strategy: config.StrategyLongestIdle}.WithDefaults())
			rg := newFakeRinger()
			s := New(Config{Agents: agents("a1", "a2"), Queues: queues, Ringer: rg, Now: clk.Now, State: st})
			for _, id := range []string{"a1", "a2"} {
				if err := s.Login(id); err != nil {
					t.Fatal(err)
				}
				clk.Advance(time.Second)
			}
			if _, err := s.Join(JoinRequest{CallID: "c1", Queue: "q"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Answered(rg.last(t).ID); err != nil { // a1, idle longest
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
			if err := s.Hangup("c1"); err != nil { // a1 idle since now, a2 since t0+1s
				t.Fatal(err)
			}
			as, recs := st.snapshot()
			if !tc.keepIdle {
				for i := range as {
					as[i].IdleSince = time.Time{}
				}
			}
			clk.Advance(time.Hour)
			rg2 := newFakeRinger()
			s2 := New(Config{Agents: agents("a1", "a2"), Queues: queues, Ringer: rg2, Now: clk.Now})
			s2.Restore(as, recs)
			if _, err := s2.Join(JoinRequest{CallID: "c2", Queue: "q"}); err != nil {
				t.Fatal(err)
			}
			if o := rg2.last(t); o.Agent != tc.want {
				t.Fatalf("after the restart c2 rings %s; want %s", o.Agent, tc.want)
			}
		})
	}
}
