package queue

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

func TestRONAMovesToNextAgentAndPausesAfterMisses(t *testing.T) {
	g := newRig(t, one(config.Queue{RingTimeout: 10 * time.Second, MaxMisses: 2}), agents("a", "b"))
	g.must(g.s.Login("a"))
	g.clk.Advance(time.Second)
	g.must(g.s.Login("b"))
	g.join("c1", "q", "")
	first := g.rg.last(t)
	if first.Agent != "a" {
		t.Fatalf("first offer to %s", first.Agent)
	}
	g.advance(9 * time.Second)
	if g.rg.count() != 1 {
		t.Fatal("offer ended before its deadline")
	}
	g.advance(time.Second) // deadline: no answer
	if g.rg.cancels[first.ID] != "timeout" {
		t.Fatalf("timed-out offer not cancelled: %q", g.rg.cancels[first.ID])
	}
	second := g.rg.last(t)
	if second.Agent != "b" || second.CallID != "c1" {
		t.Fatalf("RONA offered %+v, want agent b", second)
	}
	// b declines: a miss too; a is tried again (nobody else is eligible).
	g.rg.done(second.ID)
	g.must(g.s.Failed(second.ID, ResultDeclined))
	third := g.rg.last(t)
	if third.Agent != "a" {
		t.Fatalf("third offer to %s", third.Agent)
	}
	g.advance(10 * time.Second)
	if a := g.agentState("a"); a.Presence != Paused || a.Reason != PauseNoAnswer {
		t.Fatalf("a after 2 misses: %+v", a)
	}
	if b := g.agentState("b"); b.Presence != Available || b.Misses != 1 {
		t.Fatalf("b: %+v", b)
	}
	// An answer resets the miss count.
	o := g.rg.last(t)
	if o.Agent != "b" {
		t.Fatalf("fourth offer to %s", o.Agent)
	}
	g.rg.done(o.ID)
	g.must(g.s.Answered(o.ID))
	if b := g.agentState("b"); b.Misses != 0 || b.Activity != OnCall {
		t.Fatalf("b after answer: %+v", b)
	}
}

func TestVIPOvertakesWithAging(t *testing.T) {
	g := newRig(t, one(config.Queue{}), agents("a"))
	g.s.cfg.TierBoost = map[store.Tier]time.Duration{store.TierVIP: time.Minute}
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "setup"))
	g.join("old", "q", "standard") // waits 90s: more than the VIP boost
	g.clk.Advance(40 * time.Second)
	g.join("std", "q", "standard") // VIP joining 50s later is ranked 10s ahead of it
	g.clk.Advance(50 * time.Second)
	g.join("vip", "q", "vip")
	g.join("new", "q", "new")
	for _, tc := range []struct {
		call string
		pos  int
	}{{"old", 1}, {"vip", 2}, {"std", 3}, {"new", 4}} {
		p, err := g.s.Position(tc.call)
		g.must(err)
		if p.Position != tc.pos {
			t.Fatalf("%s at %d, want %d", tc.call, p.Position, tc.pos)
		}
	}
	g.must(g.s.Ready("a"))
	var order []string
	for range 4 {
		o := g.rg.last(t)
		order = append(order, o.CallID)
		g.rg.done(o.ID)
		g.must(g.s.Answered(o.ID))
		g.must(g.s.Hangup(o.CallID))
	}
	if got := order[0] + " " + order[1] + " " + order[2] + " " + order[3]; got != "old vip std new" {
		t.Fatalf("served %q", got)
	}
}

func TestPositionNeverRisesAndEWT(t *testing.T) {
	g := newRig(t, one(config.Queue{}), agents("a"))
	g.s.cfg.EWTWindow = 10 * time.Minute
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "x"))
	g.join("s1", "q", "")
	g.join("s2", "q", "")
	p, _ := g.s.Position("s2")
	if p.Position != 2 || p.Known {
		t.Fatalf("before any answer: %+v", p)
	}
	g.join("v", "q", "vip") // overtakes s2: real rank 3, announced stays 2
	if p, _ = g.s.Position("s2"); p.Position != 2 {
		t.Fatalf("position rose to %d", p.Position)
	}
	// Two answers in the window: rate 2/10min, so position 1 is 5 minutes.
	g.must(g.s.Ready("a"))
	for range 2 {
		o := g.rg.last(t)
		g.rg.done(o.ID)
		g.must(g.s.Answered(o.ID))
		g.must(g.s.Hangup(o.CallID))
	}
	g.must(g.s.Pause("a", "x"))
	p, _ = g.s.Position("s2")
	if p.Position != 1 || !p.Known || p.EWT != 5*time.Minute {
		t.Fatalf("after answers: %+v", p)
	}
	g.clk.Advance(11 * time.Minute) // answers age out of the window
	if p, _ = g.s.Position("s2"); p.Known {
		t.Fatalf("EWT from stale answers: %+v", p)
	}
}

func TestWrapUpDelaysNextOffer(t *testing.T) {
	g := newRig(t, one(config.Queue{WrapUp: 30 * time.Second}), agents("a"))
	g.must(g.s.Login("a"))
	g.join("c1", "q", "")
	o := g.rg.last(t)
	g.rg.done(o.ID)
	g.must(g.s.Answered(o.ID))
	g.clk.Advance(2 * time.Minute)
	g.must(g.s.Hangup("c1"))
	g.join("c2", "q", "")
	if a := g.agentState("a"); a.Activity != WrapUp || g.rg.count() != 1 {
		t.Fatalf("offered during wrap-up: %+v", a)
	}
	if next, ok := g.s.NextDeadline(); !ok || !next.Equal(g.clk.Now().Add(30*time.Second)) {
		t.Fatalf("next deadline %v", next)
	}
	g.advance(29 * time.Second)
	if g.rg.count() != 1 {
		t.Fatal("offered before wrap-up ended")
	}
	g.advance(time.Second)
	if o := g.rg.last(t); o.CallID != "c2" || o.Agent != "a" {
		t.Fatalf("after wrap-up: %+v", o)
	}
	st, _ := g.s.Stats().Queue("q", g.clk.Now())
	if w := st.Windows[0]; w.Handled != 1 || w.AHTSeconds != 150 {
		t.Fatalf("AHT window %+v", w)
	}
}

func TestExitsAndRefusals(t *testing.T) {
	qs := map[string]config.Queue{
		"q":      {MaxWait: time.Minute, MaxLength: 2, Exit: "voicemail", Keys: map[string]string{"9": "callback"}},
		"open":   {JoinEmpty: true, LeaveWhenEmpty: true, Exit: "closed"},
		"strict": {Exit: "sorry"},
	}
	ags := []config.Agent{{ID: "a", Queues: map[string]int{"q": 0, "open": 0, "strict": 0}}}
	g := newRig(t, qs, ags)
	// JoinEmpty off and nobody logged in: refused to the exit.
	_, err := g.s.Join(JoinRequest{CallID: "e1", Queue: "strict"})
	var ee *ExitError
	if !errors.As(err, &ee) || !errors.Is(err, ErrQueueEmpty) || ee.Exit != "sorry" {
		t.Fatalf("empty join: %v", err)
	}
	// JoinEmpty on: waits; LeaveWhenEmpty sends it out when the last agent logs out.
	tkOpen := g.join("o1", "open", "")
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "x"))
	tk1 := g.join("q1", "q", "")
	tk2 := g.join("q2", "q", "")
	if _, err := g.s.Join(JoinRequest{CallID: "q3", Queue: "q"}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("full join: %v", err)
	}
	node, err := g.s.Key("q2", "9")
	if err != nil || node != "callback" {
		t.Fatalf("exit key: %q %v", node, err)
	}
	if _, err := g.s.Key("q1", "5"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("non-key digit: %v", err)
	}
	g.advance(time.Minute)
	if out := tk1.Outcome(); out.Reason != ReasonTimeout || out.Exit != "voicemail" || out.Wait != time.Minute || out.Position != 1 {
		t.Fatalf("max wait outcome %+v", out)
	}
	// Each left from its place in the line: q2 behind q1, q1 alone by then.
	if out := tk2.Outcome(); out.Reason != ReasonExitKey || out.Exit != "callback" || out.Position != 2 {
		t.Fatalf("exit key outcome %+v", out)
	}
	g.must(g.s.Logout("a"))
	if out := tkOpen.Outcome(); out.Reason != ReasonEmpty || out.Exit != "closed" {
		t.Fatalf("leave-when-empty outcome %+v", out)
	}
	st, _ := g.s.Stats().Queue("q", g.clk.Now())
	if st.Totals != (Totals{Joined: 3, Exited: 3}) {
		t.Fatalf("totals %+v", st.Totals)
	}
}

func TestAbandonWhileRingingCancelsWithoutMiss(t *testing.T) {
	g := newRig(t, one(config.Queue{}), agents("a"))
	g.must(g.s.Login("a"))
	tk := g.join("c1", "q", "")
	o := g.rg.last(t)
	g.clk.Advance(25 * time.Second)
	g.must(g.s.Leave("c1", ReasonAbandoned))
	if g.rg.cancels[o.ID] != "caller-left" || len(g.rg.active) != 0 {
		t.Fatalf("ring not cancelled: %v", g.rg.cancels)
	}
	if a := g.agentState("a"); a.Activity != Idle || a.Misses != 0 {
		t.Fatalf("agent %+v", a)
	}
	if err := g.s.Answered(o.ID); !errors.Is(err, ErrOfferGone) {
		t.Fatalf("answer after abandon: %v", err)
	}
	if tk.Outcome().Reason != ReasonAbandoned {
		t.Fatal(tk.Outcome())
	}
	st, _ := g.s.Stats().Queue("q", g.clk.Now())
	if w := st.Windows[1]; w.Abandoned != 1 || w.AbandonedAfterSL != 1 || *w.ServiceLevel != 0 {
		t.Fatalf("window %+v", w)
	}
}

func TestServiceLevelAndASA(t *testing.T) {
	g := newRig(t, one(config.Queue{ServiceLevel: 20 * time.Second}), agents("a"))
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "x"))
	g.join("fast", "q", "")
	g.clk.Advance(10 * time.Second)
	g.must(g.s.Ready("a"))
	o := g.rg.last(t)
	g.rg.done(o.ID)
	g.must(g.s.Answered(o.ID)) // waited 10s
	g.join("slow", "q", "")    // agent is on a call
	g.join("short", "q", "")
	g.clk.Advance(5 * time.Second)
	g.must(g.s.Leave("short", ReasonAbandoned)) // short abandon: not counted in SL
	g.clk.Advance(25 * time.Second)
	g.must(g.s.Hangup("fast"))
	o = g.rg.last(t)
	g.rg.done(o.ID)
	g.must(g.s.Answered(o.ID)) // waited 30s
	g.clk.Advance(time.Hour)   // out of the 30m window, still today
	st, _ := g.s.Stats().Queue("q", g.clk.Now())
	if w := st.Windows[0]; w.Answered != 0 || w.ServiceLevel != nil {
		t.Fatalf("30m window %+v", w)
	}
	w := st.Windows[1]
	if w.Answered != 2 || w.AnsweredInSL != 1 || w.Abandoned != 1 || w.AbandonedAfterSL != 0 ||
		*w.ServiceLevel != 0.5 || w.ASASeconds != 20 {
		t.Fatalf("today %+v", w)
	}
	if st.AgentsByActivity["on_call"] != 1 || st.AgentsByPresence["available"] != 1 {
		t.Fatalf("agents %+v %+v", st.AgentsByPresence, st.AgentsByActivity)
	}
}

func TestRunFiresRingTimeoutInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rg := newFakeRinger()
		bus := events.NewBus()
		s := New(Config{Agents: agents("a", "b"), Queues: one(config.Queue{Strategy: "longest-idle",
			RingTimeout: 15 * time.Second, MaxMisses: 3, MaxWait: time.Hour, MaxLength: 10}), Ringer: rg, Bus: bus})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		s.Login("a")
		time.Sleep(time.Second) // advances the bubble's fake clock
		s.Login("b")
		s.Join(JoinRequest{CallID: "c1", Queue: "q"})
		synctest.Wait()
		if rg.count() != 1 {
			t.Fatalf("%d rings", rg.count())
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if rg.count() != 2 || rg.rings[1].Agent != "b" || rg.cancels[rg.rings[0].ID] != "timeout" {
			t.Fatalf("rings %+v cancels %v", rg.rings, rg.cancels)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
