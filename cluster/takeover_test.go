package cluster_test

import (
	"maps"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// nextRing is the next offer rung on the callers' node, failing the test
// when there is none.
func nextRing(t *testing.T, rings chanRinger) queue.Offer {
	t.Helper()
	select {
	case o := <-rings:
		return o
	default:
		t.Fatal("nothing rang")
		return queue.Offer{}
	}
}

func noRing(t *testing.T, rings chanRinger, when string) {
	t.Helper()
	select {
	case o := <-rings:
		t.Fatalf("%s: %s rang for %s", when, o.Agent, o.CallID)
	default:
	}
}

// A new leader goes on where the killed one stopped: the agent who
// missed a caller is not offered them again first, its miss is kept, an
// agent in wrap-up stays in it until its old end, a caller's MaxWait ends
// at the deadline of their real join, membership changed at run time
// stands, and the figures go on (the rejoins are no joins).
func TestTakeoverKeepsState(t *testing.T) {
	url := pgtest.Schema(t)
	clk := &clock{t: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	acd := queue.Config{Now: clk.Now,
		Agents: []config.Agent{{ID: "ann", Queues: map[string]int{"sales": 0}}, {ID: "bob", Queues: map[string]int{"sales": 0}},
			{ID: "carl", Queues: map[string]int{"care": 0}}},
		Queues: map[string]config.Queue{
			"sales": {Strategy: config.StrategyLongestIdle, RingTimeout: time.Hour},
			"care":  {RingTimeout: time.Hour, WrapUp: 30 * time.Second, MaxWait: time.Minute, Exit: "bye"},
		}}
	rings := chanRinger(make(chan queue.Offer, 16))
	mk := func(id string) *cluster.Node {
		n, err := cluster.New(cluster.Config{ID: id, DB: openDB(t, url), ACD: acd, LeadEvery: time.Nanosecond, Ringer: rings})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Register(t.Context()); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx := t.Context()
	n1 := mk("n1")
	stepAll(t, n1)
	n2 := mk("n2") // the callers' node, and the next leader
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	join := func(call, q string) *cluster.Place {
		t.Helper()
		p, err := n2.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: call, Queue: q, Caller: "+84" + call}})
		must(err)
		return p
	}
	must(n1.SetState(ctx, "ann", "login", "")) // idle longest
	stepAll(t, n1, n2)
	clk.Advance(time.Second)
	must(n1.SetState(ctx, "bob", "login", ""))
	must(n1.SetState(ctx, "carl", "login", ""))
	must(n1.SetMember(ctx, "carl", "sales", 5))
	stepAll(t, n1, n2)

	// carl answers c0 and hangs up at 10:00:06: wrap-up until 10:00:36.
	join("c0", "care")
	stepAll(t, n1, n2)
	must(n2.Answered(ctx, nextRing(t, rings).ID))
	stepAll(t, n1, n2)
	clk.Advance(5 * time.Second)
	must(n2.Hangup(ctx, "c0"))
	stepAll(t, n1, n2)
	// c9 waits for carl from 10:00:06: MaxWait ends at 10:01:06.
	c9 := join("c9", "care")
	// c1 rings ann (idle longest), who misses it; then bob.
	join("c1", "sales")
	stepAll(t, n1, n2)
	if o := nextRing(t, rings); o.Agent != "ann" || o.CallID != "c1" {
		t.Fatalf("first ring %s for %s; want ann for c1", o.Agent, o.CallID)
	} else {
		must(n2.Failed(ctx, o.ID, queue.ResultNoAnswer))
	}
	stepAll(t, n1, n2)
	if o := nextRing(t, rings); o.Agent != "bob" {
		t.Fatalf("after ann's miss c1 rings %s; want bob", o.Agent)
	}
	noRing(t, rings, "carl in wrap-up")
	clk.Advance(4 * time.Second) // 10:00:10
	stepAll(t, n1, n2)
	before := map[string]queue.Totals{}
	for _, q := range []string{"sales", "care"} {
		st, _ := n1.Service().Stats().Queue(q, clk.Now())
		before[q] = st.Totals
	}

	n1.Kill()
	for deadline := time.Now().Add(10 * time.Second); !n2.Leading(); {
		stepAll(t, n2)
		if time.Now().After(deadline) {
			t.Fatal("n2 did not take over within 10 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the lock with a bound
	}
	stepAll(t, n2)
	svc := n2.Service()
	// bob's offer was cancelled by the failover; c1 rings bob again, not ann.
	if o := nextRing(t, rings); o.Agent != "bob" || o.CallID != "c1" {
		t.Fatalf("after the takeover %s rings for %s; want bob for c1", o.Agent, o.CallID)
	}
	noRing(t, rings, "after the takeover")
	ann, _ := svc.Agent("ann")
	carl, _ := svc.Agent("carl")
	if ann.Misses != 1 || carl.Activity != queue.WrapUp || !maps.Equal(carl.Queues, map[string]int{"care": 0, "sales": 5}) ||
		carl.Answered != 1 || !ann.IdleSince.Before(carl.IdleSince) {
		t.Fatalf("after the takeover ann %+v\ncarl %+v", ann, carl)
	}
	for q, want := range before {
		if st, _ := svc.Stats().Queue(q, clk.Now()); st.Totals != want {
			t.Fatalf("%s totals after the takeover %+v; before %+v", q, st.Totals, want)
		}
	}

	clk.Advance(25 * time.Second) // 10:00:35: carl still wraps up
	stepAll(t, n2)
	noRing(t, rings, "1 s before carl's wrap-up ends")
	clk.Advance(time.Second) // 10:00:36
	stepAll(t, n2)
	if o := nextRing(t, rings); o.Agent != "carl" || o.CallID != "c9" {
		t.Fatalf("at the wrap-up's end %s rings for %s; want carl for c9", o.Agent, o.CallID)
	}
	clk.Advance(29 * time.Second) // 10:01:05
	stepAll(t, n2)
	select {
	case <-c9.Done():
		t.Fatalf("c9 left 1 s before MaxWait: %+v", c9.Outcome())
	default:
	}
	clk.Advance(time.Second) // 10:01:06
	stepAll(t, n2)
	select {
	case <-c9.Done():
	default:
		t.Fatal("c9 still waits at its MaxWait")
	}
	if out := c9.Outcome(); out.Reason != queue.ReasonTimeout || out.Wait != time.Minute {
		t.Fatalf("c9's outcome %+v; want timeout after 1m", out)
	}
	if st, _ := svc.Stats().Queue("care", clk.Now()); st.Totals != (queue.Totals{Joined: 2, Answered: 1, Exited: 1}) {
		t.Fatalf("care totals %+v; want 2 joined, 1 answered, 1 exited", st.Totals)
	}
}
