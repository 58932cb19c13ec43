package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/hotline-dev/hotline/store/postgres"
)

// Callbacks are dialled by any live node (docs/cluster.md, "Callbacks in
// a cluster"): the leader's scheduler decides when and which callback is
// due, as before, Dials picks the node that places its call (Pick), the
// scheduler claims the attempt for that node, and Place hands the call to
// it through the node's outbox (an item written with the next step's
// commit, fenced by the epoch like every other) and waits until that node
// has recorded the call's end (Ended: its callback command) or was
// declared lost (Lost, after the claim was recovered). The node's
// Config.Dial places the call.

// Assign queues an outbox item of a callback's call for node, written with
// the next step's commit if this node still leads in epoch (dropped
// otherwise, like Do's work). It does not wait.
func (n *Node) Assign(epoch int64, node string, body json.RawMessage) {
	n.dmu.Lock()
	n.todo = append(n.todo, leaderWork{epoch: epoch, out: &postgres.OutItem{Node: node, Kind: outDial, Body: body}})
	n.dmu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// LiveNodes is every node whose heartbeat is younger than the node
// timeout and not declared lost, with the load its last heartbeat gave.
func (n *Node) LiveNodes(ctx context.Context) ([]postgres.NodeLoad, error) {
	return n.cfg.DB.LiveNodes(ctx, n.cfg.NodeExpiry)
}

// Pick chooses among nodes the one for the next call: the node that does
// not drain with the fewest active calls, counting its last heartbeat's
// calls plus inFlight, the calls given to it that are not over (a
// heartbeat is up to Config.Heartbeat old, so a burst of due callbacks
// would otherwise all go to one node). On equal load the leader (self)
// first: it saves the assignment's round trip, and the followers take the
// next calls as soon as it carries more; then the nodes in turn after
// last. "" when every node drains (or none is live).
func Pick(nodes []postgres.NodeLoad, inFlight map[string]int, self, last string) string {
	best, bestLoad := "", 0
	better := func(id string, load int) bool {
		switch {
		case best == "":
			return true
		case load != bestLoad:
			return load < bestLoad
		case best == self:
			return false
		case id == self:
			return true
		}
		// Round robin: the first id after last, wrapping round.
		after := func(x string) int {
			if x > last {
				return 0
			}
			return 1
		}
		if a, b := after(id), after(best); a != b {
			return a < b
		}
		return id < best
	}
	for _, nd := range nodes {
		if nd.Draining {
			continue
		}
		if load := nd.Calls + inFlight[nd.ID]; better(nd.ID, load) {
			best, bestLoad = nd.ID, load
		}
	}
	return best
}

// Dials is a lead term's dispatch of callback calls to nodes: which node
// places each (Pick), the assignment, and the wait for its end. Safe for
// concurrent use.
type Dials struct {
	node  *Node
	epoch int64

	mu       sync.Mutex
	last     string
	inFlight map[string]int
	waits    map[int64]chan struct{}   // callback id: closed at its end
	byNode   map[string]map[int64]bool // the waits by node, for Lost
	lost     map[string]bool           // the nodes Lost was told of
}

// NewDials is the dispatch of node's lead term epoch.
func NewDials(n *Node, epoch int64) *Dials {
	return &Dials{node: n, epoch: epoch, inFlight: map[string]int{}, waits: map[int64]chan struct{}{},
		byNode: map[string]map[int64]bool{}, lost: map[string]bool{}}
}

// Pick reads the live nodes and picks the one for the next call, counted
// in flight until Unpick (the leader's own calls) or the end of Place.
// When the nodes cannot be read (the error), or every node drains, it is
// the leader itself.
func (d *Dials) Pick(ctx context.Context) (string, error) {
	nodes, err := d.node.LiveNodes(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	n := ""
	if err == nil {
		n = Pick(nodes, d.inFlight, d.node.ID(), d.last)
	}
	if n == "" {
		n = d.node.ID()
	}
	d.last = n
	d.inFlight[n]++
	return n, err
}

// Unpick ends a pick: its dial did not go ahead, or its call, placed by
// the leader itself, is over.
func (d *Dials) Unpick(node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[node]--; d.inFlight[node] <= 0 {
		delete(d.inFlight, node)
	}
}

// Place assigns callback id's call (body, for the node's Config.Dial) to
// node and waits: true when node recorded its end (Ended) or was declared
// lost (Lost), false when ctx ended first (the term is over: the call
// stays with its node). It ends node's pick. A node already declared lost
// (between the pick and the claim) is not sent anything: ErrNodeLost at
// once, and the caller recovers the claim (RecoverNode is idempotent).
func (d *Dials) Place(ctx context.Context, node string, id int64, body json.RawMessage) (bool, error) {
	defer d.Unpick(node)
	done := make(chan struct{})
	d.mu.Lock()
	if d.lost[node] {
		d.mu.Unlock()
		return true, fmt.Errorf("cluster: callback %d for node %s: %w", id, node, postgres.ErrNodeLost)
	}
	d.waits[id] = done
	if d.byNode[node] == nil {
		d.byNode[node] = map[int64]bool{}
	}
	d.byNode[node][id] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.waits[id] == done {
			delete(d.waits, id)
		}
		delete(d.byNode[node], id)
		d.mu.Unlock()
	}()
	d.node.Assign(d.epoch, node, body)
	select {
	case <-done:
		return true, nil
	case <-ctx.Done():
		return false, nil
	}
}

// Waiting reports whether a Place waits for callback id's call.
func (d *Dials) Waiting(id int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.waits[id]
	return ok
}

// Ended is a callback command for id: a node may have recorded the end
// of the call it placed.
func (d *Dials) Ended(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.waits[id]; ok {
		close(ch)
		delete(d.waits, id)
	}
}

// Lost is a node whose claims were just recovered: the waits for its
// calls end.
func (d *Dials) Lost(node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.byNode[node] {
		if ch, ok := d.waits[id]; ok {
			close(ch)
			delete(d.waits, id)
		}
	}
	delete(d.byNode, node)
	d.lost[node] = true
}
