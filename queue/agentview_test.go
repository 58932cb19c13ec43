package queue

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// TestAgentStateSince: state_since moves when the agent's one state does
// (docs/metrics.md "agent state"), and only then; the caller's number is
// shown while ringing, on the call and in wrap-up.
func TestAgentStateSince(t *testing.T) {
	g := newRig(t, one(config.Queue{WrapUp: 10 * time.Second}), agents("a"))
	check := func(what string, act Activity, since time.Time, caller string) {
		t.Helper()
		a := g.agentState("a")
		if a.Activity != act || !a.StateSince.Equal(since) || a.Caller != caller {
			t.Fatalf("%s: activity %s since %v caller %q; want %s since %v caller %q", what, a.Activity, a.StateSince, a.Caller, act, since, caller)
		}
	}
	check("at start", Idle, t0, "")
	g.advance(time.Minute)
	g.must(g.s.Login("a"))
	check("logged in", Idle, t0.Add(time.Minute), "")
	g.advance(time.Minute)
	g.must(g.s.Pause("a", "lunch"))
	g.advance(time.Minute)
	g.must(g.s.Pause("a", "lunch")) // the same state again: no new time
	check("paused", Idle, t0.Add(2*time.Minute), "")
	g.advance(time.Minute)
	g.must(g.s.Pause("a", "phone")) // a new reason is a new state
	check("paused for another reason", Idle, t0.Add(4*time.Minute), "")
	g.advance(time.Minute)
	g.must(g.s.Ready("a"))
	ready := t0.Add(5 * time.Minute)
	check("ready", Idle, ready, "")

	g.advance(time.Minute)
	if _, err := g.s.Join(JoinRequest{CallID: "c1", Queue: "q", Caller: "0281234567"}); err != nil {
		t.Fatal(err)
	}
	rang := g.clk.Now()
	check("ringing", Ringing, rang, "0281234567")
	g.advance(5 * time.Second)
	o := g.rg.last(t)
	g.rg.done(o.ID)
	g.must(g.s.Answered(o.ID))
	answered := g.clk.Now()
	check("on the call", OnCall, answered, "0281234567")
	g.advance(2 * time.Minute)
	g.must(g.s.Pause("a", "after")) // paused on the call: still on the call
	check("paused on the call", OnCall, answered, "0281234567")
	g.must(g.s.Hangup("c1"))
	ended := g.clk.Now()
	check("wrap-up", WrapUp, ended, "0281234567")
	g.advance(10 * time.Second)
	check("paused after the call", Idle, ended.Add(10*time.Second), "")
	if a := g.agentState("a"); a.Presence != Paused || a.CallsToday != 1 || a.Answered != 1 {
		t.Fatalf("after the call: %+v", a)
	}
	g.advance(time.Minute)
	g.must(g.s.Logout("a"))
	check("logged out", Idle, g.clk.Now(), "")
}

// TestCallsTodaySurvivesRestart: calls_today counts every offer an agent
// answered since local midnight (an agent-first callback included), comes
// back after a restart from the queue records, and starts again at 0 the
// next day; the restart dates paused and logged-out agents from the saved
// change and available ones from the restart.
func TestCallsTodaySurvivesRestart(t *testing.T) {
	loc := time.FixedZone("ICT", 7*3600)
	start := time.Date(2026, 3, 4, 22, 0, 0, 0, loc) // 15:00 UTC: today ends in two hours
	clk := &fakeClock{now: start}
	st := &memState{agents: map[string]store.AgentState{}}
	queues := one(config.Queue{}.WithDefaults())
	ags := agents("a1", "a2", "a3")
	newService := func(sink StateSink) (*Service, *fakeRinger) {
		rg := newFakeRinger()
		return New(Config{Agents: ags, Queues: queues, Ringer: rg, Now: clk.Now, State: sink, Location: loc}), rg
	}
	s, rg := newService(st)
	answer := func(s *Service, rg *fakeRinger) {
		t.Helper()
		o := rg.last(t)
		rg.done(o.ID)
		if err := s.Answered(o.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := s.Login(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Pause("a2", "lunch"); err != nil {
		t.Fatal(err)
	}
	paused := clk.Now()
	if err := s.Logout("a3"); err != nil {
		t.Fatal(err)
	}
	for i, c := range []string{"c1", "c2"} {
		clk.Advance(time.Minute)
		if _, err := s.Join(JoinRequest{CallID: c, Queue: "q"}); err != nil {
			t.Fatal(err)
		}
		answer(s, rg)
		if i == 0 {
			if err := s.Hangup(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Hangup("c2"); err != nil {
		t.Fatal(err)
	}
	// An agent-first callback the agent answers counts too.
	if err := s.OfferCallback(CallbackEntry{Key: "callback:1", Queue: "q", JoinedAt: clk.Now(), AgentFirst: true, Caller: "0912345678"}); err != nil {
		t.Fatal(err)
	}
	if o := rg.last(t); o.Callback != "callback:1" || o.Caller != "0912345678" {
		t.Fatalf("callback offer %+v", o)
	}
	answer(s, rg)
	if a, _ := s.Agent("a1"); a.CallsToday != 3 || a.Answered != 3 || a.Caller != "0912345678" {
		t.Fatalf("before the restart: %+v", a)
	}

	// The restart: calls today come back from the records.
	clk.Advance(time.Minute)
	as, recs := st.snapshot()
	s2, _ := newService(&memState{agents: map[string]store.AgentState{}})
	s2.Restore(as, recs)
	now := clk.Now()
	for id, want := range map[string]struct {
		calls int
		since time.Time
	}{"a1": {3, now}, "a2": {0, paused}, "a3": {0, paused}} {
		a, err := s2.Agent(id)
		if err != nil || a.CallsToday != want.calls || !a.StateSince.Equal(want.since) {
			t.Errorf("%s after the restart: %d calls today since %v (%v); want %d since %v", id, a.CallsToday, a.StateSince, err, want.calls, want.since)
		}
		if a.Answered != 0 { // since this server started
			t.Errorf("%s answered %d after the restart", id, a.Answered)
		}
	}

	// Past local midnight (17:00 UTC) the count starts again, also
	// for a server restarted after it.
	clk.Advance(2 * time.Hour)
	if a, _ := s2.Agent("a1"); a.CallsToday != 0 {
		t.Errorf("the next day: %d calls today", a.CallsToday)
	}
	s3, _ := newService(nil)
	s3.Restore(nil, recs)
	if a, _ := s3.Agent("a1"); a.CallsToday != 0 {
		t.Errorf("restarted the next day: %d calls today", a.CallsToday)
	}
}
