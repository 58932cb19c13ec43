package queue

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// svcRig is one Service of a resume test: a cluster leader's, with the
// statistics records it made (Config.State), on the test's clock.
type svcRig struct {
	t     *testing.T
	clk   *fakeClock
	rg    *fakeRinger
	st    *memState
	s     *Service
	joins map[string]JoinRequest // what each caller joined with
}

func newSvcRig(t *testing.T, clk *fakeClock, queues map[string]config.Queue, ags []config.Agent) *svcRig {
	g := &svcRig{t: t, clk: clk, rg: newFakeRinger(), st: &memState{agents: map[string]store.AgentState{}}, joins: map[string]JoinRequest{}}
	g.s = New(Config{Agents: ags, Queues: queues, Ringer: g.rg, Now: clk.Now, State: g.st})
	return g
}

func (g *svcRig) must(err error) {
	g.t.Helper()
	if err != nil {
		g.t.Fatal(err)
	}
}

func (g *svcRig) join(call, q string) *Place {
	g.t.Helper()
	r := JoinRequest{CallID: call, Queue: q, Caller: "+84" + call}
	p, err := g.s.Join(r)
	g.must(err)
	r.JoinedAt = g.clk.Now()
	g.joins[call] = r
	return p
}

// ringing is the offer ringing for call, failing the test if none.
func (g *svcRig) ringing(call string) Offer {
	g.t.Helper()
	g.rg.mu.Lock()
	defer g.rg.mu.Unlock()
	for _, o := range g.rg.active {
		if o.CallID == call {
			return o
		}
	}
	g.t.Fatalf("nothing rings for %s (rings %+v)", call, g.rg.rings)
	return Offer{}
}

func (g *svcRig) advance(d time.Duration) {
	g.clk.Advance(d)
	g.s.Tick()
}

// resume builds the Service that takes old's place as a new cluster
// leader does (cluster.takeOver): every agent exported and imported,
// every waiting caller (but drop) rejoined in service order with its
// exported state, then Resumed with the old one's records. It checks that
// what was exported comes back the same, before the new one offers.
func resume(t *testing.T, old *svcRig, queues map[string]config.Queue, ags []config.Agent, drop []string) (*svcRig, map[string]*Place) {
	t.Helper()
	g := newSvcRig(t, old.clk, queues, ags)
	for _, name := range slices.Sorted(maps.Keys(queues)) {
		st, err := old.s.ExportQueue(name, true)
		old.must(err)
		g.must(g.s.ImportQueue(name, st))
		if back, _ := g.s.ExportQueue(name, true); !reflect.DeepEqual(back, st) {
			t.Fatalf("queue %s resumed as %+v; exported %+v", name, back, st)
		}
	}
	for _, a := range ags {
		st, err := old.s.ExportAgent(a.ID)
		old.must(err)
		g.must(g.s.ImportAgent(a.ID, st))
		back, err := g.s.ExportAgent(a.ID)
		g.must(err)
		if st.StateSince.IsZero() { // was ringing: a new state
			back.StateSince = time.Time{}
		}
		if !reflect.DeepEqual(back, st) {
			t.Fatalf("agent %s resumed as\n%+v\nexported\n%+v", a.ID, back, st)
		}
	}
	places := map[string]*Place{}
	for _, name := range slices.Sorted(maps.Keys(queues)) {
		qv, err := old.s.Queue(name)
		old.must(err)
		for _, w := range qv.Callers {
			if slices.Contains(drop, w.CallID) {
				continue
			}
			st, err := old.s.ExportEntry(w.CallID)
			old.must(err)
			r := old.joins[w.CallID]
			r.Resume = &st
			p, err := g.s.Join(r)
			g.must(err)
			places[w.CallID] = p
			g.joins[w.CallID] = old.joins[w.CallID]
			if back, _ := g.s.ExportEntry(w.CallID); !reflect.DeepEqual(back, st) {
				t.Fatalf("caller %s resumed as %+v; exported %+v", w.CallID, back, st)
			}
		}
	}
	if n := g.rg.count(); n != 0 {
		t.Fatalf("%d offers before Resumed", n)
	}
	_, recs := old.st.snapshot()
	g.s.Resumed(recs)
	return g, places
}

// TestResume drives a Service, rebuilds another from its exports (a new
// cluster leader's takeover) and checks that the rebuilt one goes on
// where the first stopped.
func TestResume(t *testing.T) {
	two := func(q config.Queue) map[string]config.Queue {
		return map[string]config.Queue{"q": q.WithDefaults(), "r": config.Queue{}.WithDefaults()}
	}
	for _, tc := range []struct {
		name   string
		queue  config.Queue
		agents []string
		drop   []string // waiting callers who do not come back
		before func(g *svcRig)
		after  func(t *testing.T, g *svcRig, places map[string]*Place)
	}{{
		name: "wrap-up ends at its old deadline", queue: config.Queue{WrapUp: 30 * time.Second}, agents: []string{"a1"},
		before: func(g *svcRig) {
			g.must(g.s.Login("a1"))
			g.join("c1", "q")
			g.must(g.s.Answered(g.ringing("c1").ID))
			g.advance(5 * time.Second)
			g.must(g.s.Hangup("c1")) // wrap-up until +35 s
			g.advance(10 * time.Second)
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			g.join("c2", "q")
			g.advance(19 * time.Second)
			if a, _ := g.s.Agent("a1"); a.Activity != WrapUp || g.rg.count() != 0 {
				t.Fatalf("1 s before the wrap-up's end: %s, %d rings; want wrap_up, none", a.Activity, g.rg.count())
			}
			g.advance(time.Second)
			if o := g.ringing("c2"); o.Agent != "a1" {
				t.Fatalf("after the wrap-up c2 rings %s", o.Agent)
			}
		},
	}, {
		name: "a call stays up", queue: config.Queue{}, agents: []string{"a1"},
		before: func(g *svcRig) {
			g.must(g.s.Login("a1"))
			g.join("c1", "q")
			g.must(g.s.Answered(g.ringing("c1").ID))
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			g.join("c2", "q")
			if a, _ := g.s.Agent("a1"); a.Activity != OnCall || a.CallID != "c1" || a.Caller != "+84c1" || g.rg.count() != 0 {
				t.Fatalf("agent %+v, %d rings; want on c1, none", a, g.rg.count())
			}
			g.must(g.s.Hangup("c1"))
			if o := g.ringing("c2"); o.Agent != "a1" {
				t.Fatalf("after the hang-up c2 rings %s", o.Agent)
			}
		},
	}, {
		name: "RONA: who missed a caller is tried last", queue: config.Queue{Strategy: config.StrategyLongestIdle}, agents: []string{"a1", "a2"},
		before: func(g *svcRig) {
			g.must(g.s.Login("a1")) // idle longest
			g.advance(time.Second)
			g.must(g.s.Login("a2"))
			g.join("c1", "q")
			o := g.ringing("c1")
			if o.Agent != "a1" {
				g.t.Fatalf("c1 rings %s first; want a1", o.Agent)
			}
			g.rg.done(o.ID)
			g.must(g.s.Failed(o.ID, ResultNoAnswer))
			g.ringing("c1") // a2, cancelled by the takeover
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			if o := g.ringing("c1"); o.Agent != "a2" {
				t.Fatalf("c1 rings %s again after the takeover; want a2", o.Agent)
			}
			if a, _ := g.s.Agent("a1"); a.Misses != 1 {
				t.Fatalf("a1 misses %d; want 1", a.Misses)
			}
		},
	}, {
		name: "MaxWait counts from the real join", queue: config.Queue{MaxWait: time.Minute, JoinEmpty: true, Exit: "bye"}, agents: []string{"a1"},
		before: func(g *svcRig) {
			g.join("c1", "q")
			g.advance(50 * time.Second)
		},
		after: func(t *testing.T, g *svcRig, places map[string]*Place) {
			g.advance(9 * time.Second)
			select {
			case <-places["c1"].Done():
				t.Fatal("c1 timed out 1 s early")
			default:
			}
			g.advance(time.Second)
			select {
			case <-places["c1"].Done():
			default:
				t.Fatal("c1 waited past MaxWait")
			}
			if out := places["c1"].Outcome(); out.Reason != ReasonTimeout || out.Wait != time.Minute || !out.Joined.Equal(t0) {
				t.Fatalf("c1's outcome %+v; want timeout after 1m, joined at %s", out, t0)
			}
		},
	}, {
		name: "run-time membership stays", queue: config.Queue{JoinEmpty: true}, agents: []string{"a1", "a2"},
		before: func(g *svcRig) {
			_, err := g.s.SetMember("a1", "r", 2)
			g.must(err)
			g.must(g.s.RemoveMember("a2", "q"))
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			a1, _ := g.s.Agent("a1")
			a2, _ := g.s.Agent("a2")
			if !maps.Equal(a1.Queues, map[string]int{"q": 0, "r": 2}) || len(a2.Queues) != 0 {
				t.Fatalf("membership a1 %v, a2 %v; want q and r, none", a1.Queues, a2.Queues)
			}
			g.must(g.s.Login("a2"))
			g.join("c1", "q")
			if g.rg.count() != 0 {
				t.Fatalf("c1 rang %+v; a2 is no member of q and a1 is logged out", g.rg.rings)
			}
		},
	}, {
		name: "longest idle ranks by the old idle times", queue: config.Queue{Strategy: config.StrategyLongestIdle}, agents: []string{"a1", "a2"},
		before: func(g *svcRig) {
			g.must(g.s.Login("a1"))
			g.advance(time.Second)
			g.must(g.s.Login("a2"))
			g.join("c1", "q")
			g.must(g.s.Answered(g.ringing("c1").ID))
			g.advance(5 * time.Second)
			g.must(g.s.Hangup("c1")) // a1 idle since +6 s, a2 since +1 s
			g.advance(time.Minute)
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			g.join("c2", "q")
			if o := g.ringing("c2"); o.Agent != "a2" {
				t.Fatalf("c2 rings %s; want a2, idle longest", o.Agent)
			}
			if a, _ := g.s.Agent("a1"); a.Answered != 1 || !a.IdleSince.Equal(t0.Add(6*time.Second)) {
				t.Fatalf("a1 answered %d, idle since %s", a.Answered, a.IdleSince)
			}
		},
	}, {
		name: "statistics go on, a resumed caller counted once", queue: config.Queue{JoinEmpty: true}, agents: []string{"a1"},
		before: func(g *svcRig) {
			g.must(g.s.Login("a1"))
			g.join("c1", "q")
			g.must(g.s.Answered(g.ringing("c1").ID))
			g.must(g.s.Logout("a1"))
			g.join("c2", "q")
			g.must(g.s.Leave("c2", ReasonAbandoned))
			g.join("c3", "q")
			g.advance(20 * time.Second)
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			st, _ := g.s.Stats().Queue("q", g.clk.Now())
			if want := (Totals{Joined: 3, Answered: 1, Abandoned: 1, Waiting: 1}); st.Totals != want || st.LongestWaitSeconds != 20 {
				t.Fatalf("after the takeover totals %+v, longest wait %vs; want %+v, 20s", st.Totals, st.LongestWaitSeconds, want)
			}
			g.must(g.s.Leave("c3", ReasonAbandoned))
			st, _ = g.s.Stats().Queue("q", g.clk.Now())
			if want := (Totals{Joined: 3, Answered: 1, Abandoned: 2}); st.Totals != want || st.Windows[1].Joined != 3 {
				t.Fatalf("totals %+v, today %+v; want %+v, 3 joined", st.Totals, st.Windows[1], want)
			}
		},
	}, {
		name: "round robin goes on after the agent offered last", queue: config.Queue{Strategy: config.StrategyRoundRobin, WrapUp: time.Nanosecond},
		agents: []string{"a1", "a2", "a3"},
		before: func(g *svcRig) {
			for _, id := range []string{"a1", "a2", "a3"} {
				g.must(g.s.Login(id))
			}
			for _, c := range []string{"c1", "c2"} { // a1, then a2
				g.join(c, "q")
				g.must(g.s.Answered(g.ringing(c).ID))
				g.must(g.s.Hangup(c))
				g.advance(time.Second)
			}
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			g.join("c3", "q")
			if o := g.ringing("c3"); o.Agent != "a3" {
				t.Fatalf("c3 rings %s after the takeover; want a3 (a1 and a2 were offered before it)", o.Agent)
			}
		},
	}, {
		name: "EWT goes on from the answers before", queue: config.Queue{JoinEmpty: true, MaxWait: time.Hour}, agents: []string{"a1"},
		before: func(g *svcRig) {
			g.must(g.s.Login("a1"))
			for _, c := range []string{"c1", "c2", "c3"} {
				g.join(c, "q")
				g.must(g.s.Answered(g.ringing(c).ID))
				g.must(g.s.Hangup(c))
				g.advance(time.Minute)
			}
			g.must(g.s.Logout("a1"))
			g.join("c4", "q")
			g.join("c5", "q")
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			// 3 answers in the 15-minute window: 5 minutes per place.
			if p, err := g.s.Position("c5"); err != nil || !p.Known || p.Position != 2 || p.EWT != 10*time.Minute {
				t.Fatalf("c5's position after the takeover %+v, %v; want 2nd, EWT 10m known", p, err)
			}
			g.advance(13 * time.Minute) // the first answer (at +0) leaves the window at +15m
			if p, _ := g.s.Position("c5"); !p.Known || p.EWT != 15*time.Minute {
				t.Fatalf("c5's position with 2 answers in the window %+v; want EWT 15m", p)
			}
		},
	}, {
		name: "a caller who does not come back counts as exited", queue: config.Queue{JoinEmpty: true}, agents: []string{"a1"}, drop: []string{"c2"},
		before: func(g *svcRig) {
			g.join("c1", "q")
			g.join("c2", "q")
		},
		after: func(t *testing.T, g *svcRig, _ map[string]*Place) {
			st, _ := g.s.Stats().Queue("q", g.clk.Now())
			if want := (Totals{Joined: 2, Exited: 1, Waiting: 1}); st.Totals != want {
				t.Fatalf("totals %+v; want %+v", st.Totals, want)
			}
			if _, recs := g.st.snapshot(); len(recs) != 1 || recs[0].CallID != "c2" || recs[0].Kind != store.RecExited {
				t.Fatalf("new records %+v; want c2 exited", recs)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			queues := two(tc.queue)
			var ags []config.Agent
			for _, id := range tc.agents {
				ags = append(ags, config.Agent{ID: id, Username: id, Queues: map[string]int{"q": 0}})
			}
			clk := &fakeClock{now: t0}
			old := newSvcRig(t, clk, queues, ags)
			tc.before(old)
			before, _ := old.s.Stats().Queue("q", clk.Now())
			g, places := resume(t, old, queues, ags, tc.drop)
			if len(tc.drop) == 0 {
				if after, _ := g.s.Stats().Queue("q", clk.Now()); after.Totals != before.Totals {
					t.Fatalf("totals %+v after the takeover; %+v before", after.Totals, before.Totals)
				}
			}
			tc.after(t, g, places)
		})
	}
}

// ImportAgent refuses an agent it cannot place: unknown, already busy, a
// call in an unknown queue or one already taken.
func TestImportAgentRefuses(t *testing.T) {
	s := New(Config{Agents: agents("a1", "a2"), Queues: one(config.Queue{}.WithDefaults()), Now: (&fakeClock{now: t0}).Now})
	onCall := AgentSnapshot{Presence: Available, Activity: OnCall, Call: "c1", CallQueue: "q"}
	if err := s.ImportAgent("a1", onCall); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		agent string
		st    AgentSnapshot
		want  error
	}{
		{"nobody", AgentSnapshot{}, ErrUnknownAgent},
		{"a1", AgentSnapshot{}, ErrDuplicateCall}, // on c1 already
		{"a2", onCall, ErrDuplicateCall},          // c1 is a1's
		{"a2", AgentSnapshot{Activity: WrapUp, Call: "c2", CallQueue: "gone"}, ErrUnknownQueue},
	} {
		if err := s.ImportAgent(tc.agent, tc.st); !errors.Is(err, tc.want) {
			t.Errorf("ImportAgent(%s, %+v) = %v; want %v", tc.agent, tc.st, err, tc.want)
		}
	}
}
