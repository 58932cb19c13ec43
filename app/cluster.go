package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
)

// clusterDesk is the ACD of a node in a cluster (cluster.enabled,
// docs/cluster.md): the call path's queue.Desk over cluster.Node, whose
// leader (any node) runs the one queue.Service. local is this node's own
// Service, built from the same configuration but never joined: it gives
// the Enqueuer the queues' settings and the clock, and the API its
// (empty, until followers' views land) read views.
type clusterDesk struct {
	node  *cluster.Node
	db    *postgres.Cluster
	local *queue.Service
	cfg   config.Config
	// view serves the cluster-wide reads on this node (the leader's
	// acd_view); relay carries every node's events to this node's stream.
	// Both run in App.Run's group.
	view  *cluster.View
	relay *cluster.Relay
	// callbacks runs the callback scheduler while this node leads
	// (docs/cluster.md, "Callbacks in a cluster").
	callbacks *clusterCallbacks
}

// viewAge is how old the view this node serves is (false before the
// first). It is measured against the leader's write time (the database's
// clock), so clock skew between this host and the database adds to it.
func (d *clusterDesk) viewAge(now time.Time) (time.Duration, bool) {
	at, _ := d.view.Written()
	if at.IsZero() {
		return 0, false
	}
	return max(now.Sub(at), 0), true
}

// checkView is /readyz's "cluster_view" check: a node that cannot see the
// cluster's ACD (no view, or one older than cluster.view_max_age) is taken
// out by Kamailio, because its callers would hear stale positions and its
// API would show stale figures. The leader writes a view at least every
// second (ViewMax, stretched to 10x its cost under load), so the default
// 5 s means this node has not read the database, or no leader has
// written, for several rounds (docs/cluster.md "Views on every node").
func (d *clusterDesk) checkView(context.Context) error {
	age, ok := d.viewAge(time.Now())
	if !ok {
		return &api.Error{Kind: api.ErrUnavailable, Message: "no cluster view read yet"}
	}
	bound := d.viewMaxAge()
	if age > bound {
		return &api.Error{Kind: api.ErrUnavailable, Message: fmt.Sprintf("cluster view is %s old (cluster.view_max_age %s)", age.Round(time.Millisecond), bound)}
	}
	return nil
}

// viewMaxAge is cluster.view_max_age: /readyz's bound, and the API's
// view_max_age_ms (a wallboard says "stale" past it).
func (d *clusterDesk) viewMaxAge() time.Duration {
	if b := d.cfg.Cluster.ViewMaxAge; b > 0 {
		return b
	}
	return config.DefaultViewMaxAge
}

var _ queue.Desk = (*clusterDesk)(nil)

// Join implements queue.Desk: the request carries what a lost call's
// record needs (From tag, called number, when it was answered).
func (d *clusterDesk) Join(ctx context.Context, call ivr.Call, r queue.JoinRequest) (queue.Ticket, error) {
	jr := cluster.JoinRequest{JoinRequest: r, Started: time.Now()}
	if c, ok := call.(interface{ FromTag() string }); ok {
		jr.FromTag = c.FromTag()
	}
	if c, ok := call.(interface{ Called() string }); ok {
		jr.Called = c.Called()
	}
	if _, ok := d.cfg.Queues[r.Queue]; !ok { // the leader would only log it
		return nil, fmt.Errorf("join %q: %w", r.Queue, queue.ErrUnknownQueue)
	}
	p, err := d.node.Join(ctx, jr)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (d *clusterDesk) Leave(ctx context.Context, callID, reason string) error {
	return d.node.Leave(ctx, callID, reason)
}

func (d *clusterDesk) Key(ctx context.Context, callID, digit string) error {
	return d.node.Key(ctx, callID, digit)
}

func (d *clusterDesk) Hangup(ctx context.Context, callID string) error {
	return d.node.Hangup(ctx, callID)
}

func (d *clusterDesk) Answered(ctx context.Context, offerID string) error {
	return d.node.Answered(ctx, offerID)
}

func (d *clusterDesk) Failed(ctx context.Context, offerID, result string) error {
	return d.node.Failed(ctx, offerID, result)
}

// Position implements queue.Desk from the cluster view: only the leader's
// Service knows it, and the leader writes every waiting caller's position
// to the view (at most about a second behind; never going up).
func (d *clusterDesk) Position(callID string) (queue.Position, error) {
	return d.view.Position(callID)
}

// featureCode sends *11–*14 to the leader as a presence change.
func (d *clusterDesk) featureCode(ctx context.Context, agent, code string) error {
	state, reason, err := queue.ParseFeatureCode(code)
	if err != nil {
		return err
	}
	if _, err := d.local.Agent(agent); err != nil {
		return err
	}
	return d.node.SetState(ctx, agent, state, reason)
}

// agentKnown checks a name against the configuration (the local copy
// has every configured agent), because the leader only logs a refusal.
func (d *clusterDesk) agentKnown(id string) error {
	_, err := d.local.Agent(id)
	return err
}

// clusterAPI is api.ACD in a cluster: reads from the cluster view (the
// leader's, on every node), changes sent to the leader as commands. Names
// are checked against the configuration here, because the leader only
// logs a refusal.
type clusterAPI struct {
	*cluster.View
	d *clusterDesk
}

// ViewAge implements api.ViewAger: the queue views say how old they are.
func (c clusterAPI) ViewAge() (time.Duration, bool) { return c.d.viewAge(time.Now()) }

// ViewMaxAge implements api.ViewAger: cluster.view_max_age.
func (c clusterAPI) ViewMaxAge() time.Duration { return c.d.viewMaxAge() }

// commandTimeout bounds the API's wait for a command's commit.
const commandTimeout = 5 * time.Second

func (c clusterAPI) SetState(agentID, state, reason string) error {
	if err := c.d.agentKnown(agentID); err != nil {
		return err
	}
	switch state {
	case "login", "logout", "pause", "ready":
	default:
		return fmt.Errorf("state %q: %w", state, queue.ErrBadState)
	}
	if state == "pause" || state == "ready" {
		// As on one node, 409 while logged out (the leader would only log
		// its refusal, and the wait below would end in a 503). As of the
		// view: a login sent just before may not be in it yet.
		if a, err := c.View.Agent(agentID); err == nil && a.Presence == queue.LoggedOut {
			return fmt.Errorf("%s %q: %w", state, agentID, queue.ErrLoggedOut)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := c.d.node.SetState(ctx, agentID, state, reason); err != nil {
		return err
	}
	return c.awaitPresence(ctx, agentID, func(p queue.Presence) bool {
		switch state {
		case "login": // a paused agent logging in stays paused, as on one node
			return p != queue.LoggedOut
		case "logout":
			return p == queue.LoggedOut
		case "pause":
			return p == queue.Paused
		default: // ready
			return p == queue.Available
		}
	})
}

// awaitPresence waits (within ctx) until the cluster view shows the
// agent in a presence the command leads to (applied): POST /agents/{id}/state then answers with the
// state the leader applied, as on one node, and a client that reads the
// agent next sees it too. The command is committed already; a leader
// that has not applied it within the bound (a failover) is a 503, and
// sending the same state again is harmless.
func (c clusterAPI) awaitPresence(ctx context.Context, agentID string, applied func(queue.Presence) bool) error {
	t := time.NewTicker(10 * time.Millisecond) // the view is read from memory
	defer t.Stop()
	for {
		if a, err := c.View.Agent(agentID); err == nil && applied(a.Presence) {
			return nil
		}
		select {
		case <-ctx.Done():
			return &api.Error{Kind: api.ErrUnavailable, Message: fmt.Sprintf(
				"agent %s: the state was sent to the cluster's leader, but the cluster view did not show it within %s; retry", agentID, commandTimeout)}
		case <-t.C:
		}
	}
}

func (c clusterAPI) SetMember(agentID, q string, penalty int) (bool, error) {
	a, err := c.member(agentID, q)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	_, was := a.Queues[q] // as configured: run-time changes live on the leader
	return !was, c.d.node.SetMember(ctx, agentID, q, penalty)
}

func (c clusterAPI) RemoveMember(agentID, q string) error {
	if _, err := c.member(agentID, q); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return c.d.node.RemoveMember(ctx, agentID, q)
}

func (c clusterAPI) member(agentID, q string) (config.Agent, error) {
	if _, ok := c.d.cfg.Queues[q]; !ok {
		return config.Agent{}, fmt.Errorf("queue %q: %w", q, queue.ErrUnknownQueue)
	}
	for _, a := range c.d.cfg.Agents {
		if a.ID == agentID {
			return a, nil
		}
	}
	return config.Agent{}, fmt.Errorf("agent %q: %w", agentID, queue.ErrUnknownAgent)
}

// Fingerprint is the hash of the agents and queues configuration: every
// node of a cluster must have the same, because the leader's Service is
// built from its own copy (a node that differs refuses to join).
func Fingerprint(cfg config.Config) string {
	b, _ := json.Marshal(struct { // maps marshal with sorted keys
		Agents []config.Agent          `json:"agents"`
		Queues map[string]config.Queue `json:"queues"`
	}{cfg.Agents, cfg.Queues})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

// sharedContacts finds the registrations other nodes received: a phone
// that registered through node B is rung by node A (the caller's node).
// Bindings reach the store at once (runstate's BindingsAtOnce); a lookup
// this node's registrar cannot answer reads them through the store, with
// their Path, which the dialler's route set then uses (the INVITE goes
// through the proxy the REGISTER came through).
type sharedContacts struct {
	rt      store.Runtime
	local   func(string) []string
	routes  func(string) []string
	trusted []netip.Prefix
	timeout time.Duration
	log     interface {
		Warn(string, ...any)
	}

	mu   sync.Mutex
	path map[string][]string // contact URI → Path, of the last read-through
}

// Contacts implements queue.RingerConfig.Contacts.
func (s *sharedContacts) Contacts(username string) []string {
	if cs := s.local(username); len(cs) > 0 {
		return cs
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	now := time.Now()
	bs, err := s.rt.Bindings(ctx, now)
	if err != nil {
		s.log.Warn("cluster: registrations of other nodes not read", "user", username, "err", err)
		return nil
	}
	var cs []store.Binding
	for _, b := range bs {
		if b.Username != username {
			continue
		}
		for _, c := range b.Contacts {
			if !now.Before(c.Expires) {
				continue
			}
			if len(c.Path) > 0 && !inTrusted(c.Source, s.trusted) {
				continue // a Path from a source sip.trusted does not list is not believed
			}
			cs = append(cs, c)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Q != cs[j].Q {
			return cs[i].Q > cs[j].Q
		}
		return cs[i].Updated.After(cs[j].Updated)
	})
	out := make([]string, 0, len(cs))
	s.mu.Lock()
	for _, c := range cs {
		out = append(out, c.URI)
		s.path[c.URI] = c.Path
	}
	s.mu.Unlock()
	return out
}

// Routes is the dialler's route set: the local registrar's, else the
// Path of a binding read through the store.
func (s *sharedContacts) Routes(uri string) []string {
	if rs := s.routes(uri); rs != nil {
		return rs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.path[uri]...)
}

func inTrusted(source string, ps []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(source)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(source); err != nil {
		return false
	}
	for _, p := range ps {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// errNodeLost is what Run ends with when the cluster declared this node
// lost: its callers are gone from the queues, so its calls were ended.
var errNodeLost = errors.New("cluster: this node was declared lost (heartbeat expired or cut off from the database); its calls were ended")

// newCluster opens the cluster's database and builds this node: the
// leader's Service (when this node leads) gets the same agents and queues,
// the ringer rings agents for this node's callers, and a call lost with a
// dead node is recorded by the survivor that leads.
func (a *App) newCluster(local *queue.Service, ringer queue.Ringer) (*clusterDesk, error) {
	cfg := a.cfg
	ctx, cancel := context.WithTimeout(context.Background(), max(cfg.Database.Timeout, 5*time.Second))
	defer cancel()
	db, err := postgres.OpenCluster(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster.enabled: the cluster's database (database.url %s): %w", redactURL(cfg.Database.URL), err)
	}
	cbs := newClusterCallbacks(a, nil) // the node is set below, before any hook runs (Run)
	node, err := cluster.New(cluster.Config{
		ID: cfg.Cluster.Node, Address: ownHost(cfg.SIP), DB: db,
		ACD: queue.Config{Agents: cfg.Agents, Queues: cfg.Queues, Bus: a.bus, Logger: a.log, Location: officeLocation(cfg),
			Callbacks: &cbs.hook},
		Ringer: ringer,
		// The callback scheduler runs on the leader only; the calls go to
		// the least loaded live node (Load, Dial; cluster_dial.go).
		Leading: cbs.leading, NodeLost: cbs.nodeLost, Callback: cbs.load, ViewExtra: cbs.viewExtra,
		Load: cbs.loadNow, Dial: cbs.dial,
		Lost: func(lc cluster.LostCall) {
			ctx, cancel := context.WithTimeout(context.Background(), max(cfg.Database.Timeout, time.Second))
			defer cancel()
			st, err := a.store.get(ctx)
			if err == nil {
				err = cluster.RecordLost(ctx, st, lc)
			}
			if err != nil {
				a.log.Error("cluster: lost call not recorded", "call_id", lc.CallID, "lost_node", lc.Node, "err", err)
			}
		},
		NodeExpiry: cfg.Cluster.NodeTimeout, Heartbeat: cfg.Cluster.Heartbeat,
		Fingerprint: Fingerprint(cfg), Logger: a.log,
	})
	if err == nil {
		// At start, so that a node whose agents or queues differ from the
		// leader's does not start at all (Run registers again).
		err = node.Register(ctx)
	}
	if err != nil {
		db.Close()
		if errors.Is(err, postgres.ErrFingerprint) {
			return nil, fmt.Errorf("cluster.node %s: agents: and queues: differ from the leading node's (every node needs the same): %w", cfg.Cluster.Node, err)
		}
		return nil, fmt.Errorf("cluster.node %s: %w", cfg.Cluster.Node, err)
	}
	cbs.node = node
	// The relay names the bus's node (events carry their origin), so it
	// is built before this node publishes anything on the call path.
	relay := cluster.NewRelay(cluster.RelayConfig{Node: cfg.Cluster.Node, DB: db, Bus: a.bus, Logger: a.log})
	view := cluster.NewView(cluster.ViewConfig{DB: db, Bus: a.bus, Logger: a.log})
	cbs.view = view
	return &clusterDesk{node: node, db: db, local: local, cfg: cfg, view: view, relay: relay, callbacks: cbs}, nil
}
