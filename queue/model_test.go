package queue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// TestModelRandomOperations drives the service with random sequences of
// joins, hang-ups, answers, declines, timeouts, pauses, logins, exit keys,
// membership changes, and callbacks (offered, withdrawn, due, refused, ended, rejoined by their
// customer), and checks the invariants after every step. The seed is logged; rerun a
// failure by putting its seed in `seeds`.
func TestModelRandomOperations(t *testing.T) {
	seeds := []uint64{1, 2, 3, uint64(time.Now().UnixNano())}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			runModel(t, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), 2000)
		})
	}
}

func runModel(t *testing.T, rng *rand.Rand, steps int) {
	strategies := []string{"longest-idle", "round-robin", "ring-all", "fewest-calls", "skills"}
	queues := map[string]config.Queue{}
	for i, st := range strategies {
		queues[st] = config.Queue{Strategy: config.Strategy(st), Skill: map[bool]string{true: "vi"}[st == "skills"],
			RingTimeout: time.Duration(5+rng.IntN(20)) * time.Second, MaxMisses: 1 + rng.IntN(3),
			WrapUp: time.Duration(rng.IntN(3)*10) * time.Second, MaxWait: time.Duration(1+rng.IntN(5)) * time.Minute,
			MaxLength: 3 + rng.IntN(8), JoinEmpty: i%2 == 0, LeaveWhenEmpty: i == 2, Exit: "exit-" + st,
			Keys: map[string]string{"9": "cb"}}
	}
	var ags []config.Agent
	for i := range 8 {
		a := config.Agent{ID: fmt.Sprintf("a%d", i), Queues: map[string]int{}, Skills: map[string]int{"vi": rng.IntN(4)}}
		for _, st := range strategies {
			if rng.IntN(2) == 0 {
				a.Queues[st] = rng.IntN(3)
			}
		}
		ags = append(ags, a)
	}
	g := newRig(t, queues, ags)
	d := &dues{}
	g.s.cfg.Callbacks = d
	cbs := 0
	pending := map[string]CallbackDue{} // due and not yet settled, by key
	rejoined := map[string]*Place{}     // confirmed customers' calls
	places := map[string]*Place{}       // every accepted join
	refused := 0
	joins := 0
	connected := []string{}
	tiers := store.Tiers
	for step := range steps {
		for _, due := range d.got {
			pending[due.Key] = due
		}
		d.got = nil
		op := rng.IntN(17)
		active := g.activeOffers()
		switch {
		case op == 12:
			cbs++
			// Joined up to five minutes ago, or again at an old place.
			key := fmt.Sprintf("callback:%d", rng.IntN(cbs)+1)
			_ = g.s.OfferCallback(CallbackEntry{Key: key, Queue: strategies[rng.IntN(len(strategies))],
				Tier: tiers[rng.IntN(3)], JoinedAt: g.clk.Now().Add(-time.Duration(rng.IntN(300)) * time.Second),
				AgentFirst: rng.IntN(3) == 0})
			delete(pending, key)
		case op == 13:
			if k := g.callbackKeys(); len(k) > 0 {
				key := k[rng.IntN(len(k))]
				g.must(g.s.WithdrawCallback(key))
				delete(pending, key)
			}
		case op >= 14 && len(pending) > 0:
			keys := make([]string, 0, len(pending))
			for k := range pending {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			due := pending[keys[rng.IntN(len(keys))]]
			delete(pending, due.Key)
			switch rng.IntN(3) {
			case 0: // refused
				_ = g.s.CallbackFailed(due.Key)
			case 1: // no answer
				_ = g.s.CallbackEnded(due.Key)
			default:
				if due.AgentFirst { // claimed: the agent talks until a hang-up (op 7)
					break
				}
				e := g.s.cbs[due.Key]
				if e == nil {
					break
				}
				call := "out-" + due.Key + fmt.Sprint(step)
				tk, err := g.s.Join(JoinRequest{CallID: call, Queue: due.Queue, Tier: e.tier, JoinedAt: e.placed, Reservation: due.Key})
				g.must(err)
				rejoined[call] = tk
			}
		case op == 0 || op == 1:
			joins++
			call := fmt.Sprintf("c%d", joins)
			tk, err := g.s.Join(JoinRequest{CallID: call, Queue: strategies[rng.IntN(len(strategies))], Tier: tiers[rng.IntN(3)]})
			if err != nil {
				refused++
			} else {
				places[call] = tk
			}
		case op == 2:
			if w := g.waitingCalls(); len(w) > 0 {
				g.must(g.s.Leave(w[rng.IntN(len(w))], ReasonAbandoned))
			}
		case op == 3 || op == 4:
			if len(active) > 0 {
				id := active[rng.IntN(len(active))]
				o := g.rg.active[id]
				g.rg.done(id)
				g.must(g.s.Answered(id))
				connected = append(connected, o.CallID)
			}
		case op == 5:
			if len(active) > 0 {
				id := active[rng.IntN(len(active))]
				g.rg.done(id)
				g.must(g.s.Failed(id, []string{ResultBusy, ResultDeclined, ResultNoAnswer, ResultError}[rng.IntN(4)]))
			}
		case op == 6:
			g.advance(time.Duration(rng.IntN(30)) * time.Second)
		case op == 7:
			if len(connected) > 0 {
				i := rng.IntN(len(connected))
				if err := g.s.Hangup(connected[i]); err != nil && !strings.HasPrefix(connected[i], "callback:") {
					t.Fatal(err) // an agent-first callback's call may have ended (withdrawn, ended, refused)
				}
				connected = slices.Delete(connected, i, i+1)
			}
		case op == 8:
			a := ags[rng.IntN(len(ags))].ID
			switch rng.IntN(4) {
			case 0:
				g.must(g.s.Login(a))
			case 1:
				g.must(g.s.Logout(a))
			case 2:
				_ = g.s.Pause(a, "break") // ErrLoggedOut is fine
			case 3:
				_ = g.s.Ready(a)
			}
		case op == 9:
			if w := g.waitingCalls(); len(w) > 0 {
				_, _ = g.s.Key(w[rng.IntN(len(w))], []string{"9", "1"}[rng.IntN(2)])
			}
		case op == 10: // membership changed at run time
			a, q := ags[rng.IntN(len(ags))].ID, strategies[rng.IntN(len(strategies))]
			if rng.IntN(2) == 0 {
				_, err := g.s.SetMember(a, q, rng.IntN(3))
				g.must(err)
			} else if err := g.s.RemoveMember(a, q); err != nil && !errors.Is(err, ErrNotMember) {
				t.Fatal(err)
			}
		default:
			a := ags[rng.IntN(len(ags))].ID
			_ = g.s.Login(a)
			_ = g.s.Ready(a)
		}
		g.checkInvariants(t, step, places, refused)
		for call, tk := range rejoined { // a confirmed customer is never lost either
			select {
			case <-tk.Done():
				if g.s.entries[call] != nil || tk.outcome.Reason == "" {
					t.Fatalf("step %d: rejoined %s done but waiting, reason %q", step, call, tk.outcome.Reason)
				}
			default:
				if g.s.entries[call] == nil {
					t.Fatalf("step %d: rejoined %s neither waiting nor done", step, call)
				}
			}
		}
	}
	t.Logf("callbacks offered %d, rejoined %d, still in line %d", cbs, len(rejoined), len(g.s.cbs))
	// Drain: hang up, let everyone leave; every offer must end.
	for _, key := range g.callbackKeys() {
		g.must(g.s.WithdrawCallback(key))
	}
	for _, c := range connected {
		_ = g.s.Hangup(c) // a callback's call may have ended with its withdraw
	}
	for _, c := range g.waitingCalls() {
		g.must(g.s.Leave(c, ReasonAbandoned))
	}
	g.advance(time.Hour)
	g.checkInvariants(t, steps, places, refused)
	if len(g.s.cbs) != 0 || len(g.s.oncall) != 0 {
		t.Fatalf("after drain: %d callbacks, %d calls", len(g.s.cbs), len(g.s.oncall))
	}
	if len(g.s.offers) != 0 || len(g.rg.active) != 0 {
		t.Fatalf("offers left after drain: %d / %d", len(g.s.offers), len(g.rg.active))
	}
	for _, a := range g.s.Agents() {
		if a.Activity != Idle {
			t.Fatalf("agent %s %s after drain", a.ID, a.Activity)
		}
	}
	// Every agent.offered was closed by exactly one agent.offer_ended, and
	// stats rebuilt from the bus alone equal the service's own.
	open := map[string]int{}
	replay := NewStats(queues, ags, g.s.cfg.StatsWindow, g.s.cfg.Location)
	for {
		select {
		case e := <-g.sub.C:
			replay.Apply(e)
			switch e.Type {
			case events.AgentOffered:
				open[payload[Offered](e).Offer]++
			case OfferEnded:
				open[payload[OfferEnd](e).Offer]--
			}
			continue
		default:
		}
		break
	}
	if g.bus.Dropped() != 0 {
		t.Fatalf("event subscriber dropped %d events", g.bus.Dropped())
	}
	for name := range queues {
		want, _ := g.s.Stats().Queue(name, g.clk.Now())
		got, _ := replay.Queue(name, g.clk.Now())
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("queue %s: stats from the bus differ:\n%+v\n%+v", name, got, want)
		}
	}
	if want, got := g.s.Stats().CallsToday(g.clk.Now()), replay.CallsToday(g.clk.Now()); !reflect.DeepEqual(want, got) {
		t.Fatalf("calls today from the bus %v, the service's %v", got, want)
	}
	for id, n := range open {
		if n != 0 {
			t.Fatalf("offer %s: offered-ended balance %d", id, n)
		}
	}
}

func (g *rig) activeOffers() []string {
	out := make([]string, 0, len(g.rg.active))
	for id := range g.rg.active {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (g *rig) waitingCalls() []string {
	out := make([]string, 0, len(g.s.entries))
	for id := range g.s.entries {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (g *rig) callbackKeys() []string {
	out := make([]string, 0, len(g.s.cbs))
	for k := range g.s.cbs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (g *rig) checkInvariants(t *testing.T, step int, places map[string]*Place, refused int) {
	t.Helper()
	s := g.s
	fail := func(f string, a ...any) { t.Fatalf("step %d: "+f, append([]any{step}, a...)...) }
	// Positions (all callers in one pass, the cluster's view) is Position
	// for each waiting caller, and names no one else.
	all := s.Positions()
	if len(all) != len(s.entries) {
		fail("Positions has %d callers, the service %d", len(all), len(s.entries))
	}
	for id := range s.entries {
		if p, err := s.Position(id); err != nil || p != all[id] {
			fail("Position(%s) = %+v, %v; Positions has %+v", id, p, err, all[id])
		}
	}
	// The ringer rings exactly the offers the service holds: none stuck.
	if len(s.offers) != len(g.rg.active) {
		fail("service has %d offers, ringer %d", len(s.offers), len(g.rg.active))
	}
	now := g.clk.Now()
	perAgent := map[string]int{}
	for id, o := range s.offers {
		if _, ok := g.rg.active[id]; !ok {
			fail("offer %s not ringing", id)
		}
		perAgent[o.Agent]++
		if o.a.offer != o || o.a.activity != Ringing {
			fail("offer %s: agent %s is %s", id, o.Agent, o.a.activity)
		}
		if o.Deadline.Sub(now) > s.queues[o.Queue].cfg.RingTimeout {
			fail("offer %s deadline beyond ring timeout", id)
		}
		if s.entries[o.CallID] != o.e && (o.e.cb == nil || s.cbs[o.CallID] != o.e || o.e.cb.state != cbWaiting) {
			fail("offer %s for a caller not waiting", id)
		}
		if (o.Callback != "") != (o.e.cb != nil) {
			fail("offer %s: callback %q for entry %+v", id, o.Callback, o.e.cb)
		}
	}
	for a, n := range perAgent {
		if n > 1 {
			fail("agent %s has %d offers", a, n)
		}
	}
	for _, a := range s.agents {
		if (a.activity == Ringing) != (a.offer != nil) {
			fail("agent %s activity %s offer %v", a.cfg.ID, a.activity, a.offer != nil)
		}
		if a.activity == Reserved {
			e := s.cbs[a.holds]
			if e == nil || e.cb.state != cbDialling || e.cb.agent != a || a.presence != Available {
				fail("agent %s reserved for %q, which does not hold it", a.cfg.ID, a.holds)
			}
		}
		if a.activity == Idle && a.holds != "" {
			fail("idle agent %s holds %q", a.cfg.ID, a.holds)
		}
		// Every change of state went out as agent.state (which dates it).
		if a.state != a.agentState() || a.stateSince.After(now) {
			fail("agent %s is %q, last published %q since %v", a.cfg.ID, a.agentState(), a.state, a.stateSince)
		}
	}
	// The model stays within one day: every answer is a call today.
	calls := s.stats.CallsToday(now)
	for id, a := range s.agents {
		if calls[id] != a.answered {
			fail("agent %s: %d calls today, %d answered", id, calls[id], a.answered)
		}
	}
	// A callback's agent is its own: reserved (dialling) or on its call
	// (answered); callback entries in line are counted.
	for key, e := range s.cbs {
		q := s.queues[e.queue]
		inLine := q.index(e) >= 0
		switch e.cb.state {
		case cbAnswered:
			if inLine || s.oncall[key] == nil || s.oncall[key] != e.cb.agent {
				fail("answered callback %s: in line %v, on call with %v", key, inLine, s.oncall[key])
			}
		case cbDialling:
			if !inLine || (e.cb.agent != nil && (e.cb.agent.activity != Reserved || e.cb.agent.holds != key)) {
				fail("dialling callback %s: in line %v, agent %+v", key, inLine, e.cb.agent)
			}
		default:
			if !inLine || e.cb.agent != nil {
				fail("waiting callback %s: in line %v, agent %v", key, inLine, e.cb.agent != nil)
			}
		}
	}
	for _, q := range s.queues {
		n := 0
		for _, e := range q.waiting.all {
			if e.cb != nil {
				n++
				if s.cbs[e.callID] != e {
					fail("queue %s: callback %s in line, not known", q.name, e.callID)
				}
			} else if s.entries[e.callID] != e {
				fail("queue %s: caller %s in line, not known", q.name, e.callID)
			}
		}
		if n != q.ncb {
			fail("queue %s: %d callbacks in line, counted %d", q.name, n, q.ncb)
		}
		total := 0
		for _, c := range q.waiting.chunks {
			if len(c) == 0 || len(c) > lineChunk {
				fail("queue %s: a chunk of %d entries in the line", q.name, len(c))
			}
			total += len(c)
		}
		if total != q.waiting.len() {
			fail("queue %s: %d entries in the line's chunks, %d counted", q.name, total, q.waiting.len())
		}
		if !slices.IsSortedFunc(q.waiting.head(q.waiting.len()), func(a, b *entry) int {
			if entryLess(a, b) {
				return -1
			}
			return 1
		}) {
			fail("queue %s: line out of order", q.name)
		}
	}
	// Each queue's members are the agents whose membership names it, by
	// ID, and its figures count exactly them.
	for _, q := range s.queues {
		var want []*agent
		for _, a := range s.sortedAgents() {
			if _, ok := a.queues[q.name]; ok {
				want = append(want, a)
			}
		}
		if !slices.Equal(q.members, want) || q.rr < -1 || q.rr >= max(len(q.members), 1) {
			fail("queue %s: members %d (round robin at %d), want %d", q.name, len(q.members), q.rr, len(want))
		}
		st, _ := s.Stats().Queue(q.name, now)
		n := 0
		for _, c := range st.AgentsByPresence {
			n += c
		}
		if n != len(want) {
			fail("queue %s: figures count %d agents, it has %d", q.name, n, len(want))
		}
	}
	// Work-conserving: no caller waits unoffered while an agent of its
	// queue is free (ring-all rings every free agent for one caller).
	for _, q := range s.queues {
		unoffered := false
		for _, e := range q.waiting.all {
			if q.servable(e) {
				unoffered = true
				break
			}
		}
		if !unoffered {
			continue
		}
		for _, a := range q.members {
			if s.eligible(q, a) {
				fail("queue %s: caller waits unoffered while agent %s is free", q.name, a.cfg.ID)
			}
		}
	}
	// No caller lost: each accepted join is waiting, connected, or done with a reason.
	for call, tk := range places {
		_, waiting := s.entries[call]
		select {
		case <-tk.Done():
			if waiting || tk.outcome.Reason == "" {
				fail("call %s done but waiting=%v reason=%q", call, waiting, tk.outcome.Reason)
			}
			if tk.outcome.Reason == ReasonAnswered && s.oncall[call] == nil && tk.outcome.Agent == "" {
				fail("call %s answered without agent", call)
			}
		default:
			if !waiting {
				fail("call %s neither waiting nor done", call)
			}
		}
	}
	// Metrics add up per queue and in total.
	var tot Totals
	for name := range s.queues {
		st, _ := s.Stats().Queue(name, now)
		x := st.Totals
		if x.Joined != x.Answered+x.Abandoned+x.Exited+x.Waiting {
			fail("queue %s totals do not add up: %+v", name, x)
		}
		live := 0 // callers on hold, confirmed callbacks apart (counted when they first waited)
		for _, e := range s.queues[name].waiting.all {
			if e.cb == nil && e.rejoin == "" {
				live++
			}
		}
		if x.Waiting != live {
			fail("queue %s stats waiting %d, service %d", name, x.Waiting, live)
		}
		tot.Joined += x.Joined
		tot.Waiting += x.Waiting
	}
	if tot.Joined != len(places)+refused {
		fail("joined %d, want %d", tot.Joined, len(places)+refused)
	}
}
