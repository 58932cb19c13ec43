package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/dialer"
	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
)

// Callbacks in a cluster (docs/cluster.md, "Callbacks in a cluster"). The
// callback scheduler runs on the leader only: the leader lock gives the
// cluster one owner of the claims, so each dial is decided once. The
// customer-first calls are placed by the least loaded live node
// (cluster_dial.go): claimed for it, placed and recorded by it. Every node
// takes requests and changes with a scheduler in Remote mode (they go to
// the store, then a callback command has the leader's scheduler load the
// row), which also places the calls assigned to its node.
//
// On the leader, each lead term (an epoch) gets a fresh scheduler (a new
// boot id, claims "<node>/term/<uuid>"), started from the Leading(true)
// hook after the takeover and closed on Leading(false): the calls it
// placed itself are hung up and recorded interrupted, and the next
// leader's scheduler dials them once more; those other nodes place stay up. The term's adapter drives the leader's queue.Service
// through Node.Do, on the goroutine that runs Step, because the Service's
// Ringer is the leader's batch.

// Recovery reasons written on attempts whose call died with their process.
const (
	reasonNodeLost    = "node-lost"    // the node was declared lost, or a new leader's start
	reasonNodeRestart = "node-restart" // the node came back before it was declared lost
)

// rescanEvery is how often the leader's scheduler looks in the store for
// waiting callbacks whose callback command never reached it (a follower
// stored the row, then could not send the command).
const rescanEvery = 30 * time.Second

// clusterCallbacks is the callback service of a node in a cluster.
type clusterCallbacks struct {
	a    *App
	node *cluster.Node
	view *cluster.View // every node's copy of the leader's view (its figures)
	log  *slog.Logger
	hook termHook // the leader Service's queue.CallbackHook

	// own is closed once this node has given back the claims its earlier
	// processes left (recoverOwn): no scheduler of this process starts
	// before, because that recovery takes every claim of this node.
	own     chan struct{}
	ownOnce sync.Once

	// vfig is the view's callback figures as decoded for vversion.
	vmu      sync.Mutex
	vversion int64
	vfig     viewFigures

	// placed is the dialler of the calls the leader assigns to this node
	// (built at the first, placer).
	placeOnce sync.Once
	placed    callback.Dialer
	placeErr  error

	mu   sync.Mutex
	term *cbTerm       // this node's lead term; nil while it follows
	prev chan struct{} // closed when the latest term's scheduler has stopped
}

// cbTerm is one lead term's callback service.
type cbTerm struct {
	epoch  int64
	sched  *callback.Scheduler
	acd    *callbackACD
	spread *spreadDialer // the term's Dialer: the calls it gives to other nodes
	done   chan struct{} // the scheduler and the adapter have stopped
	stop   chan struct{} // closed when the term ends (before it started, too)
	once   sync.Once
}

// close ends the term at once: its calls are hung up and recorded
// interrupted. shutdown drains them first (within ctx), as App.Run does.
func (t *cbTerm) close() error {
	t.once.Do(func() { close(t.stop) })
	return t.sched.Close()
}

func (t *cbTerm) shutdown(ctx context.Context) error {
	t.once.Do(func() { close(t.stop) })
	return t.sched.Shutdown(ctx)
}

func newClusterCallbacks(a *App, node *cluster.Node) *clusterCallbacks {
	prev := make(chan struct{})
	close(prev)
	return &clusterCallbacks{a: a, node: node, log: a.log.With("component", "cluster-callbacks"), own: make(chan struct{}), prev: prev}
}

// termHook is the CallbackHook of every Service this node leads with: it
// hands a callback's turn to the current term's adapter (the Service calls
// it from the Step goroutine, which also sets it).
type termHook struct {
	mu  sync.Mutex
	acd *callbackACD
}

func (h *termHook) set(a *callbackACD) {
	h.mu.Lock()
	h.acd = a
	h.mu.Unlock()
}

// Due implements queue.CallbackHook. Without a term (a Service about to be
// dropped) the turn is lost with it: the next leader offers again.
func (h *termHook) Due(d queue.CallbackDue) {
	h.mu.Lock()
	a := h.acd
	h.mu.Unlock()
	if a != nil {
		a.Due(d)
	}
}

// leading is cluster.Config.Leading: start a term's scheduler on lead,
// close it when the lead is given up. Called on the Step goroutine: it
// must not block (the scheduler's calls drive the Service through Do,
// which that goroutine runs).
func (c *clusterCallbacks) leading(lead bool) {
	if !lead {
		c.mu.Lock()
		t := c.term
		c.term = nil
		c.mu.Unlock()
		c.hook.set(nil)
		if t != nil {
			c.log.Info("cluster: callback scheduler stopping (no longer leading)", "epoch", t.epoch)
			go func() { _ = t.close() }() // the term's goroutine closes the adapter and reports done
		}
		return
	}
	t, err := c.newTerm()
	if err != nil {
		c.log.Error("cluster: callback scheduler not started; callbacks wait for the next leader", "err", err)
		return
	}
	c.mu.Lock()
	prev, old := c.prev, c.term
	c.term, c.prev = t, t.done
	c.mu.Unlock()
	if old != nil { // not told false in between: that term is over too
		go func() { _ = old.close() }()
	}
	c.hook.set(t.acd)
	go func() {
		defer close(t.done)
		defer t.acd.close()
		// The previous term's calls are recorded first (its Close hangs
		// them up): this term's start recovers every earlier boot's claims
		// of this node.
		select {
		case <-prev:
		case <-t.stop:
			return
		}
		select {
		case <-c.own:
		case <-t.stop:
			return
		}
		t.acd.start()
		if err := t.sched.Run(context.Background()); err != nil { // ends with Close
			c.log.Error("cluster: callback scheduler failed", "epoch", t.epoch, "err", err)
		}
		_ = t.sched.Close()
	}()
	c.log.Info("cluster: callback scheduler starting (leading)", "epoch", t.epoch, "boot", t.sched.Boot())
}

// newTerm builds a lead term's scheduler, adapter and dialler on the
// Service this node now leads with. On the Step goroutine.
func (c *clusterCallbacks) newTerm() (*cbTerm, error) {
	a, cfg := c.a, c.a.cfg
	epoch, prefix := c.node.Epoch(), c.node.OfferPrefix()
	cb := newCallbackACD(a.log)
	cb.svc = leaderQueue{node: c.node, epoch: epoch, svc: c.node.Service(), log: cb.log}
	cb.legs, cb.enqueuer = a.acd.ringer, a.acd.enqueuer
	cb.offerID = func(id string) string { return prefix + id }
	d, err := dialer.New(dialer.Config{
		Client: a.acd.client, Policy: a.policy, Prompts: a.prompts, Logger: a.log,
		Connector: callbackConnector{cb}, Agents: callbackAgents{cb}, Zone: queueZones(a),
	})
	if err != nil {
		return nil, fmt.Errorf("callback dialler: %w", err)
	}
	spread := newSpreadDialer(c, epoch, d)
	cb.pick, cb.unpick = spread.pick, spread.unpick
	// The term's claims are "<node>/term/<uuid>", and its start recovers
	// only those: "<node>/dial/..." are calls this node places for a
	// leader, which may still be up (cluster_dial.go).
	s, err := callback.New(callback.Config{
		Store: lazyCallbacks{a.store}, Queues: cfg.Queues, Calendars: cfg.Calendars, Limits: cfg.Callbacks,
		Policy: a.policy, ACD: cb, Dialer: cb.wrap(spread), Bus: a.bus, Logger: a.log.With("epoch", epoch), Location: officeLocation(cfg),
		Node: cfg.Cluster.Node, Boot: "term/" + uuid.NewString(), Own: cfg.Cluster.Node + "/term/",
		RecoveryReason: reasonNodeLost, Rescan: rescanEvery,
	})
	if err != nil {
		return nil, err
	}
	cb.sched, spread.sched = s, s
	return &cbTerm{epoch: epoch, sched: s, acd: cb, spread: spread, done: make(chan struct{}), stop: make(chan struct{})}, nil
}

func (c *clusterCallbacks) current() *cbTerm {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.term
}

// nodeLost is cluster.Config.NodeLost: the dead node's claims are
// recovered by this term's scheduler (once cluster-wide: the store's
// conditional update). Off the Step goroutine, since it waits for the
// scheduler's start. Not leading any more: the next leader is told again.
func (c *clusterCallbacks) nodeLost(node string) {
	t := c.current()
	if t == nil {
		c.log.Warn("cluster: a node was lost while no callback scheduler runs here; the next leader recovers its calls", "lost_node", node)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		go func() {
			select {
			case <-t.done: // the term ended first: its successor recovers
				cancel()
			case <-ctx.Done():
			}
		}()
		n, err := t.sched.RecoverNode(ctx, node)
		if err != nil {
			c.log.Warn("cluster: the lost node's callback calls were not recovered here; the next leader does it", "lost_node", node, "err", err)
			return
		}
		if n > 0 {
			c.log.Warn("cluster: callback calls that died with their node are dialled again", "lost_node", node, "callbacks", n)
		}
		t.spread.dials.Lost(node) // the term's waits for that node's calls read them back now
	}()
}

// load is cluster.Config.Callback: a row another node (or this one) wrote.
func (c *clusterCallbacks) load(id int64) {
	if t := c.current(); t != nil {
		t.spread.dials.Ended(id) // a node may have recorded the end of the call it placed
		t.sched.Load(id)
	}
}

// remote is the Remote of every node's request-side scheduler.
func (c *clusterCallbacks) remote(ctx context.Context, id int64) error {
	return c.node.Callback(ctx, id)
}

// recoverOwn gives back the claims this node's earlier processes left (a
// process restarted before node_timeout is never declared lost, so no
// RecoverNode takes them): each call died with its process, so the
// attempt ends interrupted and the callback waits again, and the leader is
// told to load it. A node ID is one process at a time, so every claim
// under this node's prefix at this process's start is a dead one's. It
// retries while the database is unavailable; the schedulers of this
// process start only after it.
func (c *clusterCallbacks) recoverOwn(ctx context.Context) error {
	id := c.a.cfg.Cluster.Node
	for {
		cs, err := lazyCallbacks{c.a.store}.RecoverCallbacks(ctx, store.CallbackRecovery{Boot: id + "/" + uuid.NewString(),
			At: time.Now(), Reason: reasonNodeRestart, Prefix: id + "/"})
		if err == nil {
			c.ownOnce.Do(func() { close(c.own) })
			for _, cb := range cs {
				c.log.Warn("callback: a call was cut short by this node's restart", "callback", cb.ID, "queue", cb.Queue,
					"attempt", cb.Attempts, "state", cb.State)
				if !cb.State.Open() {
					continue
				}
				if err := c.node.Callback(ctx, cb.ID); err != nil {
					c.log.Warn("callback: the leader was not told of a recovered callback; its next start loads it", "callback", cb.ID, "err", err)
				}
			}
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("callback: cannot give back this node's earlier calls yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// Shutdown drains the term's calls (App.Run's drain), as one node's
// scheduler does: calls still up at the deadline are hung up, recorded
// interrupted.
func (c *clusterCallbacks) Shutdown(ctx context.Context) error {
	if t := c.current(); t != nil {
		return t.shutdown(ctx)
	}
	return nil
}

// wait waits (at most d) for the last term's scheduler to stop, after the
// node has given up the lead: its writes need the store open.
func (c *clusterCallbacks) wait(d time.Duration) error {
	c.mu.Lock()
	prev := c.prev
	c.mu.Unlock()
	select {
	case <-prev:
		return nil
	case <-time.After(d):
		return errors.New("cluster: the callback scheduler did not stop in time")
	}
}

// viewFigures is what the leader adds to the cluster view: its
// scheduler's figures, by queue, and the position of each callback
// waiting in a line (by callback id), as its Service ranks them.
type viewFigures struct {
	Callbacks []callback.Figures `json:"callbacks"`
	Positions map[int64]int      `json:"positions,omitempty"`
}

// viewExtra is cluster.Config.ViewExtra: the leader's callback figures
// and positions in every view it writes (on the Step goroutine; Figures
// only locks the scheduler's memory, CallbackPositions the Service's).
func (c *clusterCallbacks) viewExtra() json.RawMessage {
	t := c.current()
	if t == nil {
		return nil
	}
	v := viewFigures{Callbacks: t.sched.Figures()}
	svc := c.node.Service() // the one this view is of
	if svc == nil {
		return nil
	}
	for key, p := range svc.CallbackPositions() {
		if id, ok := callbackID(key); ok {
			if v.Positions == nil {
				v.Positions = map[int64]int{}
			}
			v.Positions[id] = p.Position
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// viewed is the leader's callback figures of the view this node serves,
// decoded once per view version (a board's and a list's reads share it).
func (c *clusterCallbacks) viewed() viewFigures {
	version := c.view.Version()
	c.vmu.Lock()
	defer c.vmu.Unlock()
	if version != c.vversion {
		c.vfig, c.vversion = viewFigures{}, version
		if extra := c.view.Extra(); extra != nil {
			if err := json.Unmarshal(extra, &c.vfig); err != nil {
				c.log.Warn("cluster: the leader's callback figures in the view do not decode", "version", version, "err", err)
			}
		}
	}
	return c.vfig
}

// QueueFigures is a queue's callback figures as the leader's scheduler
// has them: its own on the leader's node, from the cluster view on every
// other (about as fresh as the queue's figures beside them). Zeros before
// the first view, or while no scheduler leads.
func (c *clusterCallbacks) QueueFigures(queue string) (callback.Figures, bool) {
	if t := c.current(); t != nil {
		return t.sched.QueueFigures(queue)
	}
	for _, f := range c.viewed().Callbacks {
		if f.Queue == queue {
			return f, true
		}
	}
	return callback.Figures{Queue: queue}, true
}

// position is callback.Config.Position of the node's request side: where
// the leader's Service has the callback, its own on the leader's node,
// from the cluster view on every other (up to about a second behind, like
// a caller's position: the leader loads the request, puts it in the line,
// then writes the next view).
func (c *clusterCallbacks) position(queue string, id int64) (int, bool) {
	if t := c.current(); t != nil {
		return t.acd.Position(queue, id)
	}
	p, ok := c.viewed().Positions[id]
	return p, ok && p > 0
}

// positionWait bounds how long a caller who just asked for a callback
// waits, silent, for its position to reach this node (the leader loads
// the request, then the next view carries it: typically under a second).
// Past it they are told without a position (docs/cluster.md).
const positionWait = 3 * time.Second

// awaitPosition is callback id's position once this node knows it, at
// most d from now; 0 when it does not by then (or ctx ends).
func (c *clusterCallbacks) awaitPosition(ctx context.Context, queue string, id int64, d time.Duration) int {
	if p, ok := c.position(queue, id); ok {
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond) // reads of memory: the view Run keeps fresh
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.log.Info("callback: the new callback's position did not reach this node in time; the caller is told without it",
				"callback", id, "queue", queue, "waited", d)
			return 0
		case <-tick.C:
			if p, ok := c.position(queue, id); ok {
				return p
			}
		}
	}
}

// clusterCallbackAPI is api.Callbacks in a cluster: requests and changes
// through the node's Remote scheduler, the figures of the leader's.
type clusterCallbackAPI struct {
	*callback.Scheduler
	c *clusterCallbacks
}

func (x clusterCallbackAPI) QueueFigures(queue string) (callback.Figures, bool) {
	return x.c.QueueFigures(queue)
}

// leaderQueue is the leader's Service as the callback adapter drives it:
// changes run through Node.Do on the Step goroutine (in the epoch the term
// leads in; dropped after it), reads under the Service's own lock.
type leaderQueue struct {
	node  *cluster.Node
	epoch int64
	svc   *queue.Service
	log   *slog.Logger
}

var _ callbackQueue = leaderQueue{}

func (q leaderQueue) do(what, key string, f func(*queue.Service) error) error {
	q.node.Do(q.epoch, func(s *queue.Service) {
		if err := f(s); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
			q.log.Warn("callback: "+what, "key", key, "err", err)
		}
	})
	return nil
}

func (q leaderQueue) OfferCallback(e queue.CallbackEntry) error {
	return q.do("not put in its queue's line", e.Key, func(s *queue.Service) error { return s.OfferCallback(e) })
}

func (q leaderQueue) WithdrawCallback(key string) error {
	return q.do("withdraw", key, func(s *queue.Service) error { return s.WithdrawCallback(key) })
}

func (q leaderQueue) CallbackEnded(key string) error {
	return q.do("ended bookkeeping", key, func(s *queue.Service) error { return s.CallbackEnded(key) })
}

func (q leaderQueue) CallbackFailed(key string) error {
	return q.do("failed bookkeeping", key, func(s *queue.Service) error { return s.CallbackFailed(key) })
}

func (q leaderQueue) CallbackPosition(key string) (queue.Position, error) {
	return q.svc.CallbackPosition(key)
}

func (q leaderQueue) CallbackAgent(key string) (string, string, bool) {
	return q.svc.CallbackAgent(key)
}
