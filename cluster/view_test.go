package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

func openDB(t *testing.T, url string) *postgres.Cluster {
	t.Helper()
	db, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stepUntil steps n until it did nothing, a bounded number of times.
func stepAll(t *testing.T, ns ...*cluster.Node) {
	t.Helper()
	for range 20 {
		any := false
		for _, n := range ns {
			did, err := n.Step(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			any = any || did
		}
		if !any {
			return
		}
	}
	t.Fatal("nodes still busy after 20 rounds")
}

// A follower's View serves exactly what the leader's Service shows
// (queues with their callers, agents, each caller's position), through
// the view the leader writes in its commit; after the leader dies the new
// leader writes the same figures under its epoch, and the follower's
// View follows it.
func TestViewMatchesLeader(t *testing.T) {
	url := pgtest.Schema(t)
	clock := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock } // fixed: the views are compared byte for byte
	acd := queue.Config{Now: now, TierBoost: map[store.Tier]time.Duration{store.TierVIP: time.Minute},
		Agents: []config.Agent{{ID: "ann", Queues: map[string]int{"sales": 0}}, {ID: "bob", Queues: map[string]int{"sales": 0, "help": 0}}},
		Queues: map[string]config.Queue{"sales": {RingTimeout: time.Minute}, "help": {RingTimeout: time.Minute}}}
	mk := func(id string) *cluster.Node {
		n, err := cluster.New(cluster.Config{ID: id, DB: openDB(t, url), ACD: acd, LeadEvery: time.Nanosecond,
			ViewEvery: time.Nanosecond, Ringer: chanRinger(make(chan queue.Offer, 16))})
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
	n2 := mk("n2")
	v := cluster.NewView(cluster.ViewConfig{DB: openDB(t, url)}) // the follower's
	if _, err := v.Queue("sales"); !errors.Is(err, cluster.ErrNoView) {
		t.Fatalf("Queue before any view = %v; want ErrNoView", err)
	}
	if err := n1.SetState(ctx, "bob", "login", ""); err != nil {
		t.Fatal(err)
	}
	if err := n1.SetState(ctx, "bob", "pause", "lunch"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		tier string
	}{{"c1", ""}, {"c2", "vip"}, {"c3", ""}} {
		clock = clock.Add(time.Second)
		if _, err := n2.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: c.id, Queue: "sales", Caller: "+4930" + c.id,
			Tier: store.Tier(c.tier)}}); err != nil {
			t.Fatal(err)
		}
	}
	stepAll(t, n1, n2)
	if !n1.Leading() || n2.Leading() {
		t.Fatal("n1 should lead")
	}
	clock = clock.Add(7 * time.Second)
	// The view is written as of a step: one more after the clock moved,
	// so the waits in it are the ones the Service shows now.
	if err := n1.SetState(ctx, "ann", "logout", ""); err != nil {
		t.Fatal(err)
	}
	stepAll(t, n1, n2)
	same := func(leader *cluster.Node) {
		t.Helper()
		// The leader writes a view at most every ViewEvery, stretched to
		// ten times what building one costs (under -race, milliseconds), so
		// a step right after the last may leave it for later: step the
		// leader until the follower's copy is the Service's, or never.
		svc := leader.Service()
		fresh := false
		for deadline := time.Now().Add(20 * time.Second); ; {
			ok, err := v.Refresh(ctx)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			fresh = fresh || ok
			gotQ, wantQ := jsonOf(t, v.Queues()), jsonOf(t, svc.Queues())
			gotA, wantA := jsonOf(t, v.Agents()), jsonOf(t, svc.Agents())
			if fresh && gotQ == wantQ && gotA == wantA {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("new view %v; follower's queues\n%s\nleader's\n%s\nfollower's agents\n%s\nleader's\n%s", fresh, gotQ, wantQ, gotA, wantA)
			}
			stepAll(t, leader)
		}
		for _, id := range []string{"c1", "c2", "c3"} {
			got, err := v.Position(id)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := svc.Position(id)
			if got != want {
				t.Fatalf("position of %s: follower %+v, leader %+v", id, got, want)
			}
		}
		q, err := v.Queue("sales")
		if err != nil || q.Waiting != 3 || len(q.Callers) != 3 {
			t.Fatalf("sales = %+v, %v; want 3 waiting", q, err)
		}
		if a, err := v.Agent("bob"); err != nil || a.Presence != queue.Paused || a.Reason != "lunch" {
			t.Fatalf("bob = %+v, %v; want paused for lunch", a, err)
		}
	}
	same(n1)
	before, beforeAgents := jsonOf(t, v.Queues()), jsonOf(t, v.Agents())
	positions := map[string]queue.Position{}
	for _, id := range []string{"c1", "c2", "c3"} {
		positions[id], _ = v.Position(id)
	}
	_, epoch1 := v.Written()

	// The leader dies; n2 takes over, rebuilding from the snapshot, and
	// its first commit writes its view.
	n1.Kill()
	// The server frees the lock once it notices the closed socket (a few
	// ms): n2 tries until it leads.
	for deadline := time.Now().Add(10 * time.Second); !n2.Leading(); {
		stepAll(t, n2)
		if time.Now().After(deadline) {
			t.Fatal("n2 did not take over within 10 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the lock with a bound
	}
	stepAll(t, n2)
	same(n2)
	if _, epoch2 := v.Written(); epoch2 <= epoch1 {
		t.Fatalf("view epoch %d after the takeover; want above %d", epoch2, epoch1)
	}
	// The callers, their order, the members, the figures (the new leader
	// reads the old one's statistics records), the agents and the
	// positions are the same.
	if after := jsonOf(t, v.Queues()); after != before {
		t.Fatalf("queues after the leader change\n%s\nbefore\n%s", after, before)
	}
	if after := jsonOf(t, v.Agents()); after != beforeAgents {
		t.Fatalf("agents after the leader change\n%s\nbefore\n%s", after, beforeAgents)
	}
	for id, want := range positions {
		if got, _ := v.Position(id); got != want {
			t.Fatalf("position of %s after the leader change %+v; before %+v", id, got, want)
		}
	}
	if a, err := v.Agent("bob"); err != nil || a.Presence != queue.Paused || a.Reason != "lunch" {
		t.Fatalf("bob after the leader change = %+v, %v; want paused for lunch", a, err)
	}
	if _, err := v.Queue("nope"); !errors.Is(err, queue.ErrUnknownQueue) {
		t.Fatalf("unknown queue = %v", err)
	}
	if _, err := v.Position("c9"); !errors.Is(err, queue.ErrUnknownCall) {
		t.Fatalf("unknown call = %v", err)
	}
}

// Under Run (real time, notifications): a join through one node shows
// in every node's View within a second; when the leader stops, the new
// leader's view shows the same callers, again within a second.
func TestViewEveryNodeWithinASecond(t *testing.T) {
	url := pgtest.Schema(t)
	acd := queue.Config{Agents: []config.Agent{{ID: "ann", Queues: map[string]int{"sales": 0}}},
		Queues: map[string]config.Queue{"sales": {RingTimeout: time.Minute, JoinEmpty: true}}} // nobody logged in
	type run = viewRun
	start := func(id string) *run {
		n, err := cluster.New(cluster.Config{ID: id, DB: openDB(t, url), ACD: acd})
		if err != nil {
			t.Fatal(err)
		}
		r := &run{n: n, bus: events.NewBus(), done: make(chan error, 2)}
		r.v = cluster.NewView(cluster.ViewConfig{DB: openDB(t, url), Bus: r.bus})
		r.all, r.local = r.bus.SubscribeAll(256), r.bus.Subscribe(256)
		ctx, cancel := context.WithCancel(t.Context())
		r.cancel = cancel
		go func() { r.done <- r.n.Run(ctx) }()
		go func() { r.done <- r.v.Run(ctx) }()
		t.Cleanup(func() { r.stop(t) })
		return r
	}
	ctx := t.Context()
	a, b := start("a"), start("b")
	// waitView polls every node's View (memory reads) until f holds for all.
	waitView := func(what string, f func(*cluster.View) bool, rs ...*run) time.Duration {
		t.Helper()
		began := time.Now()
		for deadline := began.Add(10 * time.Second); ; {
			ok := true
			for _, r := range rs {
				ok = ok && f(r.v)
			}
			if ok {
				return time.Since(began)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not on every node's view within 10 s", what)
			}
			time.Sleep(5 * time.Millisecond) // polling in-memory state with a bound
		}
	}
	waiting := func(calls ...string) func(*cluster.View) bool {
		return func(v *cluster.View) bool {
			q, err := v.Queue("sales")
			if err != nil || len(q.Callers) != len(calls) {
				return false
			}
			for i, c := range q.Callers {
				if c.CallID != calls[i] {
					return false
				}
			}
			return true
		}
	}
	waitView("first view", func(v *cluster.View) bool { return v.Version() > 0 }, a, b)
	for i, c := range []string{"c1", "c2"} {
		via := []*run{a, b}[i]
		if _, err := via.n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: c, Queue: "sales"}}); err != nil {
			t.Fatal(err)
		}
		took := waitView("join "+c, waiting([]string{"c1", "c2"}[:i+1]...), a, b)
		t.Logf("join of %s through %s on both views after %s", c, via.n.ID(), took)
		if took > time.Second {
			t.Errorf("join of %s on both views after %s; want within 1 s", c, took)
		}
	}
	// Each node's stream heard of the views with a change (a board
	// re-reads then), its metrics-style subscribers did not.
	for _, r := range []*run{a, b} {
		select {
		case e := <-r.all.C:
			if vc, ok := e.Payload.(cluster.ViewChange); e.Type != cluster.EventView || !ok || vc.Epoch == 0 || vc.Version == 0 {
				t.Fatalf("%s's stream: %+v; want a view change", r.n.ID(), e)
			}
		default:
			t.Fatalf("%s's stream: no view change announced", r.n.ID())
		}
		select {
		case e := <-r.local.C:
			t.Fatalf("%s's local subscription got %+v", r.n.ID(), e)
		default:
		}
	}
	pos := func(v *cluster.View) queue.Position { p, _ := v.Position("c2"); return p }
	if p := pos(b.v); p.Position != 2 {
		t.Fatalf("c2's position %+v; want 2", p)
	}

	// Whoever leads stops; the other leads and its view agrees.
	leader, other := a, b
	if _, epoch := a.v.Written(); epoch == 0 {
		t.Fatal("view without an epoch")
	}
	var lead string
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.QueryRow(ctx, `SELECT node FROM acd_leader`).Scan(&lead); err != nil {
		t.Fatal(err)
	}
	if lead == "b" {
		leader, other = b, a
	}
	_, epoch := other.v.Written()
	leader.stop(t)
	took := waitView("new leader's view", func(v *cluster.View) bool { _, e := v.Written(); return e > epoch }, other)
	t.Logf("the new leader's view after %s", took)
	if !waiting("c1", "c2")(other.v) || pos(other.v).Position != 2 {
		t.Fatalf("after the leader change: sales %+v", other.v.Queues())
	}
	if err := other.n.Leave(ctx, "c1", queue.ReasonAbandoned); err != nil {
		t.Fatal(err)
	}
	if took := waitView("leave c1", waiting("c2"), other); took > time.Second {
		t.Errorf("leave on the new leader's view after %s; want within 1 s", took)
	}
}

// viewRun is a node and its View under Run.
type viewRun struct {
	n          *cluster.Node
	v          *cluster.View
	bus        *events.Bus
	all, local *events.Subscription
	cancel     context.CancelFunc
	done       chan error
	stopped    bool
}

func (r *viewRun) stop(t *testing.T) {
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	for range 2 {
		if err := <-r.done; err != nil {
			t.Errorf("%s: Run = %v", r.n.ID(), err)
		}
	}
}
