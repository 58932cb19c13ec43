package queue

import (
	"errors"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/logbuf"
	"github.com/hotline-dev/hotline/store"
)

// memberRig: queues q and other (both JoinEmpty), empty (LeaveWhenEmpty,
// exit "sorry", no configured member); agent a in q, b in other.
func memberRig(t *testing.T) (*rig, *memState, *dues) {
	t.Helper()
	g := newRig(t, map[string]config.Queue{"q": {JoinEmpty: true}, "other": {JoinEmpty: true},
		"empty": {JoinEmpty: true, LeaveWhenEmpty: true, Exit: "sorry"}},
		[]config.Agent{{ID: "a", Queues: map[string]int{"q": 0}}, {ID: "b", Queues: map[string]int{"other": 0}}})
	st := &memState{agents: map[string]store.AgentState{}}
	d := &dues{}
	g.s.cfg.State, g.s.cfg.Callbacks = st, d
	return g, st, d
}

// events drains what the bus holds now.
func (g *rig) events() []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-g.sub.C:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (g *rig) members(queue string) []Member {
	g.t.Helper()
	v, err := g.s.Queue(queue)
	g.must(err)
	return v.Members
}

func TestMembershipChanges(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(g *rig)
		change func(g *rig) error
		check  func(t *testing.T, g *rig, before []Offer, evs []events.Event)
	}{
		{
			name: "added to a queue with a caller waiting: offered at once",
			setup: func(g *rig) {
				g.must(g.s.Login("b"))
				g.join("c1", "q", "") // a is logged out: nobody to offer
			},
			change: func(g *rig) error { return added(g, "b", "q", 2, true) },
			check: func(t *testing.T, g *rig, before []Offer, evs []events.Event) {
				if len(before) != 0 || g.rg.last(t).Agent != "b" || g.rg.last(t).CallID != "c1" {
					t.Fatalf("before %+v, then %+v: want c1 offered to b after the change", before, g.rg.rings)
				}
				if got := g.agentState("b").Queues; !maps.Equal(got, map[string]int{"other": 0, "q": 2}) {
					t.Fatalf("b's queues %v", got)
				}
				if m := g.members("q"); !reflect.DeepEqual(m, []Member{{"a", 0}, {"b", 2}}) {
					t.Fatalf("q's members %+v", m)
				}
				c := payload[AgentChange](find(t, evs, events.AgentState, "q"))
				if !maps.Equal(c.Queues, map[string]int{"other": 0, "q": 2}) || c.Presence != Available {
					t.Fatalf("agent.state %+v", c)
				}
				st, _ := g.s.Stats().Queue("q", g.clk.Now())
				if st.AgentsByPresence[string(Available)] != 1 || st.AgentsByPresence[string(LoggedOut)] != 1 {
					t.Fatalf("q's agents by presence %v: want b available, a logged out", st.AgentsByPresence)
				}
			},
		},
		{
			name:   "the same penalty again: no change, no event",
			change: func(g *rig) error { return added(g, "a", "q", 0, false) },
			check: func(t *testing.T, g *rig, _ []Offer, evs []events.Event) {
				if len(evs) != 0 {
					t.Fatalf("events %+v", evs)
				}
			},
		},
		{
			name: "a penalty changed: the lower penalty is offered first",
			setup: func(g *rig) {
				g.must(added(g, "b", "q", 0, true))
				g.must(g.s.Login("b")) // b idle longest: first at equal penalties
				g.clk.Advance(time.Second)
				g.must(g.s.Login("a"))
			},
			change: func(g *rig) error { return added(g, "b", "q", 5, false) },
			check: func(t *testing.T, g *rig, _ []Offer, _ []events.Event) {
				g.join("c1", "q", "")
				if o := g.rg.last(t); o.Agent != "a" {
					t.Fatalf("offered to %s, want a (b's penalty 5)", o.Agent)
				}
			},
		},
		{
			name: "removed while ringing for the queue: the offer is cancelled, not a miss",
			setup: func(g *rig) {
				g.must(g.s.Login("a"))
				g.join("c1", "q", "")
			},
			change: func(g *rig) error { return g.s.RemoveMember("a", "q") },
			check: func(t *testing.T, g *rig, before []Offer, evs []events.Event) {
				o := before[0]
				if g.rg.cancels[o.ID] != "agent-removed" {
					t.Fatalf("offer %s cancel reason %q", o.ID, g.rg.cancels[o.ID])
				}
				if end := payload[OfferEnd](find(t, evs, OfferEnded, "q")); end.Result != ResultCancelled {
					t.Fatalf("offer ended %+v", end)
				}
				if a := g.agentState("a"); a.Activity != Idle || a.Misses != 0 || a.Presence != Available || len(a.Queues) != 0 {
					t.Fatalf("a %+v", a)
				}
				if g.pos("c1") != 1 || g.rg.count() != 1 {
					t.Fatalf("c1 at %d, %d rings: want waiting, offered nobody else", g.pos("c1"), g.rg.count())
				}
				if m := g.members("q"); len(m) != 0 {
					t.Fatalf("q's members %+v", m)
				}
			},
		},
		{
			name: "removed while ringing for another queue: the offer rings on",
			setup: func(g *rig) {
				g.must(added(g, "a", "other", 0, true))
				g.must(g.s.Login("a"))
				g.join("c1", "other", "")
			},
			change: func(g *rig) error { return g.s.RemoveMember("a", "q") },
			check: func(t *testing.T, g *rig, before []Offer, _ []events.Event) {
				if _, ringing := g.rg.active[before[0].ID]; !ringing || g.agentState("a").Activity != Ringing {
					t.Fatalf("a's offer for other's caller was cancelled: %v", g.rg.cancels)
				}
			},
		},
		{
			name: "removed during a call from the queue: the call continues",
			setup: func(g *rig) {
				g.must(g.s.Login("a"))
				g.join("c1", "q", "")
				g.answer("c1")
			},
			change: func(g *rig) error { return g.s.RemoveMember("a", "q") },
			check: func(t *testing.T, g *rig, _ []Offer, _ []events.Event) {
				if a := g.agentState("a"); a.Activity != OnCall || a.CallID != "c1" {
					t.Fatalf("a %+v", a)
				}
				g.must(g.s.Hangup("c1"))
				g.advance(time.Minute) // the queue's wrap-up
				g.join("c2", "q", "")
				if a := g.agentState("a"); a.Activity != Idle || g.rg.count() != 1 {
					t.Fatalf("a %+v, %d rings: c2 must not be offered to a", a, g.rg.count())
				}
			},
		},
		{
			name: "the last logged-in agent of a leave-when-empty queue removed: its callers exit",
			setup: func(g *rig) {
				g.must(added(g, "b", "empty", 0, true))
				g.must(g.s.Login("b"))
				g.must(g.s.Pause("b", "lunch"))
				g.join("c1", "empty", "")
			},
			change: func(g *rig) error { return g.s.RemoveMember("b", "empty") },
			check: func(t *testing.T, g *rig, _ []Offer, evs []events.Event) {
				left := payload[Left](find(t, evs, events.QueueLeft, "empty"))
				if left.Reason != ReasonEmpty || left.Exit != "sorry" {
					t.Fatalf("c1 left %+v, want empty to sorry", left)
				}
			},
		},
		{
			name: "removed while reserved for the queue's callback: the reservation is dropped",
			setup: func(g *rig) {
				g.must(g.s.Login("a"))
				g.offerCB("callback:1", t0, "", false)
			},
			change: func(g *rig) error { return g.s.RemoveMember("a", "q") },
			check: func(t *testing.T, g *rig, _ []Offer, _ []events.Event) {
				if a := g.agentState("a"); a.Activity != Idle {
					t.Fatalf("a %+v", a)
				}
				if e := g.s.cbs["callback:1"]; e == nil || e.cb.state != cbDialling || e.cb.agent != nil {
					t.Fatalf("callback %+v: want dialling its customer, no agent reserved", e)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := memberRig(t)
			if tt.setup != nil {
				tt.setup(g)
			}
			before := append([]Offer(nil), g.rg.rings...)
			g.events()
			g.must(tt.change(g))
			tt.check(t, g, before, g.events())
		})
	}
}

// added calls SetMember and checks what it says about the agent being new.
func added(g *rig, agent, queue string, penalty int, want bool) error {
	got, err := g.s.SetMember(agent, queue, penalty)
	if err == nil && got != want {
		return errors.New("SetMember " + agent + " " + queue + ": added is the wrong way round")
	}
	return err
}

// find is the first event of typ for queue in evs.
func find(t *testing.T, evs []events.Event, typ, queue string) events.Event {
	t.Helper()
	for _, e := range evs {
		if e.Type == typ && e.Queue == queue {
			return e
		}
	}
	t.Fatalf("no %s for %s in %+v", typ, queue, evs)
	return events.Event{}
}

func TestMembershipErrors(t *testing.T) {
	g, _, _ := memberRig(t)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"set: unknown queue", second(g.s.SetMember("a", "nope", 0)), ErrUnknownQueue},
		{"set: unknown agent", second(g.s.SetMember("zz", "q", 0)), ErrUnknownAgent},
		{"remove: unknown queue", g.s.RemoveMember("a", "nope"), ErrUnknownQueue},
		{"remove: unknown agent", g.s.RemoveMember("zz", "q"), ErrUnknownAgent},
		{"remove: not a member", g.s.RemoveMember("b", "q"), ErrNotMember},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if m := g.members("q"); !reflect.DeepEqual(m, []Member{{"a", 0}}) {
		t.Fatalf("q's members after refused changes: %+v", m)
	}
}

func second[T any](_ T, err error) error { return err }

// The state sink gets the membership with every change, and nil (as
// configured) when a change brings it back to the configuration; a
// presence change keeps the membership in the saved row.
func TestMembershipIsSaved(t *testing.T) {
	g, st, _ := memberRig(t)
	saved := func() store.AgentState {
		t.Helper()
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.agents["a"]
	}
	g.must(added(g, "a", "other", 3, true))
	if s := saved(); !maps.Equal(s.Queues, map[string]int{"q": 0, "other": 3}) || s.Queues == nil {
		t.Fatalf("after adding: %+v", s)
	}
	g.must(g.s.Login("a"))
	if s := saved(); s.Presence != string(Available) || !maps.Equal(s.Queues, map[string]int{"q": 0, "other": 3}) {
		t.Fatalf("after login: %+v", s)
	}
	g.must(g.s.RemoveMember("a", "q"))
	g.must(g.s.RemoveMember("a", "other"))
	if s := saved(); s.Queues == nil || len(s.Queues) != 0 {
		t.Fatalf("in no queue: %+v, want an empty (not nil) membership", s)
	}
	g.must(added(g, "a", "q", 0, true))
	if s := saved(); s.Queues != nil || s.Presence != string(Available) {
		t.Fatalf("back as configured: %+v, want Queues nil", s)
	}
}

// Restore puts a saved membership back, for logged-out agents too, drops
// a queue no longer configured (saying so, and saving the membership
// without it), and the queue's view and figures follow.
func TestRestoreMembership(t *testing.T) {
	g, st, _ := memberRig(t)
	logs := &logbuf.Buffer{}
	g.s.cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	g.s.Restore([]store.AgentState{
		{AgentID: "a", Presence: string(LoggedOut), Queues: map[string]int{"other": 1, "gone": 0}},
		{AgentID: "b", Presence: string(Available), Queues: map[string]int{"other": 0, "q": 4}},
		{AgentID: "nobody", Presence: string(Available), Queues: map[string]int{"q": 0}},
	}, nil)
	if a := g.agentState("a"); a.Presence != LoggedOut || !maps.Equal(a.Queues, map[string]int{"other": 1}) {
		t.Fatalf("a %+v", a)
	}
	if m := g.members("q"); !reflect.DeepEqual(m, []Member{{"b", 4}}) {
		t.Fatalf("q's members %+v", m)
	}
	if m := g.members("other"); !reflect.DeepEqual(m, []Member{{"a", 1}, {"b", 0}}) {
		t.Fatalf("other's members %+v", m)
	}
	if l := logs.String(); !strings.Contains(l, `msg="queue membership restored without a queue no longer configured" agent=a queue=gone`) {
		t.Fatalf("no log line for the dropped queue:\n%s", l)
	}
	if l := logs.String(); !strings.Contains(l, `msg="saved state of an agent no longer configured is ignored" agent=nobody presence=available reason="" queues=map[q:0]`) {
		t.Fatalf("no log line for the agent no longer configured:\n%s", l)
	}
	st.mu.Lock()
	a := st.agents["a"]
	st.mu.Unlock()
	if !maps.Equal(a.Queues, map[string]int{"other": 1}) {
		t.Fatalf("a saved as %+v, want the membership without gone", a)
	}
	stq, _ := g.s.Stats().Queue("q", g.clk.Now())
	if !maps.Equal(stq.AgentsByPresence, map[string]int{string(Available): 1}) {
		t.Fatalf("q's agents by presence %v, want b alone", stq.AgentsByPresence)
	}
	g.join("c1", "q", "")
	if o := g.rg.last(t); o.Agent != "b" {
		t.Fatalf("offered to %s", o.Agent)
	}
}
