package e2e

import (
	"fmt"
	neturl "net/url"
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
	url := pgtest.Schema(t)
	line := phonetest.New(t, 26000, 26498, 660)
	phone := phonetest.New(t, 26500, 26998, 440, 660)
	a := start(t, clusterCallbackNode(url, "a", 20000, line, 1, time.Second))
	waitLeader(t, url, "a", 10*time.Second, nil)
	b := start(t, clusterCallbackNode(url, "b", 23000, line, 1, time.Second))
	ctx := within(t, 60*time.Second)
	status, err := phone.Register(ctx, b.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x at node b: %d", status)
	}
	waitBinding(t, url, "x", phone.URI("x"), 5*time.Second)
	if code, _, body := apiDo(t, b, "POST", "/api/v1/agents/x/state", `{"state":"login"}`); code != 200 {
		t.Fatalf("login x through node b: %d %s", code, body)
	}

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
	url := pgtest.Schema(t)
	line := phonetest.New(t, 26000, 26498, 660)
	phone := phonetest.New(t, 26500, 26998, 440) // before the nodes: its socket serves before it registers
	line.Plan(phonetest.Reject(486))             // busy: with one attempt the callback ends failed, dialled once
	u, err := neturl.Parse(url)
	must(t, err)
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()
	a := start(t, clusterCallbackNode(viaProxy.String(), "a", 20000, line, 1, time.Second))
	waitLeader(t, url, "a", 10*time.Second, nil)
	b := start(t, clusterCallbackNode(url, "b", 23000, line, 1, time.Second))
	ctx := within(t, 60*time.Second)
	status, err := phone.Register(ctx, b.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x at node b: %d", status)
	}
	waitBinding(t, url, "x", phone.URI("x"), 5*time.Second)
	// x logged in but paused: the callback waits in line at the leader.
	apiPost(t, b, "/api/v1/agents/x/state", `{"state":"login"}`)
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
	url := pgtest.Schema(t)
	line := phonetest.New(t, 26000, 26498, 660)
	phone := phonetest.New(t, 26500, 26998, 440) // before the nodes: its socket serves before it registers
	line.Plan(phonetest.Ring, phonetest.Reject(486))
	u, err := neturl.Parse(url)
	must(t, err)
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()
	start(t, clusterCallbackNode(viaProxy.String(), "a", 20000, line, 1, 30*time.Second))
	waitLeader(t, url, "a", 10*time.Second, nil)
	b := start(t, clusterCallbackNode(url, "b", 23000, line, 1, 30*time.Second))
	ctx := within(t, 60*time.Second)
	status, err := phone.Register(ctx, b.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x at node b: %d", status)
	}
	waitBinding(t, url, "x", phone.URI("x"), 5*time.Second)
	apiPost(t, b, "/api/v1/agents/x/state", `{"state":"login"}`)
	cb := requestCallback(t, b, "0912 345 678", "technical")
	first := line.NextInvite(t, within(t, 30*time.Second)) // ringing, dialled by a
	proxy.Cut()
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
	url := pgtest.Schema(t)
	line := phonetest.New(t, 26000, 26498, 660)
	phone := phonetest.New(t, 26500, 26998, 440) // before the nodes: its socket serves before it registers
	line.Plan(phonetest.Ring, phonetest.Reject(486))
	u, err := neturl.Parse(url)
	must(t, err)
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()
	slow := func(c *config.Config) { c.Cluster.NodeTimeout = 20 * time.Second } // the restart comes well within it
	node := func(url, id string, portMin int) func(*config.Config) {
		return func(c *config.Config) {
			clusterCallbackNode(url, id, portMin, line, 1, 30*time.Second)(c)
			slow(c)
		}
	}
	start(t, node(viaProxy.String(), "a", 20000))
	waitLeader(t, url, "a", 10*time.Second, nil)
	b := start(t, node(url, "b", 23000))
	ctx := within(t, 60*time.Second)
	status, err := phone.Register(ctx, b.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x at node b: %d", status)
	}
	waitBinding(t, url, "x", phone.URI("x"), 5*time.Second)
	apiPost(t, b, "/api/v1/agents/x/state", `{"state":"login"}`)
	cb := requestCallback(t, b, "0912 345 678", "technical")
	first := line.NextInvite(t, within(t, 30*time.Second)) // ringing, dialled by a
	proxy.Cut()                                            // a's process is gone for the database
	waitLeader(t, url, "b", 10*time.Second, nil)
	// b leaves a's claim alone: a is not declared lost (and may be alive).
	if c := getCallback(t, b, cb.ID); len(c.Calls) != 1 || c.Calls[0].Result != "" {
		t.Fatalf("after the cut: calls %+v, want a's one call still open", c.Calls)
	}
	// a comes back as a new process (another data directory, the same ID).
	start(t, node(url, "a", 20000))
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
	url := pgtest.Schema(t)
	line := phonetest.New(t, 26000, 26498, 660)
	phone := phonetest.New(t, 26500, 26998, 440, 660)
	agentFirst := func(id string, portMin int) func(*config.Config) {
		return func(c *config.Config) {
			clusterCallbackNode(url, id, portMin, line, 1, 30*time.Second)(c)
			q := c.Queues["technical"]
			q.Callback.Mode = config.CallbackAgentFirst
			c.Queues["technical"] = q
		}
	}
	a := start(t, agentFirst("a", 20000))
	waitLeader(t, url, "a", 10*time.Second, nil)
	b := start(t, agentFirst("b", 23000))
	ctx := within(t, 60*time.Second)
	status, err := phone.Register(ctx, b.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x at node b: %d", status)
	}
	waitBinding(t, url, "x", phone.URI("x"), 5*time.Second)
	apiPost(t, b, "/api/v1/agents/x/state", `{"state":"login"}`)
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
