package cluster_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
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

// A new leader goes on with each queue's round robin (the next offer goes
// to the member after the one offered last, not to the first again) and
// its EWT (the answers the old leader saw are in the window).
func TestTakeoverKeepsRoundRobinAndEWT(t *testing.T) {
	url := pgtest.Schema(t)
	clk := &clock{t: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	acd := queue.Config{Now: clk.Now,
		Agents: []config.Agent{{ID: "a1", Queues: map[string]int{"rr": 0}}, {ID: "a2", Queues: map[string]int{"rr": 0}},
			{ID: "a3", Queues: map[string]int{"rr": 0}}},
		Queues: map[string]config.Queue{"rr": {Strategy: config.StrategyRoundRobin, RingTimeout: time.Hour}}}
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
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n1 := mk("n1")
	stepAll(t, n1)
	n2 := mk("n2")
	for _, a := range []string{"a1", "a2", "a3"} {
		must(n1.SetState(ctx, a, "login", ""))
	}
	stepAll(t, n1, n2)
	for i, want := range []string{"a1", "a2"} {
		call := "c" + strconv.Itoa(i+1)
		_, err := n2.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: call, Queue: "rr", Caller: "+84" + call}})
		must(err)
		stepAll(t, n1, n2)
		o := nextRing(t, rings)
		if o.Agent != want {
			t.Fatalf("%s rings %s; want %s", call, o.Agent, want)
		}
		must(n2.Answered(ctx, o.ID))
		stepAll(t, n1, n2)
		clk.Advance(time.Minute)
		must(n2.Hangup(ctx, call))
		stepAll(t, n1, n2)
	}

	// The answers go in a commit at most every second, or with the view:
	// step until both are written (a takeover loses at most a second's).
	conn, err := pgx.Connect(ctx, url)
	must(err)
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		must(conn.QueryRow(ctx, `SELECT COALESCE(SUM((a->>'n')::int), 0) FROM acd_queues, jsonb_array_elements(state->'answers') a
			WHERE queue = 'rr'`).Scan(&n))
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d answers written after 10 s; want 2", n)
		}
		stepAll(t, n1, n2)
		time.Sleep(20 * time.Millisecond) // polling the snapshot with a bound
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
	_, err = n2.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: "c3", Queue: "rr", Caller: "+84c3"}})
	must(err)
	stepAll(t, n2)
	if o := nextRing(t, rings); o.Agent != "a3" {
		t.Fatalf("after the takeover c3 rings %s; want a3 (a1 and a2 had the calls before)", o.Agent)
	}
	// Two answers in the 15-minute window: 7m30s per place.
	if p, err := n2.Service().Position("c3"); err != nil || !p.Known || p.EWT != 7*time.Minute+30*time.Second {
		t.Fatalf("c3's position after the takeover %+v, %v; want EWT 7m30s known", p, err)
	}
}

// A takeover whose rebuild takes longer than LeaderExpiry is not deposed:
// it beats while it rebuilds, so a follower watching the beat leaves it
// alone, no second leader acts, and the new leader's first commit goes
// through (fenced: a deposed one's would fail).
func TestSlowTakeoverNotDeposed(t *testing.T) {
	url := pgtest.Schema(t)
	const expiry = time.Second
	acd := annOnQ()
	rings := chanRinger(make(chan queue.Offer, 64))
	var n3 *cluster.Node
	var steps, n3Led atomic.Int32
	var began time.Time
	slow := func() { // a rebuild step of 100 ms, while a follower tries to depose
		steps.Add(1)
		if began.IsZero() {
			began = time.Now()
		}
		end := time.Now().Add(expiry / 10)
		if _, err := n3.Step(t.Context()); err != nil {
			t.Errorf("follower's step during the takeover: %v", err)
		}
		time.Sleep(time.Until(end)) // the seam: a slow import
	}
	mk := func(id string, hook func()) *cluster.Node {
		cfg := cluster.Config{ID: id, DB: openDB(t, url), ACD: acd, LeadEvery: time.Nanosecond, LeaderExpiry: expiry, Ringer: rings,
			Leading: func(on bool) {
				if on && id == "n3" {
					n3Led.Add(1)
				}
			}}
		return hookedNode(t, cfg, hook)
	}
	ctx := t.Context()
	n1 := mk("n1", nil)
	stepAll(t, n1)
	n2 := mk("n2", slow)
	n3 = mk("n3", nil)
	const callers = 25 // 2.5 s of rebuild: 2.5 LeaderExpiry
	for i := range callers {
		call := "c" + strconv.Itoa(i)
		if _, err := n2.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: call, Queue: "q", Caller: "+84" + call}}); err != nil {
			t.Fatal(err)
		}
	}
	stepAll(t, n1, n2)
	if q, _ := n1.Service().Queue("q"); len(q.Callers) != callers {
		t.Fatalf("%d callers wait; want %d", len(q.Callers), callers)
	}

	n1.Kill()
	for deadline := time.Now().Add(10 * time.Second); !n2.Leading(); {
		if _, err := n2.Step(ctx); err != nil {
			t.Fatalf("n2's takeover: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("n2 did not take over within 10 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the lock with a bound
	}
	took := time.Since(began)
	if took < 2*expiry || steps.Load() < callers {
		t.Fatalf("the rebuild took %s in %d steps; the test needs more than 2 × LeaderExpiry (%s)", took, steps.Load(), expiry)
	}
	t.Logf("rebuild took %s (LeaderExpiry %s)", took, expiry)
	// The first commit is fenced: it fails if n2 was deposed meanwhile.
	stepAll(t, n2, n3)
	if !n2.Leading() || n3.Leading() || n3Led.Load() != 0 {
		t.Fatalf("after the slow takeover n2 leads %v, n3 leads %v (took the lead %d times)", n2.Leading(), n3.Leading(), n3Led.Load())
	}
	if q, err := n2.Service().Queue("q"); err != nil || len(q.Callers) != callers {
		t.Fatalf("the new leader has %d callers (%v); want %d", len(q.Callers), err, callers)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n2.SetState(ctx, "ann", "login", ""))
	stepAll(t, n2, n3)
	if o := nextRing(t, rings); o.Agent != "ann" || o.CallID != "c0" {
		t.Fatalf("after the takeover %s rings for %s; want ann for c0", o.Agent, o.CallID)
	}
}

// A takeover step longer than LeaderExpiry with no beat in it (an import
// of the rebuild that hangs: only the snapshot's read and Resumed beat
// aside, TestTakeoverSlowSnapshotRead; docs/cluster.md) is deposed, as a
// hung leader must be: the follower ends the new leader's session and
// takes over itself. There is
// still one leader, the deposed one's rebuild fails at its next (fenced)
// beat and it never leads, and the follower's rebuild from the same
// snapshot loses no caller, no order and no figure. The long step is the
// rebuild's first (the importing seam, called right after the read),
// during which the follower steps until it leads.
func TestTakeoverStepLongerThanExpiryDeposed(t *testing.T) {
	url := pgtest.Schema(t)
	const expiry = time.Second
	acd := annOnQ()
	rings := chanRinger(make(chan queue.Offer, 64))
	var n3 *cluster.Node
	var led sync.Map // node ID → times it took the lead
	var took time.Duration
	slow := func() {
		if n3.Leading() {
			return
		}
		began := time.Now()
		for deadline := began.Add(10 * time.Second); !n3.Leading(); {
			if _, err := n3.Step(t.Context()); err != nil {
				t.Errorf("follower's step during the takeover: %v", err)
				return
			}
			if time.Now().After(deadline) {
				t.Error("the follower did not depose the silent takeover within 10 s")
				return
			}
			time.Sleep(20 * time.Millisecond) // polling the lock with a bound
		}
		took = time.Since(began)
	}
	mk := func(id string, hook func()) *cluster.Node {
		cfg := cluster.Config{ID: id, DB: openDB(t, url), ACD: acd, LeadEvery: time.Nanosecond, LeaderExpiry: expiry, Ringer: rings,
			Leading: func(on bool) {
				if on {
					k, _ := led.LoadOrStore(id, new(atomic.Int32))
					k.(*atomic.Int32).Add(1)
				}
			}}
		return hookedNode(t, cfg, hook)
	}
	timesLed := func(id string) int32 {
		if k, ok := led.Load(id); ok {
			return k.(*atomic.Int32).Load()
		}
		return 0
	}
	ctx := t.Context()
	n1 := mk("n1", nil)
	stepAll(t, n1)
	n2 := mk("n2", slow)
	n3 = mk("n3", nil)
	want := waitingVIPFirst(t, n1, n2)
	n1.Kill()
	var err error
	for deadline := time.Now().Add(10 * time.Second); err == nil && !n2.Leading() && !n3.Leading(); {
		_, err = n2.Step(ctx)
		if time.Now().After(deadline) {
			t.Fatal("nobody took over within 10 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the lock with a bound
	}
	if t.Failed() {
		t.FailNow()
	}
	if err == nil || n2.Leading() {
		t.Fatalf("the deposed takeover ended with %v (n2 leads %v); want its session ended", err, n2.Leading())
	}
	t.Logf("deposed after %s of silence (LeaderExpiry %s): %v", took.Round(time.Millisecond), expiry, err)
	stepAll(t, n2, n3)
	if n2.Leading() || !n3.Leading() || timesLed("n2") != 0 || timesLed("n3") != 1 {
		t.Fatalf("after the deposed takeover n2 leads %v (%d times), n3 %v (%d times); want n3 alone, once",
			n2.Leading(), timesLed("n2"), n3.Leading(), timesLed("n3"))
	}
	if got := callerOrder(t, n3); !slices.Equal(got, want) {
		t.Fatalf("the new leader's callers are %v; the old leader's were %v", got, want)
	}
	if st, _ := n3.Service().Stats().Queue("q", time.Now()); st.Totals.Joined != len(want) || st.Totals.Waiting != len(want) {
		t.Fatalf("the new leader's totals are %+v; want %d joined and waiting", st.Totals, len(want))
	}
	if err := n2.SetState(ctx, "ann", "login", ""); err != nil {
		t.Fatal(err)
	}
	stepAll(t, n2, n3)
	if o := nextRing(t, rings); o.Agent != "ann" || o.CallID != "c4" {
		t.Fatalf("after the takeover %s rings for %s; want ann for the VIP c4", o.Agent, o.CallID)
	}
}

// hookedNode registers a node whose takeover runs hook before each rebuild
// step (nil: none), the seam the slow-takeover tests use.
func hookedNode(t *testing.T, cfg cluster.Config, hook func()) *cluster.Node {
	t.Helper()
	if hook != nil {
		cfg = cluster.WithImporting(cfg, hook)
	}
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n
}

// annOnQ is the slow-takeover tests' contact centre: one agent, ann, on
// one queue, q, whose rings and waits never time out during a test.
func annOnQ() queue.Config {
	return queue.Config{
		Agents: []config.Agent{{ID: "ann", Queues: map[string]int{"q": 0}}},
		Queues: map[string]config.Queue{"q": {JoinEmpty: true, RingTimeout: time.Hour, MaxWait: time.Hour}}}
}

// A takeover whose snapshot read waits longer than LeaderExpiry (the test
// holds a lock on acd_entries that the read must wait for, and sees it
// wait in pg_locks) while a follower steps (tries the lock, and deposes a
// holder whose beat is stale):
//   - beating aside (the default), the new leader is not deposed for
//     2.5 × LeaderExpiry, and its takeover completes once the lock goes,
//     with its first commit (fenced) through;
//   - with no beat aside, the follower deposes it and leads itself;
//   - past the beat's bound, the takeover gives up (not deposed) and the
//     follower leads;
//   - superseded mid-read (the epoch moves on: a newer leader), its next
//     beat aside is fenced and the takeover stops at once (not deposed,
//     not at the bound), and the follower leads.
//
// Either way one node leads, with the same callers in the same order.
func TestTakeoverSlowSnapshotRead(t *testing.T) {
	const expiry = time.Second
	const (
		leads = iota
		deposed
		gaveUp
		fenced
	)
	for _, tc := range []struct {
		name        string
		every, most time.Duration // the beat aside's (WithAside; zero: the defaults)
		want        int
	}{
		{"beat aside: not deposed", 0, 0, leads},
		{"no beat aside: deposed", time.Hour, 0, deposed},
		{"past the bound: gives up", 0, 2 * expiry, gaveUp},
		{"superseded: fenced", 0, 0, fenced},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := pgtest.Schema(t)
			acd := annOnQ()
			rings := chanRinger(make(chan queue.Offer, 64))
			var led sync.Map // node ID → times it took the lead
			timesLed := func(id string) int32 {
				if k, ok := led.Load(id); ok {
					return k.(*atomic.Int32).Load()
				}
				return 0
			}
			mk := func(id string) *cluster.Node {
				cfg := cluster.Config{ID: id, DB: openDB(t, url), ACD: acd, LeadEvery: time.Nanosecond, LeaderExpiry: expiry, Ringer: rings,
					Leading: func(on bool) {
						if on {
							k, _ := led.LoadOrStore(id, new(atomic.Int32))
							k.(*atomic.Int32).Add(1)
						}
					}}
				if id == "n2" {
					cfg = cluster.WithAside(cfg, tc.every, tc.most)
				}
				return hookedNode(t, cfg, nil)
			}
			ctx := t.Context()
			n1 := mk("n1")
			stepAll(t, n1)
			n2, n3 := mk("n2"), mk("n3")
			want := waitingVIPFirst(t, n1, n2)

			release := pgtest.HoldTable(t, url, "acd_entries")
			n1.Kill()
			// n2 takes the lock and reads the snapshot, on a goroutine of
			// its own: the read waits for the table.
			took := make(chan error, 1)
			go func() {
				for deadline := time.Now().Add(20 * time.Second); ; {
					_, err := n2.Step(ctx)
					if err != nil || n2.Leading() {
						took <- err
						return
					}
					if time.Now().After(deadline) {
						took <- errors.New("n2 did not take the lock within 20 s")
						return
					}
					time.Sleep(5 * time.Millisecond) // polling the lock with a bound
				}
			}()
			pgtest.WaitLeaderWaits(t, url, "acd_entries")
			blocked := time.Now()
			if tc.want == fenced {
				conn, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				_, err = conn.Exec(ctx, `UPDATE acd_leader SET epoch = epoch + 1`)
				conn.Close(context.Background())
				if err != nil {
					t.Fatal(err)
				}
			}
			// The follower steps until it leads, or until told to stop.
			stop, followed := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(followed)
				for !n3.Leading() {
					if _, err := n3.Step(ctx); err != nil {
						t.Errorf("the follower's step: %v", err)
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond): // polling the lock with a bound
					}
				}
			}()
			var once sync.Once
			stopFollower := func() { once.Do(func() { close(stop) }) }
			tookErr, tookDone := error(nil), false
			defer func() { // whatever failed: no goroutine left behind
				release() // a read waiting for the table, n2's or n3's, ends
				stopFollower()
				<-followed
				if !tookDone {
					<-took
				}
			}()
			waitTook := func(within time.Duration) {
				t.Helper()
				select {
				case tookErr = <-took:
					tookDone = true
				case <-time.After(within):
					t.Fatalf("n2's takeover still runs after %s", within)
				}
			}

			switch tc.want {
			case leads:
				select {
				case err := <-took:
					tookDone = true
					t.Fatalf("n2's takeover ended after %s while its read waits: %v", time.Since(blocked), err)
				case <-time.After(time.Until(blocked.Add(5 * expiry / 2))): // the read waits 2.5 × LeaderExpiry
				}
				pgtest.WaitLeaderWaits(t, url, "acd_entries") // still the read's wait, nothing else
				stopFollower()
				<-followed
				if n3.Leading() || timesLed("n3") != 0 {
					t.Fatalf("the follower took the lead (%d times) while n2's read waited", timesLed("n3"))
				}
				release()
				if waitTook(10 * time.Second); tookErr != nil || !n2.Leading() {
					t.Fatalf("n2's takeover after the read = %v (leads %v); want it leading", tookErr, n2.Leading())
				}
				t.Logf("the read waited %s (LeaderExpiry %s): not deposed", time.Since(blocked).Round(time.Millisecond), expiry)
				stepAll(t, n2, n3) // the first commit is fenced: it fails if n2 was deposed
				if !n2.Leading() || n3.Leading() || timesLed("n2") != 1 || timesLed("n3") != 0 {
					t.Fatalf("after the slow read n2 leads %v (%d times), n3 %v (%d times); want n2 alone, once",
						n2.Leading(), timesLed("n2"), n3.Leading(), timesLed("n3"))
				}
			case deposed, gaveUp, fenced:
				waitTook(10 * time.Second)
				waited := time.Since(blocked)
				if tookErr == nil || n2.Leading() || timesLed("n2") != 0 {
					t.Fatalf("n2's takeover = %v (leads %v); want it ended", tookErr, n2.Leading())
				}
				if got := errors.Is(tookErr, cluster.ErrTakeoverTooLong); got != (tc.want == gaveUp) {
					t.Fatalf("n2's takeover ended after %s with %v; given up %v, want %v", waited, tookErr, got, tc.want == gaveUp)
				}
				if tc.want == gaveUp && waited < expiry {
					t.Fatalf("n2 gave up after %s; its bound is %s", waited, tc.most)
				}
				if got := errors.Is(tookErr, postgres.ErrFenced); got != (tc.want == fenced) {
					t.Fatalf("n2's takeover ended after %s with %v; fenced %v, want %v", waited, tookErr, got, tc.want == fenced)
				}
				t.Logf("n2's takeover ended after %s of its read's wait (LeaderExpiry %s): %v", waited.Round(time.Millisecond), expiry, tookErr)
				release() // the follower's own read, if it got that far, goes on
				select {
				case <-followed:
				case <-time.After(10 * time.Second):
					t.Fatal("the follower did not lead within 10 s of the table's release")
				}
				stepAll(t, n2, n3)
				if n2.Leading() || !n3.Leading() || timesLed("n2") != 0 || timesLed("n3") != 1 {
					t.Fatalf("n2 leads %v (%d times), n3 %v (%d times); want n3 alone, once",
						n2.Leading(), timesLed("n2"), n3.Leading(), timesLed("n3"))
				}
			}
			lead := n2
			if tc.want != leads {
				lead = n3
			}
			if got := callerOrder(t, lead); !slices.Equal(got, want) {
				t.Fatalf("the new leader's callers are %v; the old leader's were %v", got, want)
			}
			if err := n2.SetState(ctx, "ann", "login", ""); err != nil {
				t.Fatal(err)
			}
			stepAll(t, n2, n3)
			if o := nextRing(t, rings); o.Agent != "ann" || o.CallID != "c4" {
				t.Fatalf("after the takeover %s rings for %s; want ann for the VIP c4", o.Agent, o.CallID)
			}
		})
	}
}

// waitingVIPFirst joins five callers c0… to queue q through via, the
// last a VIP (it joins last and waits first), steps lead and via, and
// returns the line lead's Service has: the VIP first.
func waitingVIPFirst(t *testing.T, lead, via *cluster.Node) []string {
	t.Helper()
	const callers = 5
	for i := range callers {
		call := "c" + strconv.Itoa(i)
		tier := store.TierStandard
		if i == callers-1 {
			tier = store.TierVIP
		}
		if _, err := via.Join(t.Context(), cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: call, Queue: "q", Tier: tier, Caller: "+84" + call}}); err != nil {
			t.Fatal(err)
		}
	}
	stepAll(t, lead, via)
	want := callerOrder(t, lead)
	if len(want) != callers || want[0] != "c"+strconv.Itoa(callers-1) {
		t.Fatalf("callers wait as %v; want %d with the VIP first", want, callers)
	}
	return want
}

// callerOrder is queue q's callers in n's Service, in their order.
func callerOrder(t *testing.T, n *cluster.Node) []string {
	t.Helper()
	q, err := n.Service().Queue("q")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range q.Callers {
		ids = append(ids, c.CallID)
	}
	return ids
}
