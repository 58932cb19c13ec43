package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// Callbacks in a cluster (docs/cluster.md, "Callbacks in a cluster"): the
// scheduler runs on the leader, which dials; requests on any node reach it
// through the store and a callback command. RTP ports of these tests:
// nodes 20000-25998, the customer's line 26000-26498, the agent's phone
// 26500-26998 (below the kernel's ephemeral range and apart from every
// package's testports range, which sipp and baresip take after a probe).

// clusterCallbackNode is clusterNode with technical's callbacks on (fast
// retries, attempts as given) and the customer's line as the trunk.
func clusterCallbackNode(url, id string, portMin int, line *phonetest.Phone, attempts int, ring time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		clusterNode(url, id, portMin)(c)
		c.Allow.Numbers = []string{"+849*"}
		c.Trunks = []config.Trunk{{Name: "carrier", Host: line.Addr(), CallerID: "+842838001234", Numbers: []string{"+84*"}, Default: true}}
		fastCallbacks(c, attempts)
		q := c.Queues["technical"]
		q.Callback.RingTimeout = ring
		c.Queues["technical"] = q
	}
}

// cbSetup is how callbackCluster builds its cluster; the zero value is
// two nodes with callbacks on, a ring timeout of 1 s, and no agent.
type cbSetup struct {
	ring   time.Duration        // technical's callback ring timeout; 0: 1 s
	config func(*config.Config) // more configuration, on both nodes, after clusterCallbackNode's
	plan   []phonetest.Action   // the customer's line answers so (set before the nodes start)
	cut    bool                 // node a reaches the database through a cutProxy
	// agent: x's phone (RTP 26500-26998, its voice 440 Hz, listening for
	// listen) registers through node b and x logs in there.
	agent  bool
	listen []float64
}

// cbCluster is a two-node cluster of the callback tests: node a leads,
// node b follows; the customer's line (RTP 26000-26498, 660 Hz) is both
// nodes' trunk.
type cbCluster struct {
	url         string // the schema, directly (node b's, and acd_leader's)
	line, phone *phonetest.Phone
	proxy       *cutProxy // node a's way to the database, when cut
	a, b        *harness
	// node is a node's configuration, to start another one (a restart).
	node func(url, id string, portMin int) func(*config.Config)
}

func callbackCluster(t *testing.T, s cbSetup) *cbCluster {
	t.Helper()
	if s.ring == 0 {
		s.ring = time.Second
	}
	c := &cbCluster{url: pgtest.Schema(t), line: phonetest.New(t, 26000, 26498, 660)}
	if s.agent { // before the nodes: its socket serves before it registers
		c.phone = phonetest.New(t, 26500, 26998, 440, s.listen...)
	}
	if s.plan != nil {
		c.line.Plan(s.plan...)
	}
	c.node = func(url, id string, portMin int) func(*config.Config) {
		return func(cfg *config.Config) {
			clusterCallbackNode(url, id, portMin, c.line, 1, s.ring)(cfg)
			if s.config != nil {
				s.config(cfg)
			}
		}
	}
	aURL := c.url
	if s.cut {
		c.proxy, aURL = viaCutProxy(t, c.url)
	}
	c.a, c.b = startPair(t, c.url, c.node(aURL, "a", 20000), c.node(c.url, "b", 23000))
	if s.agent {
		status, err := c.phone.Register(within(t, 60*time.Second), c.b.sipAddr("udp"), "x", "pw-x", 3600)
		must(t, err)
		if status != 200 {
			t.Fatalf("REGISTER x at node b: %d", status)
		}
		waitBinding(t, c.url, "x", c.phone.URI("x"), 5*time.Second)
		if code, _, body := apiDo(t, c.b, "POST", "/api/v1/agents/x/state", `{"state":"login"}`); code != 200 {
			t.Fatalf("login x through node b: %d %s", code, body)
		}
	}
	return c
}

// getCallback reads a callback through a node's API (the stored row).
func getCallback(t *testing.T, h *harness, id int64) callback.Callback {
	t.Helper()
	var cb callback.Callback
	apiGetJSON(t, h, fmt.Sprintf("/api/v1/callbacks/%d", id), &cb)
	return cb
}

// waitCallback polls a node's API until the callback satisfies ok.
func waitCallback(t *testing.T, h *harness, id int64, d time.Duration, what string, ok func(callback.Callback) bool) callback.Callback {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		cb := getCallback(t, h, id)
		if ok(cb) {
			return cb
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback %d not %s after %s: status %s calls %+v", id, what, d, cb.Status, cb.Calls)
		}
		time.Sleep(50 * time.Millisecond) // polling the API, bounded by d
	}
}

// noMoreInvites fails when the customer's line got another INVITE (the
// ones the test expected have been read with NextInvite).
func noMoreInvites(t *testing.T, line *phonetest.Phone) {
	t.Helper()
	select {
	case inv := <-line.Invites():
		t.Errorf("the customer's line got one more INVITE (Call-ID %s): dialled twice", inv.CallID)
	default:
	}
}

// A callback asked on the follower (node b) is stored there and loaded by
// the leader's scheduler (node a), which claims it and dials the customer
// once; the customer confirms and rejoins the queue through the leader,
// whose ringer reaches agent x on the registration x made through node b
// (the shared bindings). Talk, hang-up: completed, one attempt, claimed by
// node a.
func TestClusterCallbackAskedOnFollowerDialledByLeader(t *testing.T) {
	cc := callbackCluster(t, cbSetup{agent: true, listen: []float64{660}})
	a, b, line, phone := cc.a, cc.b, cc.line, cc.phone

	cb := requestCallback(t, b, "0912 345 678", "technical")
	inv := line.NextInvite(t, within(t, 30*time.Second))
	if inv.User != "+84912345678" || inv.FromUser != "+842838001234" {
		t.Errorf("the trunk got an INVITE to %q from %q", inv.User, inv.FromUser)
	}
	call := line.NextCall(t, within(t, 10*time.Second))
	greeting := listenFor(25)
	call.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the customer heard no greeting")
	}
	call.Press(t, within(t, 5*time.Second), '1')
	xCall := phone.NextCall(t, within(t, 20*time.Second)) // rung by the leader, through b's registration
	xCall.Heard(t, within(t, 10*time.Second), 660, "x hears the customer")
	a.callbackEvent(cb.ID, callback.EventConnected, 20*time.Second)
	call.Hangup(t, within(t, 5*time.Second))
	xCall.WaitEnded(t, within(t, 10*time.Second), "x's leg after the customer hung up")
	a.callbackEvent(cb.ID, callback.EventCompleted, 30*time.Second)

	done := getCallback(t, b, cb.ID)
	if done.Status != callback.Status(store.CallbackCompleted) || len(done.Calls) != 1 {
		t.Fatalf("callback on node b: status %s calls %+v, want completed after one call", done.Status, done.Calls)
	}
	c := done.Calls[0]
	if c.Result != store.AttemptCompleted || c.Agent != "x" || c.CallID != inv.CallID || !strings.HasPrefix(c.ClaimedBy, "a/") {
		t.Errorf("the call: %+v; want completed by x, Call-ID %s, claimed by node a (the leader)", c, inv.CallID)
	}
	noMoreInvites(t, line)
}

// The leader dies (its database connections cut: a partition, as a crash
// is for the survivor) while a callback waits for an agent. Node b takes
// the lead, its scheduler loads the callback from the store, and when x
// gets ready it is dialled once, by b.
func TestClusterCallbackPendingSurvivesLeaderLoss(t *testing.T) {
	// Busy: with one attempt the callback ends failed, dialled once.
	c := callbackCluster(t, cbSetup{agent: true, cut: true, plan: []phonetest.Action{phonetest.Reject(486)}})
	a, b, line, url, proxy := c.a, c.b, c.line, c.url, c.proxy
	// x logged in but paused: the callback waits in line at the leader.
	apiPost(t, b, "/api/v1/agents/x/state", `{"state":"pause","reason":"meeting"}`)
	cb := requestCallback(t, b, "0912 345 678", "technical")
	a.callbackEvent(cb.ID, callback.EventWaiting, 20*time.Second) // in the leader's line
	// The follower's queue view shows the leader's callback figures (the
	// cluster view carries them).
	for deadline := time.Now().Add(10 * time.Second); ; {
		var q struct {
			Callbacks callback.Figures `json:"callbacks"`
		}
		apiGetJSON(t, b, "/api/v1/queues/technical", &q)
		if q.Callbacks.Waiting == 1 && q.Callbacks.Oldest != nil && q.Callbacks.Oldest.ID == cb.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b's technical callbacks %+v; want the one waiting at the leader", q.Callbacks)
		}
		time.Sleep(50 * time.Millisecond) // polling the API, bounded
	}

	proxy.Cut()
	waitLeader(t, url, "b", 10*time.Second, nil)
	b.callbackEvent(cb.ID, callback.EventWaiting, 20*time.Second) // b's scheduler loaded it
	if code, _, body := apiDo(t, b, "POST", "/api/v1/agents/x/state", `{"state":"ready"}`); code != 200 {
		t.Fatalf("x ready through node b: %d %s", code, body)
	}
	inv := line.NextInvite(t, within(t, 30*time.Second))
	done := waitCallback(t, b, cb.ID, 30*time.Second, "failed", func(c callback.Callback) bool {
		return c.Status == callback.Status(store.CallbackFailed)
	})
	if len(done.Calls) != 1 || done.Calls[0].CallID != inv.CallID || done.Calls[0].Result != store.AttemptBusy ||
		!strings.HasPrefix(done.Calls[0].ClaimedBy, "b/") {
		t.Fatalf("calls %+v; want one busy call, claimed by node b", done.Calls)
	}
	noMoreInvites(t, line)
}

// The leader is dialling a callback (the customer's phone rings) when it
// is cut off from the database: the call ends with it, and the attempt's
// end cannot be written. Node b takes the lead but leaves the claim alone
// while node a may still be alive; once it declares a lost, it recovers
// the claim (interrupted, node-lost) and dials the callback once more.
// Two calls in all, the first claimed by a, the second by b.
func TestClusterCallbackDiallerLostRetriedOnce(t *testing.T) {
	c := callbackCluster(t, cbSetup{agent: true, cut: true, ring: 30 * time.Second,
		plan: []phonetest.Action{phonetest.Ring, phonetest.Reject(486)}})
	b, line, url := c.b, c.line, c.url
	cb := requestCallback(t, b, "0912 345 678", "technical")
	first := line.NextInvite(t, within(t, 30*time.Second)) // ringing, dialled by a
	c.proxy.Cut()
	waitLeader(t, url, "b", 10*time.Second, nil)

	second := line.NextInvite(t, within(t, 30*time.Second)) // after b declared a lost
	if second.CallID == first.CallID {
		t.Fatalf("the second INVITE has the first's Call-ID %s", first.CallID)
	}
	done := waitCallback(t, b, cb.ID, 30*time.Second, "failed", func(c callback.Callback) bool {
		return c.Status == callback.Status(store.CallbackFailed)
	})
	if len(done.Calls) != 2 {
		t.Fatalf("calls %+v; want two", done.Calls)
	}
	c1, c2 := done.Calls[0], done.Calls[1]
	if c1.CallID != first.CallID || c1.Result != store.AttemptInterrupted || c1.Reason != "node-lost" || !strings.HasPrefix(c1.ClaimedBy, "a/") {
		t.Errorf("first call %+v; want a's, interrupted, node-lost", c1)
	}
	if c2.CallID != second.CallID || c2.Result != store.AttemptBusy || !strings.HasPrefix(c2.ClaimedBy, "b/") {
		t.Errorf("second call %+v; want b's, busy", c2)
	}
	noMoreInvites(t, line)
}

// The leader is dialling a callback when its process dies, and it comes
// back (same node ID) before node_timeout: it is never declared lost, so
// no RecoverNode takes its claim. The new process gives back its dead
// predecessor's claim at start (interrupted, node-restart) and tells the
// leader (now b), which dials the callback once more.
func TestClusterCallbackRestartedNodeGivesBackItsCall(t *testing.T) {
	c := callbackCluster(t, cbSetup{agent: true, cut: true, ring: 30 * time.Second,
		plan:   []phonetest.Action{phonetest.Ring, phonetest.Reject(486)},
		config: func(c *config.Config) { c.Cluster.NodeTimeout = 20 * time.Second }}) // the restart comes well within it
	b, line, url := c.b, c.line, c.url
	cb := requestCallback(t, b, "0912 345 678", "technical")
	first := line.NextInvite(t, within(t, 30*time.Second)) // ringing, dialled by a
	c.proxy.Cut()                                          // a's process is gone for the database
	waitLeader(t, url, "b", 10*time.Second, nil)
	// b leaves a's claim alone: a is not declared lost (and may be alive).
	if got := getCallback(t, b, cb.ID); len(got.Calls) != 1 || got.Calls[0].Result != "" {
		t.Fatalf("after the cut: calls %+v, want a's one call still open", got.Calls)
	}
	// a comes back as a new process (another data directory, the same ID).
	start(t, c.node(url, "a", 20000))
	second := line.NextInvite(t, within(t, 30*time.Second))
	done := waitCallback(t, b, cb.ID, 30*time.Second, "failed", func(c callback.Callback) bool {
		return c.Status == callback.Status(store.CallbackFailed)
	})
	if len(done.Calls) != 2 {
		t.Fatalf("calls %+v; want two", done.Calls)
	}
	c1, c2 := done.Calls[0], done.Calls[1]
	if c1.CallID != first.CallID || c1.Result != store.AttemptInterrupted || c1.Reason != "node-restart" || !strings.HasPrefix(c1.ClaimedBy, "a/") {
		t.Errorf("first call %+v; want a's, interrupted, node-restart", c1)
	}
	if c2.CallID != second.CallID || c2.Result != store.AttemptBusy || !strings.HasPrefix(c2.ClaimedBy, "b/") {
		t.Errorf("second call %+v; want b's, busy", c2)
	}
	noMoreInvites(t, line)
}

// Agent first in a cluster: the leader's Service rings agent x for the
// callback (an offer whose node is the leader), through the registration
// x made on node b; once x answers, the leader's dialler takes x's leg and
// dials the customer, who confirms and is bridged to x. Completed by x,
// one call, claimed by the leader.
func TestClusterCallbackAgentFirstAgentOnFollower(t *testing.T) {
	c := callbackCluster(t, cbSetup{agent: true, listen: []float64{660}, ring: 30 * time.Second,
		config: func(c *config.Config) {
			q := c.Queues["technical"]
			q.Callback.Mode = config.CallbackAgentFirst
			c.Queues["technical"] = q
		}})
	a, b, line, phone := c.a, c.b, c.line, c.phone
	cb := requestCallback(t, b, "0912 345 678", "technical")

	xCall := phone.NextCall(t, within(t, 30*time.Second)) // the agent first
	inv := line.NextInvite(t, within(t, 30*time.Second))  // then the customer
	call := line.NextCall(t, within(t, 10*time.Second))
	greeting := listenFor(25)
	call.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the customer heard no greeting")
	}
	call.Press(t, within(t, 5*time.Second), '1')
	a.callbackEvent(cb.ID, callback.EventConnected, 20*time.Second)
	xCall.Heard(t, within(t, 10*time.Second), 660, "x hears the customer")
	call.Hangup(t, within(t, 5*time.Second))
	xCall.WaitEnded(t, within(t, 10*time.Second), "x's leg after the customer hung up")
	done := a.callbackEvent(cb.ID, callback.EventCompleted, 30*time.Second).Payload.(callback.Change)
	if done.Agent != "x" {
		t.Errorf("completed %+v, want by x", done)
	}
	got := getCallback(t, b, cb.ID)
	if len(got.Calls) != 1 || got.Calls[0].CallID != inv.CallID || got.Calls[0].Agent != "x" || !strings.HasPrefix(got.Calls[0].ClaimedBy, "a/") {
		t.Errorf("calls %+v; want one, by x, claimed by node a", got.Calls)
	}
	noMoreInvites(t, line)
}
