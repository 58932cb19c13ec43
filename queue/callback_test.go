package queue

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/store"
)

// dues records the hook's calls; onDue, when set, runs inside Due (as a
// hook that answers at once would).
type dues struct {
	got   []CallbackDue
	onDue func(CallbackDue)
}

func (d *dues) Due(c CallbackDue) {
	d.got = append(d.got, c)
	if d.onDue != nil {
		d.onDue(c)
	}
}

func (d *dues) last(t *testing.T) CallbackDue {
	t.Helper()
	if len(d.got) == 0 {
		t.Fatal("no callback was due")
	}
	return d.got[len(d.got)-1]
}

func cbRig(t *testing.T, q config.Queue, ids ...string) (*rig, *dues) {
	t.Helper()
	g := newRig(t, one(q), agents(ids...))
	d := &dues{}
	g.s.cfg.Callbacks = d
	return g, d
}

func (g *rig) offerCB(key string, joined time.Time, tier store.Tier, agentFirst bool) {
	g.t.Helper()
	g.must(g.s.OfferCallback(CallbackEntry{Key: key, Queue: "q", Tier: tier, JoinedAt: joined, AgentFirst: agentFirst,
		Caller: "+84912345678"}))
}

// answer answers the last ring and checks it was for call.
func (g *rig) answer(call string) Offer {
	g.t.Helper()
	o := g.rg.last(g.t)
	if o.CallID != call || g.rg.active[o.ID].ID == "" {
		g.t.Fatalf("ringing %+v, want an active offer for %s", o, call)
	}
	g.rg.done(o.ID)
	g.must(g.s.Answered(o.ID))
	return o
}

func (g *rig) ringingFor() []string {
	g.rg.mu.Lock()
	defer g.rg.mu.Unlock()
	var out []string
	for _, o := range g.rg.active {
		out = append(out, o.CallID)
	}
	slices.Sort(out)
	return out
}

func (g *rig) pos(call string) int {
	g.t.Helper()
	p, err := g.s.Position(call)
	g.must(err)
	return p.Position
}

func (g *rig) cbPos(key string) int {
	g.t.Helper()
	p, err := g.s.CallbackPosition(key)
	g.must(err)
	return p.Position
}

// The order: A (live), B (callback), C (live) joined in that
// order, one agent: A, then B's callback is due with the agent reserved
// (C not offered), B confirms and rejoins and is offered that agent,
// then C.
func TestCallbackKeepsItsPlaceBetweenCallers(t *testing.T) {
	g, d := cbRig(t, config.Queue{}, "a")
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "setup"))
	g.join("A", "q", "")
	joinedB := g.clk.Now().Add(10 * time.Second)
	g.clk.Advance(30 * time.Second)
	g.join("C", "q", "")
	g.clk.Advance(30 * time.Second)
	g.offerCB("callback:2", joinedB, "", false) // B pressed the callback key after C joined
	if p := g.pos("A"); p != 1 {
		t.Fatalf("A at %d", p)
	}
	if p := g.cbPos("callback:2"); p != 2 {
		t.Fatalf("B at %d", p)
	}
	if p := g.pos("C"); p != 3 {
		t.Fatalf("C at %d, want 3 (the callback holds a real place)", p)
	}

	g.must(g.s.Ready("a"))
	g.answer("A")
	if len(d.got) != 0 {
		t.Fatalf("a callback due while the agent is busy: %+v", d.got)
	}
	g.must(g.s.Hangup("A"))
	due := d.last(t)
	if due != (CallbackDue{Key: "callback:2", Queue: "q", FreeAgents: 1, Agent: "a"}) {
		t.Fatalf("due %+v", due)
	}
	if a := g.agentState("a"); a.Activity != Reserved || a.CallID != "callback:2" {
		t.Fatalf("agent after the callback's turn: %+v", a)
	}
	if r := g.ringingFor(); len(r) != 0 {
		t.Fatalf("offered %v while the agent is reserved", r)
	}
	// B confirmed: the outbound call joins at B's place.
	g.advance(20 * time.Second)
	tk, err := g.s.Join(JoinRequest{CallID: "B-out", Queue: "q", JoinedAt: joinedB, Reservation: "callback:2"})
	g.must(err)
	if r := g.ringingFor(); !slices.Equal(r, []string{"B-out"}) {
		t.Fatalf("ringing %v, want B's call", r)
	}
	if o := g.rg.last(t); o.Agent != "a" || o.Callback != "" {
		t.Fatalf("B's offer %+v", o)
	}
	if p := g.pos("C"); p != 2 {
		t.Fatalf("C at %d behind B", p)
	}
	g.answer("B-out")
	if out := tk.Outcome(); out.Reason != ReasonAnswered || out.Wait != 0 {
		t.Fatalf("B's outcome %+v (wait counts from the rejoin)", out)
	}
	g.must(g.s.Hangup("B-out"))
	g.answer("C")
	if len(d.got) != 1 {
		t.Fatalf("hook called %d times", len(d.got))
	}
	if _, err := g.s.CallbackPosition("callback:2"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("the callback entry is still there: %v", err)
	}
}

func TestCallbackRanksLikeTheCaller(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(g *rig)
		want  []string // service order
	}{{
		name: "vip callback ranks ahead like a live vip",
		setup: func(g *rig) {
			g.join("std", "q", "")
			g.clk.Advance(30 * time.Second)
			g.offerCB("callback:1", g.clk.Now(), "vip", false) // 2m boost: ahead of std, who waited 30s
		},
		want: []string{"callback:1", "std"},
	}, {
		name: "a callback never jumps a caller who joined before it",
		setup: func(g *rig) {
			g.join("early", "q", "")
			joined := g.clk.Now().Add(time.Second)
			g.clk.Advance(time.Minute)
			g.join("late", "q", "")
			g.offerCB("callback:1", joined, "", false)
		},
		want: []string{"early", "callback:1", "late"},
	}, {
		name: "same join instant: the caller already there goes first",
		setup: func(g *rig) {
			g.join("live", "q", "")
			g.offerCB("callback:1", g.clk.Now(), "", false)
		},
		want: []string{"live", "callback:1"},
	}, {
		name: "a vip caller ranks ahead of a standard callback as of a standard caller",
		setup: func(g *rig) {
			g.offerCB("callback:1", g.clk.Now(), "", false)
			g.clk.Advance(time.Minute)
			g.join("vip", "q", "vip")
		},
		want: []string{"vip", "callback:1"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g, d := cbRig(t, config.Queue{}, "a")
			g.must(g.s.Login("a"))
			g.must(g.s.Pause("a", "setup"))
			tc.setup(g)
			g.must(g.s.Ready("a"))
			var got []string
			for range tc.want {
				if r := g.ringingFor(); len(r) == 1 {
					got = append(got, r[0])
					g.answer(r[0])
					g.must(g.s.Hangup(r[0]))
					continue
				}
				due := d.last(t)
				got = append(got, due.Key)
				g.must(g.s.CallbackEnded(due.Key))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("served %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCallbackWithdrawn(t *testing.T) {
	g, d := cbRig(t, config.Queue{}, "a", "b")
	g.must(g.s.Login("a"))
	g.offerCB("callback:1", g.clk.Now(), "", false)
	g.offerCB("callback:2", g.clk.Now(), "", false)
	if len(d.got) != 1 || d.got[0].Key != "callback:1" || d.got[0].Agent != "a" {
		t.Fatalf("due %+v", d.got)
	}
	if p := g.cbPos("callback:2"); p != 2 {
		t.Fatalf("callback 2 at %d", p)
	}
	g.must(g.s.WithdrawCallback("callback:2")) // waiting: gone
	if _, err := g.s.CallbackPosition("callback:2"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("withdrawn callback has a position: %v", err)
	}
	g.must(g.s.WithdrawCallback("callback:1")) // dialling: the agent goes back
	if a := g.agentState("a"); a.Activity != Idle || a.CallID != "" {
		t.Fatalf("agent after the withdraw: %+v", a)
	}
	g.join("c", "q", "")
	if o := g.rg.last(t); o.CallID != "c" || o.Agent != "a" {
		t.Fatalf("offer %+v", o)
	}
	if err := g.s.WithdrawCallback("callback:1"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("second withdraw: %v", err)
	}
}

func TestCallbackFailedWaitsForAFreedAgent(t *testing.T) {
	g, d := cbRig(t, config.Queue{}, "a")
	// A hook whose dial is refused at once (pacing) reports back inside
	// Due: the entry must not become due again in the same breath.
	d.onDue = func(c CallbackDue) { g.must(g.s.CallbackFailed(c.Key)) }
	g.offerCB("callback:1", g.clk.Now(), "", false)
	g.must(g.s.Login("a"))
	if len(d.got) != 1 {
		t.Fatalf("due %d times, want 1 (no loop)", len(d.got))
	}
	if a := g.agentState("a"); a.Activity != Idle {
		t.Fatalf("agent %+v after the refused dial", a)
	}
	if p := g.cbPos("callback:1"); p != 1 {
		t.Fatalf("refused callback at %d", p)
	}
	// The line goes on behind it: a caller gets the free agent.
	g.clk.Advance(time.Second)
	g.join("c", "q", "")
	g.answer("c")
	if p := g.cbPos("callback:1"); p != 1 {
		t.Fatalf("callback at %d", p)
	}
	d.onDue = nil
	g.must(g.s.Hangup("c")) // an agent freed: its turn again
	if len(d.got) != 2 || d.last(t).Key != "callback:1" {
		t.Fatalf("due %+v after an agent was freed", d.got)
	}
	if a := g.agentState("a"); a.Activity != Reserved {
		t.Fatalf("agent %+v", a)
	}
}

func TestCallbackEndedFreesTheAgent(t *testing.T) {
	g, d := cbRig(t, config.Queue{WrapUp: time.Minute}, "a")
	g.must(g.s.Login("a"))
	g.offerCB("callback:1", g.clk.Now(), "", false)
	g.clk.Advance(time.Second)
	g.join("c", "q", "")
	if len(d.got) != 1 || g.rg.count() != 0 {
		t.Fatalf("due %+v, rings %d", d.got, g.rg.count())
	}
	g.must(g.s.CallbackEnded("callback:1")) // no answer: no wrap-up, the next caller
	if a := g.agentState("a"); a.Activity != Ringing {
		t.Fatalf("agent %+v", a)
	}
	g.answer("c")
	if err := g.s.CallbackEnded("callback:1"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("ended twice: %v", err)
	}
	// The scheduler offers it again for its retry: at its old place.
	g.offerCB("callback:1", t0, "", false)
	if p := g.cbPos("callback:1"); p != 1 {
		t.Fatalf("retry at %d", p)
	}
}

func TestCallbackAgentFirst(t *testing.T) {
	g, d := cbRig(t, config.Queue{RingTimeout: 10 * time.Second, WrapUp: 30 * time.Second}, "a", "b")
	g.must(g.s.Login("a"))
	g.clk.Advance(time.Second)
	g.must(g.s.Login("b"))
	g.offerCB("callback:7", t0, "", true)
	o := g.rg.last(t)
	if o.CallID != "callback:7" || o.Callback != "callback:7" || o.Agent != "a" || o.Caller != "+84912345678" {
		t.Fatalf("agent-first offer %+v", o)
	}
	if len(d.got) != 0 {
		t.Fatalf("due before an agent answered: %+v", d.got)
	}
	g.advance(10 * time.Second) // a misses: RONA to b
	o = g.rg.last(t)
	if o.Agent != "b" || o.Callback != "callback:7" {
		t.Fatalf("RONA offer %+v", o)
	}
	g.answer("callback:7")
	due := d.last(t)
	if due != (CallbackDue{Key: "callback:7", Queue: "q", FreeAgents: 2, Agent: "b", AgentFirst: true, Offer: o.ID}) {
		t.Fatalf("due %+v", due)
	}
	if ag, off, ok := g.s.CallbackAgent("callback:7"); !ok || ag != "b" || off != o.ID {
		t.Fatalf("CallbackAgent %q %q %v", ag, off, ok)
	}
	if b := g.agentState("b"); b.Activity != OnCall || b.CallID != "callback:7" {
		t.Fatalf("b %+v", b)
	}
	if _, err := g.s.CallbackPosition("callback:7"); err == nil {
		t.Fatal("an answered callback still in line")
	}
	g.clk.Advance(time.Minute)
	g.must(g.s.Hangup("callback:7"))
	if b := g.agentState("b"); b.Activity != WrapUp {
		t.Fatalf("b after the callback's call %+v", b)
	}
	if err := g.s.CallbackEnded("callback:7"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("ended after the hang-up: %v", err)
	}
}

func TestCallbackAgentFirstNobodyClaims(t *testing.T) {
	g, d := cbRig(t, config.Queue{WrapUp: 30 * time.Second}, "a")
	g.must(g.s.Login("a"))
	g.offerCB("callback:7", t0, "", true)
	g.answer("callback:7")
	g.must(g.s.CallbackFailed(d.last(t).Key)) // the dial was refused
	if a := g.agentState("a"); a.Activity != Idle {
		t.Fatalf("agent %+v: free at once, no wrap-up", a)
	}
	if p := g.cbPos("callback:7"); p != 1 {
		t.Fatalf("the callback is back at %d", p)
	}
	if g.rg.count() != 1 {
		t.Fatal("offered again before an agent was freed")
	}
	g.must(g.s.Pause("a", "x"))
	g.must(g.s.Ready("a")) // freed: rings again
	if o := g.rg.last(t); o.Callback != "callback:7" || g.rg.count() != 2 {
		t.Fatalf("offer %+v", o)
	}
}

func TestCallbackReservedAgentPauses(t *testing.T) {
	g, d := cbRig(t, config.Queue{}, "a", "b")
	g.must(g.s.Login("a"))
	g.offerCB("callback:1", t0, "", false)
	if d.last(t).Agent != "a" {
		t.Fatal("a not reserved")
	}
	g.must(g.s.Pause("a", "lunch"))
	if a := g.agentState("a"); a.Activity != Idle || a.Presence != Paused {
		t.Fatalf("a %+v", a)
	}
	g.must(g.s.Login("b")) // not due again: it is being dialled
	if len(d.got) != 1 {
		t.Fatalf("due again %+v", d.got)
	}
	g.clk.Advance(time.Minute)
	g.join("later", "q", "")
	g.answer("later")
	g.must(g.s.Hangup("later"))
	// The customer confirms: nobody reserved, served at their place by b.
	if _, err := g.s.Join(JoinRequest{CallID: "out", Queue: "q", JoinedAt: t0, Reservation: "callback:1"}); err != nil {
		t.Fatal(err)
	}
	if o := g.rg.last(t); o.CallID != "out" || o.Agent != "b" {
		t.Fatalf("offer %+v", o)
	}
}

func TestCallbackRejoinIsNotCountedTwice(t *testing.T) {
	g, d := cbRig(t, config.Queue{}, "a")
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "x"))
	g.join("orig", "q", "")
	g.clk.Advance(30 * time.Second)
	g.must(g.s.Leave("orig", ReasonExitKey)) // the callback key (a flow's exit key)
	g.offerCB("callback:1", t0, "", false)
	g.must(g.s.Ready("a"))
	_ = d.last(t)
	g.clk.Advance(20 * time.Second)
	if _, err := g.s.Join(JoinRequest{CallID: "out", Queue: "q", JoinedAt: t0, Reservation: "callback:1"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.s.Queue("q"); len(v.Callers) != 1 || v.Callers[0].Callback != "callback:1" || v.Callers[0].WaitedSeconds != 50 {
		t.Fatalf("view %+v", v.Callers)
	}
	g.answer("out")
	g.clk.Advance(time.Minute)
	g.must(g.s.Hangup("out"))
	st, _ := g.s.Stats().Queue("q", g.clk.Now())
	if st.Totals != (Totals{Joined: 1, Exited: 1}) {
		t.Fatalf("totals %+v: the customer counts once (joined, left with the callback key)", st.Totals)
	}
	if w := st.Windows[0]; w.Handled != 1 || w.Answered != 0 {
		t.Fatalf("window %+v: the agent's handle time counts", w)
	}
}

func TestCallbackEntryRefusals(t *testing.T) {
	g, _ := cbRig(t, config.Queue{MaxLength: 1}, "a")
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "x"))
	g.join("c", "q", "")
	for _, c := range []CallbackEntry{{Key: "", Queue: "q", JoinedAt: t0}, {Key: "x", Queue: "q"}, {Key: "c", Queue: "q", JoinedAt: t0}} {
		if err := g.s.OfferCallback(c); !errors.Is(err, ErrBadCallback) {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	if err := g.s.OfferCallback(CallbackEntry{Key: "k", Queue: "nope", JoinedAt: t0}); !errors.Is(err, ErrUnknownQueue) {
		t.Fatal(err)
	}
	// A callback does not fill the queue's MaxLength (it is not on hold).
	g.must(g.s.Leave("c", ReasonAbandoned))
	g.offerCB("callback:1", t0, "", false)
	g.join("c2", "q", "")
}

// Events the agent views and the stream show for a reservation.
func TestCallbackReservationEvents(t *testing.T) {
	g, _ := cbRig(t, config.Queue{}, "a")
	g.must(g.s.Login("a"))
	g.offerCB("callback:1", t0, "", false)
	var last events.Event
	for {
		select {
		case e := <-g.sub.C:
			if e.Type == events.AgentState {
				last = e
			}
			continue
		default:
		}
		break
	}
	if c := payload[AgentChange](last); c.Activity != Reserved || c.Callback != "callback:1" || last.CallID != "callback:1" {
		t.Fatalf("last agent.state %+v", last)
	}
}

// A confirmed customer rejoins through the Enqueuer: ahead of the caller
// who joined after the callback, bridged to the reserved agent like any
// caller, then that caller is served.
func TestEnqueuerRejoinBridgesToTheReservedAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newB2BUA(t, config.Queue{}, "a")
		d := &dues{}
		b.svc.cfg.Callbacks = d
		joined := time.Now().Add(-time.Minute)
		if err := b.svc.OfferCallback(CallbackEntry{Key: "callback:5", Queue: "q", JoinedAt: joined}); err != nil {
			t.Fatal(err)
		}
		if len(d.got) != 1 || d.got[0].Agent != "a" {
			t.Fatalf("due %+v", d.got)
		}
		later := b.enqueue(t.Context(), &fakeCall{id: "later"}) // joined after the callback: waits
		synctest.Wait()
		select {
		case x := <-b.dialer.dials:
			t.Fatalf("rang %s while the agent is reserved", x.opts.CallID)
		default:
		}
		time.Sleep(20 * time.Second) // the customer is dialled, greeted, confirms
		out := make(chan enqResult, 1)
		go func() {
			res, err := b.enq.Rejoin(t.Context(), &fakeCall{id: "out"}, ivr.QueueRequest{Queue: "q"},
				Rejoin{JoinedAt: joined, Reservation: "callback:5"})
			out <- enqResult{res, err}
		}()
		x := <-b.dialer.dials
		if x.opts.CallID != "out" || x.agent() != "a" {
			t.Fatalf("rang %q for %s", x.agent(), x.opts.CallID)
		}
		x.reply <- nil
		synctest.Wait()
		time.Sleep(time.Minute)
		close(x.call.done) // the agent hangs up
		r := <-out
		if r.err != nil || !r.res.Answered || len(r.res.Legs) != 1 || r.res.Legs[0].Agent != "a" || r.res.Legs[0].WaitSeconds != 0 {
			t.Fatalf("rejoined %+v %v", r.res, r.err)
		}
		x = <-b.dialer.dials // now the caller behind
		if x.opts.CallID != "later" {
			t.Fatalf("rang for %s", x.opts.CallID)
		}
		x.reply <- nil
		synctest.Wait()
		close(x.call.done)
		<-later
	})
}

// CallbackPositions (what a cluster's leader publishes) is every waiting
// callback's CallbackPosition, and leaves out one withdrawn.
func TestCallbackPositionsAreEachCallbacksPosition(t *testing.T) {
	g, _ := cbRig(t, config.Queue{}, "a")
	g.must(g.s.Login("a"))
	g.must(g.s.Pause("a", "setup"))
	g.join("A", "q", "")
	g.offerCB("callback:1", g.clk.Now().Add(-time.Minute), "", false) // ahead of A
	g.clk.Advance(time.Second)
	g.offerCB("callback:2", g.clk.Now(), "", false) // behind A
	got := g.s.CallbackPositions()
	want := map[string]int{"callback:1": g.cbPos("callback:1"), "callback:2": g.cbPos("callback:2")}
	if len(got) != 2 || got["callback:1"].Position != want["callback:1"] || got["callback:2"].Position != want["callback:2"] ||
		want["callback:1"] != 1 || want["callback:2"] != 3 {
		t.Fatalf("CallbackPositions %+v, CallbackPosition of each %v; want 1 and 3", got, want)
	}
	g.must(g.s.WithdrawCallback("callback:1"))
	got = g.s.CallbackPositions()
	if _, ok := got["callback:1"]; ok || len(got) != 1 || got["callback:2"].Position != g.cbPos("callback:2") || got["callback:2"].Position != 2 {
		t.Fatalf("after callback:1 was withdrawn: %+v; want only callback:2, at 2", got)
	}
}
