package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// Callbacks dialled by any live node (docs/cluster.md, "Callbacks in a
// cluster"), with real nodes on one PostgreSQL schema and real callback
// schedulers: each node runs a request-side scheduler (Remote) that places
// the calls assigned to it (PlaceAssigned), and the leader's lead term runs
// the scheduler, picks the node (cluster.Dials) and waits for its end. The
// wiring is app/cluster_callbacks.go's and app/cluster_dial.go's; the
// dialler of each node is a fake that records what it placed.

// cbNode is one node of the harness.
type cbNode struct {
	t      *testing.T
	id     string
	node   *cluster.Node
	db     store.Store
	req    *callback.Scheduler
	placed *callbacktest.Dialer // the calls this node placed

	calls    atomic.Int64 // the load its heartbeat reports
	draining atomic.Bool
	// noAssign: as leader, claim for other nodes but never send the
	// assignment (a lead lost between the claim and the commit).
	noAssign atomic.Bool

	mu   sync.Mutex
	term *cbLeadTerm

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// dialNowACD is a callback.ACD that dials each callback as it is offered
// (every agent free).
type dialNowACD func(w callback.Waiting)

func (f dialNowACD) Offer(w callback.Waiting)         { f(w) }
func (dialNowACD) Withdraw(string, int64)             {}
func (dialNowACD) Position(string, int64) (int, bool) { return 0, false }

// cbLeadTerm is a lead term's scheduler and dispatch.
type cbLeadTerm struct {
	sched *callback.Scheduler
	dials *cluster.Dials
	run   chan struct{}
}

func cbQueues() map[string]config.Queue {
	cb := config.QueueCallback{Enabled: true, MaxAttempts: 3}
	return map[string]config.Queue{"technical": {Callback: cb.WithDefaults()}}
}

func cbPolicy(t *testing.T) *outbound.Policy {
	p, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+849*"}}, DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var cbUnlimited = config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}

// startCallbackNodes starts nodes ids (the first leads) on url; calls
// gives each one's initial heartbeat load.
func startCallbackNodes(t *testing.T, url string, ids []string, calls map[string]int, draining map[string]bool) []*cbNode {
	t.Helper()
	var out []*cbNode
	for i, id := range ids {
		n := startCallbackNode(t, url, id, calls[id], draining[id])
		out = append(out, n)
		if i == 0 {
			waitFor(t, 20*time.Second, id+" leads", func() bool { return n.leading() })
		}
	}
	// Every heartbeat carries its load before anything is due.
	probe := openCluster(t, url)
	waitFor(t, 20*time.Second, "the nodes' heartbeats", func() bool {
		live, err := probe.LiveNodes(t.Context(), 10*time.Second)
		if err != nil || len(live) != len(ids) {
			return false
		}
		for _, l := range live {
			if l.Calls != calls[l.ID] || l.Draining != draining[l.ID] {
				return false
			}
		}
		return true
	})
	return out
}

func openCluster(t *testing.T, url string) *postgres.Cluster {
	t.Helper()
	db, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func startCallbackNode(t *testing.T, url, id string, calls int, draining bool) *cbNode {
	t.Helper()
	ctx := context.Background()
	db, err := storeopen.Open(ctx, url, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	n := &cbNode{t: t, id: id, db: db, placed: callbacktest.NewDialer(100), done: make(chan struct{})}
	n.calls.Store(int64(calls))
	n.draining.Store(draining)
	n.node, err = cluster.New(cluster.Config{ID: id, DB: openCluster(t, url),
		ACD: queueConfigForCallbacks(),
		// Expiries of 4 s (40 heartbeats): with 2 s a node starved under
		// -race on a loaded machine could be declared lost while it lived
		// and its call dialled again, the likely cause of one "2 attempts"
		// failure of TestClusterCallbackLeaderChangeMidDial at load ~10.
		NodeExpiry: 4 * time.Second, Heartbeat: 100 * time.Millisecond, LeadEvery: 50 * time.Millisecond, LeaderExpiry: 4 * time.Second,
		Leading: n.leadingHook, NodeLost: n.nodeLost, Callback: n.load,
		Load: func() (int, bool) { return int(n.calls.Load()), n.draining.Load() },
		Dial: n.dial,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.req, err = callback.New(callback.Config{Store: db.(store.Callbacks), Queues: cbQueues(), Policy: cbPolicy(t), Limits: cbUnlimited,
		Node: id, Remote: func(ctx context.Context, cbID int64) error { return n.node.Callback(ctx, cbID) },
		Rescan: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	reqDone := make(chan struct{})
	go func() {
		defer close(n.done)
		defer func() { <-reqDone }()
		go func() {
			defer close(reqDone)
			_ = n.req.Run(rctx) // its sweep of the claims made for it
		}()
		_ = n.node.Run(rctx)
	}()
	t.Cleanup(n.stop)
	return n
}

func queueConfigForCallbacks() queue.Config {
	return queue.Config{Queues: map[string]config.Queue{"technical": {RingTimeout: time.Minute}}}
}

// stop ends the node: its Run (the lead given up), then its schedulers.
func (n *cbNode) stop() { n.stopOnce.Do(n.stopNow) }

func (n *cbNode) stopNow() {
	n.cancel()
	<-n.done
	_ = n.req.Close()
	n.mu.Lock()
	term := n.term
	n.mu.Unlock()
	if term != nil {
		_ = term.sched.Close()
		<-term.run
	}
	_ = n.db.Close()
}

// die is a crash: the node's store goes first (nothing of its end is
// written), then its Run and its schedulers stop.
func (n *cbNode) die() {
	_ = n.db.Close()
	n.stop()
}

func (n *cbNode) leading() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.term != nil
}

func (n *cbNode) current() *cbLeadTerm {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.term
}

// leadingHook builds or closes the lead term, as clusterCallbacks.leading.
func (n *cbNode) leadingHook(lead bool) {
	n.mu.Lock()
	old := n.term
	n.term = nil
	n.mu.Unlock()
	if old != nil {
		go func() { _ = old.sched.Close() }()
	}
	if !lead {
		return
	}
	term := &cbLeadTerm{dials: cluster.NewDials(n.node, n.node.Epoch()), run: make(chan struct{})}
	acd := dialNowACD(func(w callback.Waiting) {
		go func() { // the adapter's dial, off the scheduler's goroutine
			node, err := term.dials.Pick(context.Background())
			if err != nil {
				n.t.Errorf("%s: pick: %v", n.id, err)
			}
			if err := term.sched.Dial(context.Background(), w.ID, callback.Go{FreeAgents: 100, Node: node}); err != nil {
				term.dials.Unpick(node)
			}
		}()
	})
	dialer := callback.DialerFunc(func(ctx context.Context, r callback.DialRequest, p callback.Progress) callback.Result {
		if r.Node == "" {
			defer term.dials.Unpick(n.id)
			return n.placed.Dial(ctx, r, p)
		}
		if n.noAssign.Load() {
			<-ctx.Done()
			return callback.Result{Elsewhere: true}
		}
		body, _ := json.Marshal(r)
		term.dials.Place(ctx, r.Node, r.CallbackID, body)
		return callback.Result{Elsewhere: true}
	})
	s, err := callback.New(callback.Config{Store: n.db.(store.Callbacks), Queues: cbQueues(), Policy: cbPolicy(n.t), Limits: cbUnlimited,
		ACD: acd, Dialer: dialer, Node: n.id, Boot: "term/" + uuid.NewString(), Own: n.id + "/term/", RecoveryReason: "node-lost"})
	if err != nil {
		n.t.Errorf("%s: scheduler: %v", n.id, err)
		return
	}
	term.sched = s
	go func() {
		defer close(term.run)
		_ = s.Run(context.Background())
	}()
	n.mu.Lock()
	n.term = term
	n.mu.Unlock()
}

func (n *cbNode) nodeLost(node string) {
	term := n.current()
	if term == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := term.sched.RecoverNode(ctx, node); err == nil {
			term.dials.Lost(node)
		}
	}()
}

func (n *cbNode) load(id int64) {
	if term := n.current(); term != nil {
		term.dials.Ended(id)
		term.sched.Load(id)
	}
}

func (n *cbNode) dial(body json.RawMessage) {
	var r callback.DialRequest
	if err := json.Unmarshal(body, &r); err != nil || r.Node != n.id {
		n.t.Errorf("%s: assignment %s: %v", n.id, body, err)
		return
	}
	n.req.PlaceAssigned(r, n.placed)
}

// request asks for k callbacks through node n's request side.
func requestCallbacks(t *testing.T, n *cbNode, k int) []callback.Callback {
	t.Helper()
	var out []callback.Callback
	for i := range k {
		cb, err := n.req.Request(t.Context(), callback.Request{Source: store.SourceVirtualHold, Queue: "technical",
			Number: fmt.Sprintf("+8491230%04d", i+1), Caller: fmt.Sprintf("+8491230%04d", i+1),
			JoinedAt: time.Now().Add(-time.Minute), CallID: fmt.Sprintf("spread-%d", i+1), FromTag: "ft"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cb)
	}
	return out
}

// takeCalls takes k placed calls from the nodes, by node.
func takeCalls(t *testing.T, nodes []*cbNode, k int) map[string][]*callbacktest.Call {
	t.Helper()
	got := map[string][]*callbacktest.Call{}
	timeout := time.After(30 * time.Second)
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timeout)}}
	for _, n := range nodes {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.placed.Calls)})
	}
	for taken := 0; taken < k; taken++ {
		i, v, _ := reflect.Select(cases)
		if i == 0 {
			t.Fatalf("%d calls placed of %d: %v", taken, k, got)
		}
		got[nodes[i-1].id] = append(got[nodes[i-1].id], v.Interface().(*callbacktest.Call))
	}
	return got
}

// dialled is how many calls the nodes placed in all.
func dialled(nodes ...*cbNode) int {
	k := 0
	for _, n := range nodes {
		k += len(n.placed.Dialled())
	}
	return k
}

// waitFor polls ok until it holds (bounded: d).
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded
	}
}

// waitRow polls callback id's row until ok (bounded).
func waitRow(t *testing.T, db store.Store, id int64, what string, ok func(*store.Callback) bool) *store.Callback {
	t.Helper()
	var row *store.Callback
	waitFor(t, 30*time.Second, what, func() bool {
		var err error
		row, err = db.(store.Callbacks).GetCallback(t.Context(), id)
		return err == nil && ok(row)
	})
	return row
}

// TestClusterCallbacksSpreadOverNodes: six due callbacks on three idle
// nodes are placed two by each (the leader first on equal load, then the
// others in turn: the calls given and not over count), each claimed for
// the node that placed it, and each call's end, recorded by its node,
// completes the callback on the leader.
func TestClusterCallbacksSpreadOverNodes(t *testing.T) {
	url := pgtest.Schema(t)
	nodes := startCallbackNodes(t, url, []string{"n1", "n2", "n3"}, nil, nil)
	cbs := requestCallbacks(t, nodes[1], 6)
	got := takeCalls(t, nodes, 6)
	for _, n := range nodes {
		if len(got[n.id]) != 2 {
			t.Fatalf("placed by node: n1 %d, n2 %d, n3 %d; want 2 each", len(got["n1"]), len(got["n2"]), len(got["n3"]))
		}
	}
	for id, calls := range got {
		for _, c := range calls {
			row, err := nodes[0].db.(store.Callbacks).GetCallback(t.Context(), c.Req.CallbackID)
			if err != nil {
				t.Fatal(err)
			}
			want := id + "/term/"
			if id != "n1" {
				want = id + "/dial/"
			}
			if len(row.ClaimedBy) < len(want) || row.ClaimedBy[:len(want)] != want {
				t.Fatalf("callback %d placed by %s is claimed by %q", c.Req.CallbackID, id, row.ClaimedBy)
			}
			c.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
		}
	}
	for _, cb := range cbs {
		waitRow(t, nodes[0].db, cb.ID, "completed", func(r *store.Callback) bool { return r.State == store.CallbackCompleted })
	}
	if k := dialled(nodes...); k != 6 {
		t.Fatalf("%d calls placed, want 6", k)
	}
}

// TestClusterCallbacksSkipDrainingNode: a node whose heartbeat says it
// drains is given no callback: four calls go two and two to the others.
func TestClusterCallbacksSkipDrainingNode(t *testing.T) {
	url := pgtest.Schema(t)
	nodes := startCallbackNodes(t, url, []string{"n1", "n2", "n3"}, nil, map[string]bool{"n3": true})
	requestCallbacks(t, nodes[1], 4)
	got := takeCalls(t, nodes, 4)
	if len(got["n1"]) != 2 || len(got["n2"]) != 2 || len(got["n3"]) != 0 {
		t.Fatalf("placed by node: n1 %d, n2 %d, n3 %d (draining); want 2, 2, 0", len(got["n1"]), len(got["n2"]), len(got["n3"]))
	}
	for _, calls := range got {
		for _, c := range calls {
			c.End(callback.Result{Result: store.AttemptCompleted})
		}
	}
}

// TestClusterCallbackNodeDiesMidDial: the node placing a callback's call
// dies while the customer's phone rings. Once it is declared lost, the
// leader recovers its claim (interrupted, node-lost) and the callback is
// placed once more, by another node (the least loaded live one), and only
// once: two attempts in all.
func TestClusterCallbackNodeDiesMidDial(t *testing.T) {
	url := pgtest.Schema(t)
	// n2 is the least loaded, then n3, then the leader.
	nodes := startCallbackNodes(t, url, []string{"n1", "n2", "n3"}, map[string]int{"n1": 5, "n3": 1}, nil)
	cb := requestCallbacks(t, nodes[2], 1)[0]
	first := takeCalls(t, nodes, 1)
	if len(first["n2"]) != 1 {
		t.Fatalf("the first call was placed by %v, want n2", first)
	}
	nodes[1].die()
	again := takeCalls(t, []*cbNode{nodes[0], nodes[2]}, 1)
	if len(again["n3"]) != 1 {
		t.Fatalf("the retry was placed by %v, want n3", again)
	}
	c := again["n3"][0]
	if c.Req.Attempt != 2 || c.Req.CallID == first["n2"][0].Req.CallID {
		t.Fatalf("the retry: %+v", c.Req)
	}
	c.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
	row := waitRow(t, nodes[0].db, cb.ID, "completed", func(r *store.Callback) bool { return r.State == store.CallbackCompleted })
	if len(row.Calls) != 2 || row.Calls[0].Result != store.AttemptInterrupted || row.Calls[0].Reason != "node-lost" ||
		row.Calls[1].Result != store.AttemptCompleted || row.Interrupted != 1 {
		t.Fatalf("attempt rows: %+v (interrupted %d)", row.Calls, row.Interrupted)
	}
	if k := dialled(nodes...); k != 2 {
		t.Fatalf("%d calls placed in all, want 2", k)
	}
}

// TestClusterCallbackLeaderChangeMidDial: the leader dies while n2 places
// a callback's call. The call stays up on n2; n2 takes the lead, and its
// term's scheduler leaves its own node's placed call alone (it recovers
// only "n2/term/" claims), also once the old leader is declared lost;
// when the call ends n2 records it and the callback completes: one dial,
// one attempt.
func TestClusterCallbackLeaderChangeMidDial(t *testing.T) {
	url := pgtest.Schema(t)
	nodes := startCallbackNodes(t, url, []string{"n1", "n2"}, map[string]int{"n1": 5}, nil)
	cb := requestCallbacks(t, nodes[1], 1)[0]
	first := takeCalls(t, nodes, 1)
	if len(first["n2"]) != 1 {
		t.Fatalf("the call was placed by %v, want n2", first)
	}
	nodes[0].die()
	probe := openCluster(t, url)
	waitFor(t, 30*time.Second, "a new leader and n1 declared lost", func() bool {
		live, err := probe.LiveNodes(t.Context(), time.Hour)
		if err != nil {
			return false
		}
		for _, l := range live {
			if l.ID == "n1" {
				return false
			}
		}
		return nodes[1].leading()
	})
	// The old leader's loss was handled (NodeLost told on the new leader);
	// the claim is still n2's and its call up.
	row := waitRow(t, nodes[1].db, cb.ID, "still dialling", func(r *store.Callback) bool { return r.State == store.CallbackDialling })
	if len(row.Calls) != 1 || row.ClaimedBy[:len("n2/dial/")] != "n2/dial/" {
		t.Fatalf("after the leader change: claimed by %q, %d attempts", row.ClaimedBy, len(row.Calls))
	}
	select {
	case <-first["n2"][0].Done():
		t.Fatal("the call on n2 was hung up by the leader change")
	default:
	}
	first["n2"][0].End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
	row = waitRow(t, nodes[1].db, cb.ID, "completed", func(r *store.Callback) bool { return r.State == store.CallbackCompleted })
	if len(row.Calls) != 1 {
		t.Fatalf("attempt rows: %+v", row.Calls)
	}
	if k := dialled(nodes...); k != 1 {
		t.Fatalf("%d calls placed in all, want 1", k)
	}
}

// TestClusterCallbackAssignmentLostWithTheLead: the leader claims a
// callback's call for n2 and loses the lead before the assignment is
// written (its outbox item goes with the epoch's commit). n2 never gets
// the call; its sweep finds the claim made for it that it is not placing,
// twice, gives it back (no call was placed: not counted as interrupted)
// and tells the new leader, which dials it: one call in all.
func TestClusterCallbackAssignmentLostWithTheLead(t *testing.T) {
	url := pgtest.Schema(t)
	nodes := startCallbackNodes(t, url, []string{"n1", "n2"}, map[string]int{"n1": 5}, nil)
	nodes[0].noAssign.Store(true)
	cb := requestCallbacks(t, nodes[1], 1)[0]
	waitRow(t, nodes[1].db, cb.ID, "claimed for n2", func(r *store.Callback) bool {
		return r.State == store.CallbackDialling && len(r.ClaimedBy) > len("n2/dial/") && r.ClaimedBy[:len("n2/dial/")] == "n2/dial/"
	})
	nodes[0].die()
	got := takeCalls(t, nodes[1:], 1)
	c := got["n2"][0]
	if c.Req.Attempt != 2 || c.Req.Node != "" || c.Req.MaxAttempts != 4 { // given back: one attempt more allowed
		t.Fatalf("the call after the give-back: %+v", c.Req)
	}
	c.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
	row := waitRow(t, nodes[1].db, cb.ID, "completed", func(r *store.Callback) bool { return r.State == store.CallbackCompleted })
	if len(row.Calls) != 2 || row.Calls[0].Reason != "assignment lost" || row.Interrupted != 0 || row.Calls[1].Result != store.AttemptCompleted {
		t.Fatalf("attempt rows: %+v (interrupted %d)", row.Calls, row.Interrupted)
	}
	if k := dialled(nodes...); k != 1 {
		t.Fatalf("%d calls placed in all, want 1", k)
	}
}
