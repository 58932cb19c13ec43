package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/dialer"
	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/store"
)

// Callbacks dialled by any live node (docs/cluster.md, "Callbacks in a
// cluster"). The leader's term scheduler decides when and which callback
// is due, as before; its adapter picks the node that places the call
// (spreadDialer.pick: the least loaded live node that does not drain), the
// scheduler claims the attempt for that node ("<node>/dial/<uuid>"), and
// the term's Dialer hands the call to it through the node's outbox
// (Node.Assign). The node's request-side scheduler places it with its own
// dialler (placer: the customer rejoins through that node's Desk, so the
// media and the bridge to the agent are that node's) and records the end
// itself, then sends a callback command: the leader's Load releases the
// term's wait, and the scheduler reads the callback back (Result.Elsewhere).

// pickTimeout bounds the read of the live nodes for one pick; past it
// the leader places the call itself.
const pickTimeout = 2 * time.Second

// spreadDialer is a lead term's Dialer: local places the calls the leader
// kept, the others go to their node (cluster.Dials) and are waited for.
type spreadDialer struct {
	c     *clusterCallbacks
	local callback.Dialer
	dials *cluster.Dials
	sched *callback.Scheduler // the term's (set once built)
}

func newSpreadDialer(c *clusterCallbacks, epoch int64, local callback.Dialer) *spreadDialer {
	return &spreadDialer{c: c, local: local, dials: cluster.NewDials(c.node, epoch)}
}

// pick is the node the next customer-first call goes to: the leader
// itself when the nodes could not be read or all drain. Agent-first calls
// are not picked: they stay on the leader, whose ringer has the agent leg.
func (x *spreadDialer) pick() string {
	ctx, cancel := context.WithTimeout(context.Background(), pickTimeout)
	defer cancel()
	n, err := x.dials.Pick(ctx)
	if err != nil {
		x.c.log.Warn("cluster: live nodes not read; the leader places the callback's call", "err", err)
	}
	return n
}

func (x *spreadDialer) unpick(node string) { x.dials.Unpick(node) }

// Dial implements callback.Dialer.
func (x *spreadDialer) Dial(ctx context.Context, r callback.DialRequest, p callback.Progress) callback.Result {
	if r.Node == "" {
		if r.Mode != store.CallbackAgentFirst { // picked: the leader itself
			defer x.dials.Unpick(x.c.node.ID())
		}
		return x.local.Dial(ctx, r, p)
	}
	body, err := json.Marshal(r)
	if err != nil { // plain fields: cannot happen
		x.dials.Unpick(r.Node)
		return callback.Result{Result: store.AttemptTrunkFailed, Reason: "assignment not encoded: " + err.Error()}
	}
	x.c.log.Info("cluster: callback's call assigned", "callback", r.CallbackID, "attempt", r.Attempt, "node", r.Node,
		"claimed_by", r.Claim)
	if _, err := x.dials.Place(ctx, r.Node, r.CallbackID, body); err != nil {
		// Declared lost between the pick and the claim: its claims were
		// recovered before this one was made. Recover again (idempotent)
		// before the scheduler reads the callback back.
		x.c.log.Warn("cluster: the node picked for a callback's call was lost meanwhile; recovering its claim", "callback", r.CallbackID,
			"node", r.Node, "err", err)
		if _, err := x.sched.RecoverNode(ctx, r.Node); err != nil {
			x.c.log.Warn("cluster: the claim for a lost node was not recovered; the next leader does it", "callback", r.CallbackID, "err", err)
		}
	}
	return callback.Result{Elsewhere: true}
}

// placer is the dialler of the calls the leader assigns to this node:
// the customer rejoins through this node's Desk (its enqueuer).
func (c *clusterCallbacks) placer() (callback.Dialer, error) {
	a := c.a
	cb := newCallbackACD(a.log)
	cb.enqueuer = a.acd.enqueuer
	return dialer.New(dialer.Config{
		Client: a.acd.client, Policy: a.policy, Prompts: a.prompts, Logger: a.log,
		Connector: callbackConnector{cb}, Agents: callbackAgents{cb}, Zone: queueZones(a),
	})
}

// dial is cluster.Config.Dial: a call the leader assigned to this node,
// placed by the request-side scheduler (on the Step goroutine: it does
// not block).
func (c *clusterCallbacks) dial(body json.RawMessage) {
	var r callback.DialRequest
	if err := json.Unmarshal(body, &r); err != nil {
		c.log.Error("cluster: a callback assignment does not decode; its claim is given back when this node restarts", "err", err)
		return
	}
	if r.Node != c.node.ID() {
		c.log.Error("cluster: a callback assignment for another node", "callback", r.CallbackID, "node", r.Node)
		return
	}
	c.placeOnce.Do(func() { c.placed, c.placeErr = c.placer() })
	if c.placeErr != nil {
		c.log.Error("cluster: no dialler for a callback assignment; its claim is given back when this node restarts",
			"callback", r.CallbackID, "err", c.placeErr)
		return
	}
	c.a.callbacks.PlaceAssigned(r, c.placed)
}

// load returns this node's load for its heartbeat: its SIP calls and the
// callback calls it places, and whether it drains.
func (c *clusterCallbacks) loadNow() (int, bool) {
	n := 0
	if c.a.sip != nil {
		n = c.a.sip.ActiveCalls()
	}
	if c.a.callbacks != nil {
		n += c.a.callbacks.Placing()
	}
	return n, c.a.stopping.Load()
}
