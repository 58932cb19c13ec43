// Package cluster runs one ACD for several Hotline nodes sharing one
// PostgreSQL (docs/cluster.md). One node, the leader (it holds an advisory
// lock and an epoch), runs the one queue.Service with every ACD rule; every
// node sends its inputs (joins, leaves, keys, hang-ups, offers answered or
// failed, agents' presence) as commands in a table, and acts on what the
// leader writes back to its outbox: ring an agent for one of its callers,
// stop ringing, a caller's outcome, a call lost with a dead node to record.
// The leader consumes commands, keeps the ACD's snapshot and writes the
// outbox in one fenced transaction per batch, so a new leader rebuilds the
// same queues from the snapshot.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
)

// Config builds a Node.
type Config struct {
	// ID names the node cluster-wide (stable across restarts of the same
	// host is fine: Register clears a lost mark). Address is informative.
	ID, Address string
	DB          *postgres.Cluster
	// ACD configures the Service this node runs while it leads (agents,
	// queues, tier boosts, clock, event bus); its Ringer is replaced.
	ACD queue.Config
	// Ringer rings agents for this node's callers (the node with the
	// caller's media places the agent's leg, so the two can be bridged)
	// and reports back with Answered / Failed.
	Ringer queue.Ringer
	// Lost is told, on a surviving node, of each call lost with a dead
	// node (RecordLost writes its record). At least once per call; the
	// store's (Call-ID, From tag) key makes the record exactly once.
	Lost func(LostCall)
	// NodeLost is told, on the node that led when a node was declared
	// lost, the lost node's ID, after the commit that declared it: the
	// callback scheduler takes the dead node's claims then
	// (callback.Scheduler.RecoverNode; docs/cluster.md, "Callbacks in a
	// cluster"). At least once per lost node (an outbox item, deleted only
	// after it was acted on).
	NodeLost func(node string)
	// Leading is told when this node takes the lead (true, after the
	// takeover; NodeLost is then told again of every node already lost,
	// whose claims a dead leader may not have recovered) and when it
	// gives it up (false: a failed commit, StepDown, Kill). Called from
	// the goroutine running Step; the callback scheduler runs on the
	// leader only (docs/cluster.md, "Callbacks in a cluster").
	Leading func(leading bool)
	// Callback is told, on the leader, from the goroutine running Step, the
	// id of each callback a node's Callback command names (a request or a
	// change written to the store by a follower): the leader's callback
	// scheduler loads it (callback.Scheduler.Load). At least once.
	Callback func(id int64)
	// ViewExtra, when set, adds to each view the leader writes (View.Extra
	// on every node): the leader's callback figures. Called on the Step
	// goroutine; it must not block.
	ViewExtra func() json.RawMessage
	// Load, when set, is this node's load for each heartbeat: its active
	// calls and whether it drains. The leader's callback scheduler gives a
	// due callback's call to the least loaded live node that does not
	// drain (PickDialer).
	Load func() (calls int, draining bool)
	// Dial is told, on the node the leader assigned a callback's call to
	// (Assign), the assignment's body, once per assignment (an outbox
	// item): the node places the call (docs/cluster.md, "Callbacks in a
	// cluster"). Called from the goroutine running Step: it must not block.
	Dial func(body json.RawMessage)
	// NodeExpiry is how long a node's heartbeat may be silent before the
	// leader declares it lost; default 10 s. Heartbeat is the interval of
	// Run's heartbeats; default NodeExpiry/4.
	NodeExpiry, Heartbeat time.Duration
	// LeadEvery is how often a follower tries the leader lock (Step
	// skips the attempt in between); default 500 ms, so the failover
	// time is the lock's release plus at most this.
	LeadEvery time.Duration
	// LeaderExpiry is how long a leader may go without committing before
	// a follower ends its session (a hung leader keeps its lock); default
	// 10 s. An idle leader commits an empty batch every LeaderExpiry/4.
	LeaderExpiry time.Duration
	// ExpiryEvery is how often the leader looks for expired nodes;
	// default NodeExpiry/8.
	ExpiryEvery time.Duration
	// ViewEvery is the least time between two writes of the ACD's view
	// (View) while it changes, default 250 ms; ViewMax the most, default
	// 1 s (waits move with time alone); both are stretched to ten times
	// the last view's cost. A View is at most about
	// ViewEvery + its Poll behind the leader, and ViewEvery plus a round
	// trip with notifications.
	ViewEvery, ViewMax time.Duration
	// Fingerprint, when set, is the hash of this node's agents and queues:
	// Register refuses (postgres.ErrFingerprint) when the leader's differs.
	Fingerprint string
	// Batch caps the commands a leader applies per commit; default 1000.
	Batch  int
	Logger *slog.Logger
	// Observe, when set, sees each outbox item before the node acts on
	// it (tracing; the model test checks the decisions' order with it).
	Observe func(postgres.OutItem)

	importing func() // tests: called at each step of a takeover's rebuild (export_test.go)
	// tests: a takeover's long steps beat aside every everyAside and give
	// up after maxAside in all (export_test.go); zero: LeaderExpiry/4 and
	// 6 × LeaderExpiry (beat.go).
	everyAside, maxAside time.Duration
}

// JoinRequest is a caller entering a queue through a node: the queue's
// request plus what a lost call's record needs.
type JoinRequest struct {
	queue.JoinRequest
	FromTag string    `json:"from_tag,omitempty"`
	Called  string    `json:"called,omitempty"`
	Started time.Time `json:"started"` // when the call was answered
}

// LostCall is a call whose media lived on a node that died.
type LostCall struct {
	CallID  string     `json:"call_id"`
	FromTag string     `json:"from_tag,omitempty"`
	Caller  string     `json:"caller,omitempty"`
	Called  string     `json:"called,omitempty"`
	Queue   string     `json:"queue"`
	Tier    store.Tier `json:"tier,omitempty"`
	Node    string     `json:"node"`            // the dead node
	Agent   string     `json:"agent,omitempty"` // bridged: with whom
	Started time.Time  `json:"started"`
	Lost    time.Time  `json:"lost"` // when the leader declared the node lost
}

// Place is a caller's place in the cluster's queue, as Join hands it out:
// Done is closed when the leader's outcome reached this node.
type Place struct {
	callID  string
	done    chan struct{}
	outcome queue.Outcome
}

// CallID is the caller's call ID.
func (p *Place) CallID() string { return p.callID }

// Done is closed when the caller left the queue (answered, refused or not).
func (p *Place) Done() <-chan struct{} { return p.done }

// Outcome is valid once Done is closed.
func (p *Place) Outcome() queue.Outcome { <-p.done; return p.outcome }

// Command and outbox kinds.
const (
	cmdJoin     = "join"
	cmdLeave    = "leave"
	cmdKey      = "key"
	cmdHangup   = "hangup"
	cmdAnswered = "answered"
	cmdFailed   = "failed"
	cmdAgent    = "agent"
	cmdMember   = "member"   // run-time queue membership (API PUT/DELETE members)
	cmdCallback = "callback" // a callback row a node wrote: the leader's scheduler loads it

	outRing     = "ring"
	outCancel   = "cancel"
	outGone     = "gone" // an answered offer had ended: hang the agent's leg up
	outOutcome  = "outcome"
	outLost     = "lost"
	outNodeLost = "nodelost"
	outDial     = "dial" // a callback's call the leader assigned to this node (Assign)
)

type nodeLostBody struct {
	Node string `json:"node"`
}

type command struct {
	Join   json.RawMessage `json:"join,omitempty"` // a JoinRequest
	CallID string          `json:"call_id,omitempty"`
	Reason string          `json:"reason,omitempty"`
	Digit  string          `json:"digit,omitempty"`
	Offer  string          `json:"offer,omitempty"`
	Result string          `json:"result,omitempty"`
	Agent  string          `json:"agent,omitempty"`
	State  string          `json:"state,omitempty"`
	// member: Queue and Penalty; Remove takes the agent out of Queue.
	Queue   string `json:"queue,omitempty"`
	Penalty int    `json:"penalty,omitempty"`
	Remove  bool   `json:"remove,omitempty"`
	// callback: the callback's id.
	CallbackID int64 `json:"callback,omitempty"`
}

type outCancelBody struct {
	Offer  queue.Offer `json:"offer"`
	Reason string      `json:"reason"`
}

type outOutcomeBody struct {
	CallID  string        `json:"call_id"`
	Outcome queue.Outcome `json:"outcome"`
}

// Node is one Hotline node's part in the cluster: it sends commands,
// acts on its outbox, and leads when the lock is free.
type Node struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	places map[string]*Place

	smu     sync.Mutex // the command sender's queue (send)
	squeue  []*pending
	sending bool
	batches int64 // the sender's last batch token (sendMany, one sender at a time)

	dmu  sync.Mutex // work for the leader's Service (Do)
	todo []leaderWork
	kick chan struct{} // wakes Run: Do queued work

	// Owned by the goroutine running Step (Run's, or a test's).
	lead      *leader
	acted     int64     // the last outbox item handled
	triedLead time.Time // the last attempt at the lock
	checked   time.Time // the leader's last node expiry check
}

// New builds a node; it touches nothing until Register / Run.
func New(cfg Config) (*Node, error) {
	if cfg.ID == "" || cfg.DB == nil {
		return nil, errors.New("cluster: node needs an ID and a database")
	}
	if cfg.NodeExpiry <= 0 {
		cfg.NodeExpiry = 10 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = cfg.NodeExpiry / 4
	}
	if cfg.LeadEvery <= 0 {
		cfg.LeadEvery = 500 * time.Millisecond
	}
	if cfg.LeaderExpiry <= 0 {
		cfg.LeaderExpiry = 10 * time.Second
	}
	if cfg.ExpiryEvery <= 0 {
		cfg.ExpiryEvery = cfg.NodeExpiry / 8
	}
	if cfg.ViewEvery <= 0 {
		cfg.ViewEvery = 250 * time.Millisecond
	}
	if cfg.ViewMax <= 0 {
		cfg.ViewMax = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ACD.Now == nil {
		cfg.ACD.Now = time.Now
	}
	// Batch tokens start from the clock, so that a restarted node's
	// tokens are not an earlier run's.
	return &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.ID), places: map[string]*Place{}, kick: make(chan struct{}, 1), batches: time.Now().UnixNano()}, nil
}

// ID is the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// Register records the node as alive (a restart clears a lost mark).
func (n *Node) Register(ctx context.Context) error {
	if n.cfg.Fingerprint != "" {
		return n.cfg.DB.RegisterChecked(ctx, n.cfg.ID, n.cfg.Address, n.cfg.Fingerprint, n.cfg.NodeExpiry)
	}
	return n.cfg.DB.Register(ctx, n.cfg.ID, n.cfg.Address)
}

// Heartbeat marks the node seen; postgres.ErrNodeLost when the leader
// declared it lost meanwhile (its calls are gone from the queues).
func (n *Node) Heartbeat(ctx context.Context) error {
	if n.cfg.Load != nil {
		calls, draining := n.cfg.Load()
		return n.cfg.DB.Beat(ctx, n.cfg.ID, calls, draining)
	}
	return n.cfg.DB.Heartbeat(ctx, n.cfg.ID)
}

type pending struct {
	kind string
	body []byte
	done chan error
}

// send writes one command. Concurrent sends share one INSERT (group
// commit): the first sender writes everything queued meanwhile, in
// order, while the others wait for that commit, so a burst of commands
// costs a few commits, not one each.
func (n *Node) send(ctx context.Context, kind string, c command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", kind, err)
	}
	p := &pending{kind: kind, body: b, done: make(chan error, 1)}
	n.smu.Lock()
	n.squeue = append(n.squeue, p)
	if n.sending {
		n.smu.Unlock()
		select {
		case err = <-p.done:
		case <-ctx.Done():
			return fmt.Errorf("cluster %s: %w", kind, ctx.Err())
		}
	} else {
		n.sending = true
		for len(n.squeue) > 0 {
			batch := n.squeue
			n.squeue = nil
			n.smu.Unlock()
			kinds, bodies := make([]string, len(batch)), make([][]byte, len(batch))
			for i, q := range batch {
				kinds[i], bodies[i] = q.kind, q.body
			}
			// Not the caller's ctx: the batch holds other callers' commands.
			e := n.sendMany(context.WithoutCancel(ctx), kinds, bodies)
			for _, q := range batch {
				q.done <- e
			}
			n.smu.Lock()
		}
		n.sending = false
		n.smu.Unlock()
		err = <-p.done
	}
	if err != nil {
		return fmt.Errorf("cluster %s: %w", kind, err)
	}
	return nil
}

// sendMany writes one batch of commands, and again while the database is
// away (a restart, a connection cut), for up to NodeExpiry: a node cut off
// longer is declared lost, its callers gone from the queues. Until then
// the node's calls keep their places, and their commands (a caller's join,
// an agent's answer) go out when the database is back; the next batch, and
// the order, wait behind this one. A batch is never written twice: when
// the connection broke after the batch was sent, the node's last batch
// token (Sent) says whether it committed.
func (n *Node) sendMany(ctx context.Context, kinds []string, bodies [][]byte) error {
	n.batches++
	token := n.batches
	giveUp := time.Now().Add(n.cfg.NodeExpiry)
	check := false // the last attempt may have committed
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		if check {
			var sent int64
			if sent, err = n.cfg.DB.Sent(sctx, n.cfg.ID); err == nil && sent == token {
				cancel()
				return nil
			}
		}
		if err == nil {
			err = n.cfg.DB.SendMany(sctx, n.cfg.ID, token, kinds, bodies)
			check = err != nil && !postgres.Retryable(err)
		}
		cancel()
		if err == nil || !postgres.Unavailable(err) || time.Now().Add(wait).After(giveUp) {
			return err
		}
		n.log.Warn("cluster: commands not sent, the database is away; retrying", "commands", len(kinds), "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Join asks the leader to put a caller in a queue. The refusals that
// queue.Service.Join returns at once (full, empty) come back as the
// Place's outcome (Reason full / empty, Exit), like every other way out.
func (n *Node) Join(ctx context.Context, r JoinRequest) (*Place, error) {
	if r.CallID == "" {
		return nil, fmt.Errorf("cluster join %q: %w", r.Queue, queue.ErrDuplicateCall)
	}
	p := &Place{callID: r.CallID, done: make(chan struct{})}
	n.mu.Lock()
	if n.places[r.CallID] != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("cluster join %q with call %q: %w", r.Queue, r.CallID, queue.ErrDuplicateCall)
	}
	n.places[r.CallID] = p // before the command: the outcome may come back at once
	n.mu.Unlock()
	j, err := json.Marshal(r)
	if err == nil {
		err = n.send(ctx, cmdJoin, command{Join: j})
	}
	if err != nil {
		n.mu.Lock()
		delete(n.places, r.CallID)
		n.mu.Unlock()
		return nil, err
	}
	return p, nil
}

// Leave takes a waiting caller out (queue.Service.Leave's reasons).
func (n *Node) Leave(ctx context.Context, callID, reason string) error {
	return n.send(ctx, cmdLeave, command{CallID: callID, Reason: reason})
}

// Key is a digit pressed while waiting; an exit key's outcome names the node.
func (n *Node) Key(ctx context.Context, callID, digit string) error {
	return n.send(ctx, cmdKey, command{CallID: callID, Digit: digit})
}

// Hangup reports that a bridged call ended.
func (n *Node) Hangup(ctx context.Context, callID string) error {
	return n.send(ctx, cmdHangup, command{CallID: callID})
}

// Answered reports that the agent of an offer this node rang answered.
// When the offer had ended meanwhile, the Ringer gets Cancel(offer, "gone")
// and must hang the agent's leg up.
func (n *Node) Answered(ctx context.Context, offerID string) error {
	return n.send(ctx, cmdAnswered, command{Offer: offerID})
}

// Failed reports that ringing an offer's agent failed (queue.Result*).
func (n *Node) Failed(ctx context.Context, offerID, result string) error {
	return n.send(ctx, cmdFailed, command{Offer: offerID, Result: result})
}

// SetState is an agent's presence change: login, logout, pause, ready.
func (n *Node) SetState(ctx context.Context, agentID, state, reason string) error {
	return n.send(ctx, cmdAgent, command{Agent: agentID, State: state, Reason: reason})
}

// SetMember adds an agent to a queue at run time, or changes its
// penalty (queue.Service.SetMember, on the leader). Like every command
// it is asynchronous: a refusal (unknown agent or queue) is logged by the
// leader, so callers validate names against the configuration first.
func (n *Node) SetMember(ctx context.Context, agentID, queueName string, penalty int) error {
	return n.send(ctx, cmdMember, command{Agent: agentID, Queue: queueName, Penalty: penalty})
}

// RemoveMember takes an agent out of a queue at run time.
func (n *Node) RemoveMember(ctx context.Context, agentID, queueName string) error {
	return n.send(ctx, cmdMember, command{Agent: agentID, Queue: queueName, Remove: true})
}

// Callback tells the leader that callback id was written to the store
// (requested, cancelled, rescheduled, or given back by a restarted node):
// its scheduler loads it (Config.Callback).
func (n *Node) Callback(ctx context.Context, id int64) error {
	return n.send(ctx, cmdCallback, command{CallbackID: id})
}

// leaderWork is a function for the leader's Service of one epoch (Do).
type leaderWork struct {
	epoch int64
	f     func(*queue.Service)
	out   *postgres.OutItem // Assign: an outbox item for the step's commit (f nil)
}

// Do runs f on the leader's Service from the goroutine running Step, inside
// a step (the Ring and Cancel it causes go out with that step's commit),
// if this node still leads in epoch; otherwise f is dropped. It does not
// wait. The callback adapter drives the leader's Service with it: the
// Service's Ringer is the leader's batch, which only the Step goroutine
// may touch (docs/cluster.md, "Callbacks in a cluster").
func (n *Node) Do(epoch int64, f func(*queue.Service)) {
	n.dmu.Lock()
	n.todo = append(n.todo, leaderWork{epoch: epoch, f: f})
	n.dmu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// dropWork forgets the work Do queued: it was for the epoch ending.
func (n *Node) dropWork() {
	n.dmu.Lock()
	n.todo = nil
	n.dmu.Unlock()
}

// Epoch is the epoch this node leads in, 0 when it follows, and
// OfferPrefix the prefix of the offer IDs its nodes see ("<epoch>."):
// for the goroutine running Step (the Leading hook).
func (n *Node) Epoch() int64 {
	if n.lead == nil {
		return 0
	}
	return n.lead.db.Epoch
}

// OfferPrefix: see Epoch.
func (n *Node) OfferPrefix() string {
	if n.lead == nil {
		return ""
	}
	return n.lead.prefix
}

// Leading reports whether this node leads (for the goroutine running Step).
func (n *Node) Leading() bool { return n.lead != nil }

// Service is the leader's ACD, nil on a follower (for the goroutine
// running Step: read-only views, tests).
func (n *Node) Service() *queue.Service {
	if n.lead == nil {
		return nil
	}
	return n.lead.svc
}

// Step does one round: take the lead if the lock is free; as leader,
// apply pending commands and deadlines and commit; then act on this
// node's outbox. It reports whether anything happened. A leader whose
// commit fails steps down (the next leader, maybe this node again,
// rebuilds from the snapshot the last good commit left).
func (n *Node) Step(ctx context.Context) (bool, error) {
	did := false
	if n.lead == nil && time.Since(n.triedLead) >= n.cfg.LeadEvery {
		n.triedLead = time.Now()
		l, err := n.cfg.DB.TryLead(ctx, n.cfg.ID)
		if err != nil {
			return false, err
		}
		if l == nil {
			// The lock is held. A holder that has not committed for
			// LeaderExpiry is hung with its socket open (the lock would
			// never be freed): end its session.
			if deposed, err := n.cfg.DB.Depose(ctx, n.cfg.LeaderExpiry); err != nil {
				return false, err
			} else if deposed {
				n.log.Warn("cluster: deposed a leader that stopped committing", "after", n.cfg.LeaderExpiry)
				n.triedLead = time.Time{} // try at once
			}
		}
		if l != nil {
			// Followers depose after LeaderExpiry without a beat; an idle
			// leader commits every LeaderExpiry/4, so a commit need not
			// write a beat younger than that.
			l.BeatEvery = n.cfg.LeaderExpiry / 4
			n.log.Info("cluster: leading", "epoch", l.Epoch)
			if n.lead, err = n.takeOver(ctx, l); err != nil {
				l.Close()
				return false, err
			}
			did = true
			if n.cfg.Leading != nil {
				n.cfg.Leading(true)
			}
			if n.cfg.NodeLost != nil {
				for _, id := range slices.Sorted(maps.Keys(n.lead.lost)) {
					n.cfg.NodeLost(id)
				}
			}
		}
	}
	if n.lead != nil {
		k, err := n.lead.step(ctx)
		if err != nil {
			n.log.Warn("cluster: stepping down", "epoch", n.lead.db.Epoch, "err", err)
			n.StepDown()
			return did, err
		}
		did = did || k
	}
	k, err := n.deliver(ctx)
	return did || k, err
}

// StepDown gives the lead up (closing the lock's session).
func (n *Node) StepDown() {
	n.dropWork()
	if n.lead != nil {
		n.lead.close(false)
		n.lead = nil
		if n.cfg.Leading != nil {
			n.cfg.Leading(false)
		}
	}
}

// Kill ends the node as a crash would: the lock's socket is closed
// without a goodbye and nothing else is sent (tests; close DB too).
func (n *Node) Kill() {
	n.dropWork()
	if n.lead != nil {
		n.lead.close(true)
		n.lead = nil
		if n.cfg.Leading != nil {
			n.cfg.Leading(false)
		}
	}
}

// deliver acts on this node's outbox and acknowledges it.
func (n *Node) deliver(ctx context.Context) (bool, error) {
	items, err := n.cfg.DB.Outbox(ctx, n.cfg.ID, n.cfg.Batch)
	if err != nil || len(items) == 0 {
		return false, err
	}
	for _, it := range items {
		// Items come in id order (one leader commits at a time), so an
		// id at or below the last one handled is an item back from a
		// lost ack.
		if it.ID <= n.acted {
			continue
		}
		if n.cfg.Observe != nil {
			n.cfg.Observe(it)
		}
		n.act(it)
		n.acted = it.ID
	}
	return true, n.cfg.DB.Ack(ctx, n.cfg.ID, n.acted)
}

func (n *Node) act(it postgres.OutItem) {
	bad := func(err error) { n.log.Error("cluster: bad outbox item", "item", it.ID, "kind", it.Kind, "err", err) }
	switch it.Kind {
	case outRing:
		var o queue.Offer
		if err := json.Unmarshal(it.Body, &o); err != nil {
			bad(err)
			return
		}
		if n.cfg.Ringer != nil {
			n.cfg.Ringer.Ring(o)
		}
	case outCancel, outGone:
		var c outCancelBody
		if err := json.Unmarshal(it.Body, &c); err != nil {
			bad(err)
			return
		}
		if n.cfg.Ringer != nil {
			n.cfg.Ringer.Cancel(c.Offer, c.Reason)
		}
	case outOutcome:
		var c outOutcomeBody
		if err := json.Unmarshal(it.Body, &c); err != nil {
			bad(err)
			return
		}
		n.mu.Lock()
		p := n.places[c.CallID]
		delete(n.places, c.CallID)
		n.mu.Unlock()
		if p == nil {
			n.log.Warn("cluster: outcome for no place here", "call_id", c.CallID, "reason", c.Outcome.Reason)
			return
		}
		p.outcome = c.Outcome
		close(p.done)
	case outLost:
		var lc LostCall
		if err := json.Unmarshal(it.Body, &lc); err != nil {
			bad(err)
			return
		}
		n.log.Warn("cluster: call lost with its node", "call_id", lc.CallID, "lost_node", lc.Node)
		if n.cfg.Lost != nil {
			n.cfg.Lost(lc)
		}
	case outDial:
		if n.cfg.Dial != nil {
			n.cfg.Dial(it.Body)
		}
	case outNodeLost:
		var b nodeLostBody
		if err := json.Unmarshal(it.Body, &b); err != nil {
			bad(err)
			return
		}
		if n.cfg.NodeLost != nil {
			n.cfg.NodeLost(b.Node)
		}
	default:
		bad(fmt.Errorf("unknown kind"))
	}
}

// Run serves until ctx ends: registers, heartbeats, and steps whenever a
// notification arrives (commands for the leader, outbox items for this
// node) or a timer is due (the leader's deadlines, node expiry checks, a
// follower's attempt at the lock). It returns postgres.ErrNodeLost when
// the node was declared lost, or could not heartbeat for NodeExpiry (a
// partition: the leader removes its callers after that long): the caller
// must end its calls, and may Register again. nil when ctx ends.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Register(ctx); err != nil {
		return err
	}
	ln, err := n.cfg.DB.Listen(ctx, postgres.ChanCommands, postgres.ChanOutbox)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := make(chan struct{}, 1)
	hbErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the listener: one dedicated connection, opened again when it fails
		defer wg.Done()
		n.listen(ctx, ln, wake)
	}()
	go func() { // heartbeats
		defer wg.Done()
		t := time.NewTicker(n.cfg.Heartbeat)
		defer t.Stop()
		last := time.Now() // Register just succeeded
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			hctx, cancel := context.WithTimeout(ctx, n.cfg.Heartbeat)
			err := n.Heartbeat(hctx)
			cancel()
			switch {
			case err == nil:
				last = time.Now()
				continue
			case errors.Is(err, postgres.ErrNodeLost):
				hbErr <- err
				return
			case time.Since(last) >= n.cfg.NodeExpiry:
				// Cut off from the database for as long as the leader
				// waits before removing this node's callers from the
				// queues: they are gone from it, or soon will be.
				hbErr <- fmt.Errorf("no heartbeat for %s (%w): %w", time.Since(last).Round(time.Millisecond), err, postgres.ErrNodeLost)
				return
			}
			n.log.Warn("cluster: heartbeat failed", "err", err)
		}
	}()
	defer func() { cancel(); wg.Wait() }() // the goroutines stop on ctx, also when Run returns ErrNodeLost
	defer n.StepDown()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-hbErr:
			return err
		case <-wake:
		case <-n.kick:
		case <-t.C:
		}
		for {
			did, err := n.Step(ctx)
			if err != nil && ctx.Err() == nil {
				n.log.Warn("cluster: step failed", "err", err)
			}
			if !did || err != nil {
				break
			}
		}
		wait := n.cfg.LeadEvery
		if n.lead != nil {
			wait = min(n.cfg.NodeExpiry/4, time.Second)
			if next, ok := n.lead.svc.NextDeadline(); ok {
				wait = min(wait, max(next.Sub(n.cfg.ACD.Now()), 0))
			}
			wait = min(wait, max(time.Until(n.lead.nextView()), 0))
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// listen wakes Run at each notification for this node until ctx ends. A
// listener that fails (the database restarted, the connection was cut)
// is opened again with a back-off up to 5 s, and Run is woken once it is:
// a notification sent meanwhile was missed, and the rows are still there.
// Between the two, Run's timers step the node.
func (n *Node) listen(ctx context.Context, ln *postgres.Listener, wake chan<- struct{}) {
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	backoff := 100 * time.Millisecond
	for {
		began := time.Now()
		for {
			ch, node, err := ln.Wait(ctx)
			if err != nil {
				ln.Close()
				if ctx.Err() != nil {
					return
				}
				n.log.Warn("cluster: listener failed, opening it again", "err", err)
				break
			}
			if ch == postgres.ChanOutbox && node != n.cfg.ID {
				continue
			}
			poke()
		}
		if time.Since(began) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		for {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
			var err error
			if ln, err = n.cfg.DB.Listen(ctx, postgres.ChanCommands, postgres.ChanOutbox); err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			n.log.Warn("cluster: listener not open yet", "in", backoff, "err", err)
		}
		poke()
	}
}

// RecordLost writes a lost call's record to the ticket history: outcome
// failed, hang-up cause node-lost, Hotline's side. A second record for
// the same call (a redelivery, or the dead node's own spool when it comes
// back) is a duplicate of its Call-ID and From tag, so the history holds
// one.
func RecordLost(ctx context.Context, s store.Store, lc LostCall) error {
	r := store.CallRecord{StartedAt: lc.Started, EndedAt: lc.Lost, Direction: store.DirectionInbound,
		Summary: "queue " + lc.Queue + ": cut off when node " + lc.Node + " was lost (" + string(store.OutcomeFailed) + ")",
		Voice: store.VoiceDetails{CallID: lc.CallID, FromTag: lc.FromTag, CallerNumber: lc.Caller, CalledNumber: lc.Called,
			Queue: lc.Queue, Agent: lc.Agent, Outcome: store.OutcomeFailed, HangupCause: CauseNodeLost,
			HangupSide: store.SideHotline, Legs: []store.CallLeg{}, Path: []store.IVRStep{}}}
	if r.EndedAt.Before(r.StartedAt) {
		r.EndedAt = r.StartedAt
	}
	if _, err := s.LogCall(ctx, r); err != nil {
		return fmt.Errorf("record lost call %s: %w", lc.CallID, err)
	}
	return nil
}

// CauseNodeLost is the hang-up cause of a call lost with its node.
const CauseNodeLost = "node-lost"
