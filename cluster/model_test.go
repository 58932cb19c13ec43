package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
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

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// simNode is a node of the simulated cluster: its own pool, listener-free
// (the test steps it), its outbox items observed in the world's log.
type simNode struct {
	id string
	db *postgres.Cluster
	n  *cluster.Node
}

type caller struct {
	id, node, queue string
	tier            store.Tier
	placed          time.Time
	seq             int
	offer           string // the world's active offer ID ("" none)
	agent           string // bridged with
	state           string // waiting, bridged, left
}

type world struct {
	t      *testing.T
	rng    *rand.Rand
	clk    *clock
	url    string
	acd    queue.Config
	hist   store.Store
	nodes  []*simNode
	nextID int

	callers    map[string]*caller
	joins      int
	offers     map[string]*caller // active offer ID → caller
	offerAgent map[string]string
	agentOffer map[string]string // agent → active offer
	agentCall  map[string]string // agent → bridged call
	expectLost map[string]bool
	gotLost    map[string]int

	reasons map[string]int // outcomes seen, by reason (the log shows what was exercised)

	// What a takeover must keep: run-time membership (agent → queue →
	// penalty), wrap-ups (agent → when it ends), the figures (by queue).
	members map[string]map[string]int
	wrapEnd map[string]time.Time
	// presence is each agent's presence as the world set it (logins,
	// pauses, logouts through any node).
	presence map[string]queue.Presence
	misses   map[string]int             // consecutive misses: MaxMisses pauses an available agent
	counts   map[string]*queue.Totals   // joined, answered, abandoned as the world saw them
	prev     *exported                  // the killed leader's state, checked against its successor's
	checked  int                        // takeovers checked against the killed leader's state
	tried    map[string]map[string]bool // caller → agents who missed them
	// killed is when the leader was killed, until a survivor leads;
	// takeovers are how long that took.
	killed    time.Time
	takeovers []time.Duration

	// view is a follower's View of the ACD (its own pool, as on any
	// node): checkView compares it with the leader's Service.
	view *cluster.View

	mu    sync.Mutex
	items []postgres.OutItem // observed, not yet checked
}

var queueAgents = map[string][]string{"sales": {"an", "binh", "chi"}, "support": {"dung", "em", "giang"}}

func newWorld(t *testing.T, seed uint64) *world {
	url := pgtest.Schema(t)
	hist, err := postgres.Open(t.Context(), url, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hist.Close() })
	w := &world{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), url: url, hist: hist,
		clk:     &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		callers: map[string]*caller{}, offers: map[string]*caller{}, offerAgent: map[string]string{},
		agentOffer: map[string]string{}, agentCall: map[string]string{}, expectLost: map[string]bool{}, gotLost: map[string]int{}, reasons: map[string]int{},
		members: map[string]map[string]int{}, wrapEnd: map[string]time.Time{}, tried: map[string]map[string]bool{}, presence: map[string]queue.Presence{}, misses: map[string]int{},
		counts: map[string]*queue.Totals{"sales": {}, "support": {}}}
	var agents []config.Agent
	for q, ids := range queueAgents {
		for _, id := range ids {
			agents = append(agents, config.Agent{ID: id, Username: id, Queues: map[string]int{q: 0}})
			w.members[id] = map[string]int{q: 0}
			w.presence[id] = queue.LoggedOut
		}
	}
	slices.SortFunc(agents, func(a, b config.Agent) int { return cmpStr(a.ID, b.ID) })
	w.acd = queue.Config{Agents: agents, Now: w.clk.Now, Queues: map[string]config.Queue{
		// sales: wrap-up, and its callers leave when its last agent logs
		// out; support: callers time out (MaxWait) and are refused
		// while nobody is logged in.
		"sales":   {Strategy: config.StrategyLongestIdle, RingTimeout: 20 * time.Second, WrapUp: 8 * time.Second, JoinEmpty: true, LeaveWhenEmpty: true},
		"support": {Strategy: config.StrategyRoundRobin, RingTimeout: 20 * time.Second, MaxWait: 90 * time.Second},
	}}
	vdb, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vdb.Close)
	w.view = cluster.NewView(cluster.ViewConfig{DB: vdb})
	for range 3 {
		w.spawn()
	}
	return w
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w *world) spawn() {
	w.nextID++
	id := "n" + strconv.Itoa(w.nextID)
	db, err := postgres.OpenCluster(w.t.Context(), w.url)
	if err != nil {
		w.t.Fatal(err)
	}
	// Every step tries the lock and checks expiry: the test steps the
	// nodes itself and ages dead nodes by hand. Every change is in the
	// next view (ViewEvery, stretched only by the view's cost): checkView.
	n, err := cluster.New(cluster.Config{ID: id, DB: db, ACD: w.acd, NodeExpiry: time.Hour,
		LeadEvery: time.Nanosecond, ExpiryEvery: time.Nanosecond, ViewEvery: time.Nanosecond,
		Observe: func(it postgres.OutItem) { w.mu.Lock(); w.items = append(w.items, it); w.mu.Unlock() },
		Lost: func(lc cluster.LostCall) {
			w.gotLost[lc.CallID]++
			if err := cluster.RecordLost(context.Background(), w.hist, lc); err != nil {
				w.t.Errorf("record lost %s: %v", lc.CallID, err)
			}
		}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := n.Register(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
	sn := &simNode{id: id, db: db, n: n}
	w.t.Cleanup(func() { sn.n.StepDown(); sn.db.Close() })
	w.nodes = append(w.nodes, sn)
}

func (w *world) node(id string) *simNode {
	for _, n := range w.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// settle steps every node until one leads and a whole round changes
// nothing (bounded: a takeover waits for the server to see the dead
// leader's socket closed).
func (w *world) settle() {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		did, leading := false, false
		for _, n := range w.nodes {
			k, err := n.n.Step(w.t.Context())
			if err != nil {
				w.t.Fatalf("step %s: %v", n.id, err)
			}
			did = did || k
			leading = leading || n.n.Leading()
		}
		if leading && !w.killed.IsZero() {
			w.takeovers = append(w.takeovers, time.Since(w.killed))
			w.killed = time.Time{}
		}
		if leading && !did {
			break
		}
		if time.Now().After(deadline) {
			w.t.Fatal("cluster did not settle within 10 s")
		}
	}
	w.checkItems()
}

func (w *world) leader() *simNode {
	for _, n := range w.nodes {
		if n.n.Leading() {
			return n
		}
	}
	return nil
}

func rank(c *caller, boost map[store.Tier]time.Duration) (time.Time, time.Time, int) {
	return c.placed.Add(-boost[c.tier]), c.placed, c.seq
}

func before(a, b *caller) bool {
	boost := map[store.Tier]time.Duration{store.TierVIP: 2 * time.Minute}
	av, ap, as := rank(a, boost)
	bv, bp, bs := rank(b, boost)
	if !av.Equal(bv) {
		return av.Before(bv)
	}
	if !ap.Equal(bp) {
		return ap.Before(bp)
	}
	return as < bs
}

// checkItems replays the leader's decisions in outbox order (one
// sequence across nodes) against the world and checks each offer.
func (w *world) checkItems() {
	w.t.Helper()
	w.mu.Lock()
	items := w.items
	w.items = nil
	w.mu.Unlock()
	slices.SortFunc(items, func(a, b postgres.OutItem) int { return int(a.ID - b.ID) })
	// A batch's outcomes are written after its offers (the leader reads
	// the closed places at the end of the batch), while the Service
	// decided with those callers already gone (a timeout in Tick, then
	// dispatch): callers leaving unanswered in this settle do not count
	// as waiting ahead of anyone in it.
	leaving := map[string]bool{}
	for _, it := range items {
		if it.Kind == "outcome" {
			var b struct {
				CallID  string        `json:"call_id"`
				Outcome queue.Outcome `json:"outcome"`
			}
			mustJSON(w.t, it.Body, &b)
			if b.Outcome.Reason != queue.ReasonAnswered {
				leaving[b.CallID] = true
			}
		}
	}
	for _, it := range items {
		switch it.Kind {
		case "ring":
			var o queue.Offer
			mustJSON(w.t, it.Body, &o)
			c := w.callers[o.CallID]
			if c == nil || c.state != "waiting" {
				w.t.Fatalf("offer %s rings for %s, who is not waiting (%+v)", o.ID, o.CallID, c)
			}
			if c.node != it.Node {
				w.t.Fatalf("offer %s for %s's caller delivered to %s", o.ID, c.node, it.Node)
			}
			if prev := w.agentOffer[o.Agent]; prev != "" {
				w.t.Fatalf("agent %s offered %s while ringing for %s (offer %s)", o.Agent, o.CallID, w.offers[prev].id, prev)
			}
			if call := w.agentCall[o.Agent]; call != "" {
				w.t.Fatalf("agent %s offered %s while bridged with %s", o.Agent, o.CallID, call)
			}
			if end := w.wrapEnd[o.Agent]; w.clk.Now().Before(end) {
				w.t.Fatalf("agent %s offered %s at %s, in wrap-up until %s", o.Agent, o.CallID, w.clk.Now().Format("15:04:05"), end.Format("15:04:05"))
			}
			if _, member := w.members[o.Agent][c.queue]; !member {
				w.t.Fatalf("agent %s offered %s of %s; its queues are %v", o.Agent, o.CallID, c.queue, w.members[o.Agent])
			}
			if c.offer != "" {
				w.t.Fatalf("caller %s offered twice (%s, %s)", o.CallID, c.offer, o.ID)
			}
			for _, d := range w.callers {
				if d != c && d.queue == c.queue && d.state == "waiting" && d.offer == "" && !leaving[d.id] && before(d, c) {
					w.t.Fatalf("offer %s to %s (tier %s, placed %s, %s) while %s (tier %s, placed %s, %s) waits before it; items %s",
						o.ID, c.id, c.tier, c.placed.Format("15:04:05"), c.queue, d.id, d.tier, d.placed.Format("15:04:05"), d.queue, dump(items))
				}
			}
			c.offer = o.ID
			w.offers[o.ID], w.offerAgent[o.ID], w.agentOffer[o.Agent] = c, o.Agent, o.ID
		case "cancel", "gone":
			var b struct {
				Offer  queue.Offer
				Reason string
			}
			mustJSON(w.t, it.Body, &b)
			if b.Reason == "timeout" { // RONA: a miss
				w.miss(b.Offer.CallID, b.Offer.Agent)
			}
			w.endOffer(b.Offer.ID)
		case "outcome":
			var b struct {
				CallID  string        `json:"call_id"`
				Outcome queue.Outcome `json:"outcome"`
			}
			mustJSON(w.t, it.Body, &b)
			c := w.callers[b.CallID]
			if c == nil {
				w.t.Fatalf("outcome for unknown call %s", b.CallID)
			}
			if b.Outcome.Reason == queue.ReasonTimeout {
				if due := c.placed.Add(w.maxWait(c.queue)); w.clk.Now().Before(due) {
					w.t.Fatalf("caller %s timed out at %s; MaxWait ends at %s", c.id, w.clk.Now().Format("15:04:05"), due.Format("15:04:05"))
				}
			}
			if b.Outcome.Reason == queue.ReasonAnswered {
				if c.state != "waiting" {
					w.t.Fatalf("caller %s answered while %s", c.id, c.state)
				}
				w.counts[c.queue].Answered++
				w.endOffer(c.offer)
				c.state, c.agent = "bridged", b.Outcome.Agent
				w.misses[c.agent] = 0
				w.agentCall[c.agent] = c.id
			} else if c.state == "waiting" {
				w.endOffer(c.offer)
				c.state = "left"
			}
			w.reasons[b.Outcome.Reason]++
		case "lost":
		}
	}
}

func dump(items []postgres.OutItem) string {
	s := ""
	for _, it := range items {
		s += fmt.Sprintf("\n  %d %s %s %s", it.ID, it.Node, it.Kind, it.Body)
	}
	return s
}

// miss records that agent missed caller call (RONA).
func (w *world) miss(call, agent string) {
	if w.tried[call] == nil {
		w.tried[call] = map[string]bool{}
	}
	w.tried[call][agent] = true
	w.misses[agent]++
	if c := w.callers[call]; c != nil && w.misses[agent] >= w.acd.Queues[c.queue].WithDefaults().MaxMisses && w.presence[agent] == queue.Available {
		w.presence[agent], w.misses[agent] = queue.Paused, 0
	}
}

func (w *world) endOffer(id string) {
	if c := w.offers[id]; c != nil {
		if c.offer == id {
			c.offer = ""
		}
		delete(w.agentOffer, w.offerAgent[id])
		delete(w.offers, id)
		delete(w.offerAgent, id)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("outbox body %s: %v", b, err)
	}
}

// checkState compares the leader's queues with the world after a settle.
func (w *world) checkState() {
	w.t.Helper()
	l := w.leader()
	svc := l.n.Service()
	var waiting []string
	for _, c := range w.callers {
		if c.state != "waiting" {
			continue
		}
		waiting = append(waiting, c.id)
		if _, err := svc.Position(c.id); err != nil {
			w.t.Fatalf("caller %s (node %s) is up and waiting, but not in the leader's queue: %v", c.id, c.node, err)
		}
	}
	slices.Sort(waiting)
	var inDB []string
	w.query(`SELECT call_id FROM acd_entries ORDER BY call_id`, func(r pgx.Rows) {
		var id string
		_ = r.Scan(&id)
		inDB = append(inDB, id)
	})
	if !slices.Equal(waiting, inDB) {
		w.t.Fatalf("snapshot entries %v; the world waits with %v", inDB, waiting)
	}
	// MaxWait: no caller waits past it, across takeovers too (the clock
	// starts at the real join, not at the takeover).
	for _, c := range w.callers {
		if mw := w.maxWait(c.queue); c.state == "waiting" && !w.clk.Now().Before(c.placed.Add(mw)) {
			w.t.Fatalf("caller %s (joined %s) still waits at %s, past MaxWait", c.id, c.placed.Format("15:04:05"), w.clk.Now().Format("15:04:05"))
		}
	}
	// RONA: the agents who missed a waiting caller are the leader's
	// tried set, whoever leads (so it does not ring them first again).
	for _, c := range w.callers {
		if c.state != "waiting" {
			continue
		}
		st, err := svc.ExportEntry(c.id)
		if err != nil {
			w.t.Fatalf("caller %s: %v", c.id, err)
		}
		if want := slices.Sorted(maps.Keys(w.tried[c.id])); !slices.Equal(st.Tried, want) {
			w.t.Fatalf("caller %s: the leader has %v as tried; the world's misses are %v", c.id, st.Tried, want)
		}
	}
	// Run-time membership and wrap-ups are the leader's, whoever leads.
	for _, a := range svc.Agents() {
		if !maps.Equal(a.Queues, w.members[a.ID]) {
			w.t.Fatalf("agent %s is in %v; the world made it %v", a.ID, a.Queues, w.members[a.ID])
		}
		if end := w.wrapEnd[a.ID]; w.clk.Now().Before(end) && a.Activity != queue.WrapUp {
			w.t.Fatalf("agent %s is %s at %s, in wrap-up until %s", a.ID, a.Activity, w.clk.Now().Format("15:04:05"), end.Format("15:04:05"))
		}
	}
	// The figures go on across takeovers: a rejoin is no join, and the
	// old leader's counts are not lost.
	for q, want := range w.counts {
		st, _ := svc.Stats().Queue(q, w.clk.Now())
		want.Waiting = 0
		for _, c := range w.callers {
			if c.queue == q && c.state == "waiting" {
				want.Waiting++
			}
		}
		got := st.Totals
		if got.Joined != want.Joined || got.Answered != want.Answered || got.Abandoned != want.Abandoned || got.Waiting != want.Waiting {
			w.t.Fatalf("%s totals %+v; the world counts %+v", q, got, *want)
		}
	}
	if w.prev != nil {
		w.checkTakeover(svc)
	}
	w.checkQueues(svc)
	w.checkView(svc)
	// Work is conserved: no agent idle and available while a caller of
	// its queue waits unoffered.
	for _, a := range svc.Agents() {
		if a.Presence != queue.Available || a.Activity != queue.Idle || a.Offer != nil {
			continue
		}
		for q := range a.Queues {
			for _, c := range w.callers {
				if c.queue == q && c.state == "waiting" && c.offer == "" {
					w.t.Fatalf("agent %s idle while %s waits in %s unoffered", a.ID, c.id, q)
				}
			}
		}
	}
	for id := range w.expectLost {
		if w.gotLost[id] != 1 {
			w.t.Fatalf("lost call %s handed to survivors %d times; want 1", id, w.gotLost[id])
		}
	}
	for id, k := range w.gotLost {
		if !w.expectLost[id] {
			w.t.Fatalf("call %s recorded lost %d times, but its node lives", id, k)
		}
	}
}

// maxWait is queue q's MaxWait as the Service applies it: unset (sales)
// is the default, 10 minutes, not "none".
func (w *world) maxWait(q string) time.Duration { return w.acd.Queues[q].WithDefaults().MaxWait }

// checkView compares a follower's View with the leader's Service at a
// quiescent point: the queues (callers in order, waits, figures) and the
// agents as the wallboard reads them, byte for byte, and each waiting
// caller's position and EWT. The leader writes a view at most every
// ViewEvery stretched to ten times a view's cost, so it may not have
// written the last change yet: the nodes step (nothing else to do: the
// clock stands, and the one command sent changes nothing) until the view
// is the Service's, for at most 10 s.
func (w *world) checkView(svc *queue.Service) {
	w.t.Helper()
	ctx := w.t.Context()
	// Waits move with the clock alone, and a view written only for that
	// comes every ViewMax (a second): a command that changes nothing
	// (a callback id no scheduler loads) makes the leader's next view due
	// now, built at the clock the Service reads.
	if err := w.nodes[0].n.Callback(ctx, 0); err != nil {
		w.t.Fatal(err)
	}
	w.settle()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := w.view.Refresh(ctx); err != nil {
			w.t.Fatalf("the follower's view: %v", err)
		}
		gotQ, wantQ := jsonOf(w.t, w.view.Queues()), jsonOf(w.t, svc.Queues())
		gotA, wantA := jsonOf(w.t, w.view.Agents()), jsonOf(w.t, svc.Agents())
		if gotQ == wantQ && gotA == wantA {
			break
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the follower's view after 10 s:\nqueues %s\nthe leader's %s\nagents %s\nthe leader's %s", gotQ, wantQ, gotA, wantA)
		}
		w.settle()
		time.Sleep(time.Millisecond) // polling the view with a bound: the leader's next view is due after a gap
	}
	want := svc.Positions() // what the view was built from (each clamped to what the caller was told)
	for _, c := range w.callers {
		if c.state != "waiting" {
			continue
		}
		got, err := w.view.Position(c.id)
		if err != nil {
			w.t.Fatalf("caller %s waits, but the follower's view has no position: %v", c.id, err)
		}
		// A follower never raises a position it gave (View.Position), and
		// a new leader does not know what the old one told (a VIP joined
		// ahead since): at most the leader's, with the leader's EWT.
		if p := want[c.id]; got.Position < 1 || got.Position > p.Position || got.Known != p.Known || got.EWT != p.EWT {
			w.t.Fatalf("caller %s: the follower's view has position %+v; the leader %+v", c.id, got, p)
		}
	}
}

func (w *world) query(sql string, row func(pgx.Rows)) {
	w.t.Helper()
	c, err := pgx.Connect(w.t.Context(), w.url)
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(w.t.Context(), sql)
	if err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	for rows.Next() {
		row(rows)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

func (w *world) pick(keys []string) string { return keys[w.rng.IntN(len(keys))] }

func (w *world) callersIn(state string, withOffer bool) []string {
	var out []string
	for id, c := range w.callers {
		if c.state == state && (!withOffer || c.offer != "") && w.node(c.node) != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// act does one random thing to the cluster.
func (w *world) act(step int) string {
	ctx := w.t.Context()
	alive := w.nodes
	must := func(err error) {
		if err != nil {
			w.t.Fatalf("step %d: %v", step, err)
		}
	}
	switch r := w.rng.IntN(100); {
	case r < 30: // a caller joins on some node
		n := alive[w.rng.IntN(len(alive))]
		w.joins++
		id := fmt.Sprintf("call-%d", w.joins)
		q := w.pick([]string{"sales", "support"})
		tier := []store.Tier{store.TierVIP, store.TierStandard, store.TierStandard, store.TierNew}[w.rng.IntN(4)]
		w.callers[id] = &caller{id: id, node: n.id, queue: q, tier: tier, placed: w.clk.Now(), seq: w.joins, state: "waiting"}
		w.counts[q].Joined++
		_, err := n.n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: id, Queue: q, Tier: tier, Caller: "+8491200" + strconv.Itoa(1000+w.joins)},
			FromTag: "ft-" + id, Called: "1900", Started: w.clk.Now()})
		must(err)
		return "join " + id + " " + string(tier) + " " + q + " on " + n.id
	case r < 48: // an agent answers a ringing offer
		ids := w.callersIn("waiting", true)
		if len(ids) == 0 {
			return "nothing to answer"
		}
		c := w.callers[w.pick(ids)]
		must(w.node(c.node).n.Answered(ctx, c.offer))
		return "answer " + c.offer
	case r < 56: // ringing fails
		ids := w.callersIn("waiting", true)
		if len(ids) == 0 {
			return "nothing to fail"
		}
		c := w.callers[w.pick(ids)]
		off := c.offer
		w.miss(c.id, w.offerAgent[off])
		w.endOffer(off)
		must(w.node(c.node).n.Failed(ctx, off, queue.ResultNoAnswer))
		return "fail " + off
	case r < 70: // a bridged call ends
		ids := w.callersIn("bridged", false)
		if len(ids) == 0 {
			return "nothing to hang up"
		}
		c := w.callers[w.pick(ids)]
		c.state = "left"
		delete(w.agentCall, c.agent)
		w.wrapEnd[c.agent] = w.clk.Now().Add(w.acd.Queues[c.queue].WrapUp)
		must(w.node(c.node).n.Hangup(ctx, c.id))
		return "hangup " + c.id
	case r < 78: // a waiting caller gives up
		ids := w.callersIn("waiting", false)
		if len(ids) == 0 {
			return "nobody to abandon"
		}
		c := w.callers[w.pick(ids)]
		c.state = "left"
		w.endOffer(c.offer)
		w.counts[c.queue].Abandoned++
		must(w.node(c.node).n.Leave(ctx, c.id, queue.ReasonAbandoned))
		return "abandon " + c.id
	case r < 90: // an agent's presence changes, through any node
		ag := w.acd.Agents[w.rng.IntN(len(w.acd.Agents))].ID
		st := []string{"login", "login", "ready", "pause", "logout"}[w.rng.IntN(5)]
		// A ringing offer the change ends comes back as a cancel item.
		must(alive[w.rng.IntN(len(alive))].n.SetState(ctx, ag, st, ""))
		switch p := w.presence[ag]; {
		case st == "logout":
			w.presence[ag] = queue.LoggedOut
		case st == "login" && p == queue.LoggedOut, st == "ready" && p == queue.Paused:
			w.presence[ag], w.misses[ag] = queue.Available, 0
		case st == "pause" && p != queue.LoggedOut:
			w.presence[ag] = queue.Paused
		}
		return st + " " + ag
	case r < 97: // membership changes at run time, through any node
		ag := w.acd.Agents[w.rng.IntN(len(w.acd.Agents))].ID
		q := w.pick([]string{"sales", "support"})
		n := alive[w.rng.IntN(len(alive))].n
		if _, member := w.members[ag][q]; member && w.rng.IntN(2) == 0 {
			m := maps.Clone(w.members[ag])
			delete(m, q)
			w.members[ag] = m
			must(n.RemoveMember(ctx, ag, q))
			return "remove " + ag + " from " + q
		}
		penalty := w.rng.IntN(3)
		m := maps.Clone(w.members[ag])
		m[q] = penalty
		w.members[ag] = m
		must(n.SetMember(ctx, ag, q, penalty))
		return fmt.Sprintf("member %s of %s, penalty %d", ag, q, penalty)
	default: // a node dies; a new one starts
		if len(alive) < 2 {
			return "no node to kill"
		}
		i := w.rng.IntN(len(alive))
		d := alive[i]
		if d.n.Leading() {
			w.killed = time.Now()
			w.prev = export(w.t, d.n.Service(), w.acd, d.id, w.callers)
		}
		d.n.Kill()
		d.db.Close()
		w.nodes = slices.Delete(w.nodes, i, i+1)
		for _, c := range w.callers {
			if c.node != d.id || c.state == "left" {
				continue
			}
			w.expectLost[c.id] = true
			w.endOffer(c.offer)
			if c.state == "bridged" {
				delete(w.agentCall, c.agent)
				// The leader hangs the call up: wrap-up from now.
				w.wrapEnd[c.agent] = w.clk.Now().Add(w.acd.Queues[c.queue].WrapUp)
			}
			c.state = "left"
		}
		w.exec(`UPDATE acd_nodes SET last_seen = now() - interval '2 hours' WHERE id = $1`, d.id)
		w.spawn()
		return "kill " + d.id
	}
}

func (w *world) exec(sql string, args ...any) {
	w.t.Helper()
	c, err := pgx.Connect(w.t.Context(), w.url)
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(w.t.Context(), sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// TestModel runs random joins (random tiers), answers, failures,
// hang-ups, abandons, presence changes and node deaths on three simulated
// nodes sharing one PostgreSQL schema, and checks after every step: no
// agent offered two calls at once (nor while bridged) cluster-wide; every
// caller whose call is up is in the leader's queue and its snapshot;
// offers go in priority-then-join-time order; the leader's queues as
// the wallboard reads them (callers in order, ringing, real waits;
// agents' presence and free or busy state) are the world's, whoever
// leads (checkQueues; after every takeover too), and a follower's View
// reads the same (checkView); no idle agent while its
// queue has a caller unoffered; each call lost with a node is handed to a
// survivor once, and recorded failed once. HOTLINE_MODEL_SEED replays a
// seed; HOTLINE_MODEL_STEPS sets the length.
func TestModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HOTLINE_MODEL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	steps := 300
	if s := os.Getenv("HOTLINE_MODEL_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (HOTLINE_MODEL_SEED=%d replays it)", seed, seed)
	w := newWorld(t, seed)
	w.settle()
	for _, a := range w.acd.Agents[:4] {
		if err := w.nodes[0].n.SetState(t.Context(), a.ID, "login", ""); err != nil {
			t.Fatal(err)
		}
		w.presence[a.ID] = queue.Available
	}
	start := time.Now()
	var trail []string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d, last steps:\n%s", seed, joinLines(trail))
		}
	})
	for step := range steps {
		w.clk.Advance(time.Duration(1+w.rng.IntN(3)) * time.Second)
		for _, n := range w.nodes {
			if err := n.n.Heartbeat(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		// Deadlines due at the new time first, then the action: the
		// world knows the order the leader saw them in.
		w.settle()
		what := w.act(step)
		trail = append(trail, fmt.Sprintf("%d: %s", step, what))
		if len(trail) > 12 {
			trail = trail[1:]
		}
		w.settle()
		w.checkState()
		if time.Since(start) > 20*time.Second {
			t.Logf("stopped at step %d: time bound", step)
			break
		}
	}
	w.settle()
	w.checkQueues(w.leader().n.Service())
	// The history holds one failed record per lost call.
	for id := range w.expectLost {
		var n int
		w.query(`SELECT count(*) FROM voice_calls WHERE call_id = '`+id+`'`, func(r pgx.Rows) { _ = r.Scan(&n) })
		if n != 1 {
			t.Errorf("lost call %s has %d records; want 1", id, n)
		}
	}
	t.Logf("%d joins, %d calls lost with %d nodes killed, outcomes %v, in %s", w.joins, len(w.expectLost), w.nextID-3, w.reasons,
		time.Since(start).Round(time.Millisecond))
	if len(w.takeovers) > 0 {
		slices.Sort(w.takeovers)
		t.Logf("%d leaders killed (%d successors checked against them); a survivor led (rebuilt from the snapshot) %s to %s later", len(w.takeovers), w.checked,
			w.takeovers[0].Round(time.Microsecond), w.takeovers[len(w.takeovers)-1].Round(time.Microsecond))
	}
}

func joinLines(s []string) string {
	out := ""
	for _, l := range s {
		out += l + "\n"
	}
	return out
}

// exported is what a leader's Service knew just before it was killed,
// less what the death of its node changes (its callers, its agents'
// calls): its successor must know the same once it leads.
type exported struct {
	node    string
	agents  map[string]queue.AgentSnapshot
	entries map[string]queue.EntrySnapshot
	totals  map[string]queue.Totals
	lost    map[string]int // waiting callers of the dead node, by queue: they exit
}

func export(t *testing.T, svc *queue.Service, acd queue.Config, node string, callers map[string]*caller) *exported {
	t.Helper()
	x := &exported{node: node, agents: map[string]queue.AgentSnapshot{}, entries: map[string]queue.EntrySnapshot{},
		totals: map[string]queue.Totals{}, lost: map[string]int{}}
	skip := map[string]bool{} // agents bridged with the dead node's calls: hung up at the takeover
	for _, c := range callers {
		switch {
		case c.node == node && c.state == "bridged":
			skip[c.agent] = true
		case c.node == node && c.state == "waiting":
			x.lost[c.queue]++
		case c.state == "waiting":
			st, err := svc.ExportEntry(c.id)
			if err != nil {
				t.Fatalf("export %s: %v", c.id, err)
			}
			x.entries[c.id] = st
		}
	}
	for _, a := range acd.Agents {
		if skip[a.ID] {
			continue
		}
		st, err := svc.ExportAgent(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		x.agents[a.ID] = st
	}
	for q := range acd.Queues {
		st, _ := svc.Stats().Queue(q, acd.Now())
		x.totals[q] = st.Totals
	}
	return x
}

// checkTakeover compares the new leader with the one killed: agents
// (presence, membership, misses, calls, idle and state times, calls and
// wrap-ups), callers (real join times, RONA's tried agents) and figures.
func (w *world) checkTakeover(svc *queue.Service) {
	w.t.Helper()
	x := w.prev
	w.prev = nil
	w.checked++
	for id, want := range x.agents {
		got, err := svc.ExportAgent(id)
		if err != nil {
			w.t.Fatal(err)
		}
		if got.StateSince.IsZero() || want.StateSince.IsZero() { // ringing before or after: a new state
			got.StateSince, want.StateSince = time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(got, want) {
			w.t.Fatalf("after the takeover agent %s is\n%+v\nthe killed leader had\n%+v", id, got, want)
		}
	}
	for id, want := range x.entries {
		got, err := svc.ExportEntry(id)
		if err != nil {
			w.t.Fatalf("after the takeover caller %s: %v", id, err)
		}
		// Offers after the takeover end in no miss before the clock moves.
		if !reflect.DeepEqual(got, want) {
			w.t.Fatalf("after the takeover caller %s is %+v; the killed leader had %+v", id, got, want)
		}
	}
	for q, want := range x.totals {
		want.Exited += x.lost[q]
		want.Waiting -= x.lost[q]
		if st, _ := svc.Stats().Queue(q, w.clk.Now()); st.Totals != want {
			w.t.Fatalf("after the takeover %s totals %+v; the killed leader had %+v (and %d callers lost)", q, st.Totals, x.totals[q], x.lost[q])
		}
	}
}

// checkQueues compares the leader's queues as the wallboard and the
// announcements read them (Service.Queue, Positions, Agents) with the
// world's: each queue's waiting callers in service order (priority, then
// the original join time), ringing or not, waited since their real join;
// each caller's position; each agent's presence and free or busy state
// (ringing for the world's offer, on the world's call, in wrap-up, idle).
func (w *world) checkQueues(svc *queue.Service) {
	w.t.Helper()
	now := w.clk.Now()
	pos := svc.Positions()
	for q := range w.acd.Queues {
		var want []*caller
		for _, c := range w.callers {
			if c.queue == q && c.state == "waiting" {
				want = append(want, c)
			}
		}
		slices.SortFunc(want, func(a, b *caller) int {
			switch {
			case before(a, b):
				return -1
			case before(b, a):
				return 1
			}
			return 0
		})
		v, err := svc.Queue(q)
		if err != nil {
			w.t.Fatal(err)
		}
		line := func() string {
			s := ""
			for _, c := range want {
				s += fmt.Sprintf("\n  %s %s placed %s offer %q", c.id, c.tier, c.placed.Format("15:04:05"), c.offer)
			}
			s += "\n the leader's:"
			for _, c := range v.Callers {
				s += fmt.Sprintf("\n  %s %s waited %.0f s ringing %v", c.CallID, c.Tier, c.WaitedSeconds, c.Ringing)
			}
			return s
		}
		if len(v.Callers) != len(want) {
			w.t.Fatalf("%s: the leader lists %d callers; the world waits with %d:%s", q, len(v.Callers), len(want), line())
		}
		for i, c := range want {
			got := v.Callers[i]
			if got.CallID != c.id || got.Tier != c.tier || got.Ringing != (c.offer != "") || got.WaitedSeconds != now.Sub(c.placed).Seconds() {
				w.t.Fatalf("%s: the leader's caller %d is %+v; the world's order:%s", q, i+1, got, line())
			}
			// A position is never raised (a VIP overtaking), so it is at
			// most the place in the line.
			if p, ok := pos[c.id]; !ok || p.Position < 1 || p.Position > i+1 {
				w.t.Fatalf("%s: caller %s at place %d has position %+v (listed %v)", q, c.id, i+1, p, ok)
			}
		}
	}
	for _, a := range svc.Agents() {
		want := queue.Idle
		switch {
		case w.agentCall[a.ID] != "":
			want = queue.OnCall
		case w.agentOffer[a.ID] != "":
			want = queue.Ringing
		case now.Before(w.wrapEnd[a.ID]):
			want = queue.WrapUp
		}
		call := w.agentCall[a.ID]
		if off := w.agentOffer[a.ID]; off != "" {
			call = w.offers[off].id
		}
		if a.Presence != w.presence[a.ID] || a.Activity != want || (want != queue.WrapUp && a.CallID != call) {
			w.t.Fatalf("agent %s is %s (%s), %s (call %q); the world has it %s, %s (call %q)", a.ID, a.Presence, a.Reason, a.Activity, a.CallID,
				w.presence[a.ID], want, call)
		}
	}
}
