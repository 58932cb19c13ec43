package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
)

// viewBody is the ACD's read side as the leader writes it to acd_view.
type viewBody struct {
	Queues    []queue.QueueView `json:"queues"`
	Agents    []queue.AgentInfo `json:"agents"`
	Positions positions         `json:"positions,omitempty"` // waiting callers by call ID (written last: encode)
	// Changes counts the views of this epoch written because the ACD
	// changed (not only time): a View announces those (EventView).
	Changes int64 `json:"changes"`
	// Extra is what Config.ViewExtra adds on the leader (the callback
	// scheduler's figures), as it encoded it.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// EventView is the event a View publishes on its node's stream when a
// view with a change arrives (not one written only because time passed):
// a board re-reads /api/v1/queues and /api/v1/agents. The ACD's own events
// reach a follower's stream before the view that shows them (the view is
// written up to ViewEvery later), so a board that re-read at the event
// alone would keep the figures from before it.
const EventView = "queue.view"

// ViewChange is the payload of EventView.
type ViewChange struct {
	Version int64 `json:"version"`
	Epoch   int64 `json:"epoch"`
}

// ErrNoView means no leader has written the ACD's view yet (a cluster
// starting), or this node has not read it yet. It wraps
// store.ErrUnavailable, so the API answers 503 (retry), not 500.
var ErrNoView = fmt.Errorf("cluster: no ACD view yet: %w", store.ErrUnavailable)

// ViewConfig builds a View.
type ViewConfig struct {
	DB *postgres.Cluster
	// Bus, when set, gets an EventView at each view with a change, for the
	// event stream only (Bus.PublishRemote: metrics and observers do not
	// see it).
	Bus *events.Bus
	// Poll is how often Run reads the view without a notification (one
	// cheap query when nothing changed); default 500 ms. Notifications
	// make it sooner; Poll bounds the staleness when one is missed.
	Poll   time.Duration
	Logger *slog.Logger
}

// View is the read side of the cluster's ACD on any node: the queues,
// agents and callers' positions as the leader last wrote them
// (docs/cluster.md "Views on every node"). It implements the reads of
// api.ACD (Queues, Queue, Agents, Agent) and the caller's Position for
// announcements. Reads never touch the database: they serve the last
// view Run fetched, at most about a second behind the leader, and across
// a leader change they keep serving it until the new leader's first view
// arrives. The values returned are shared: read-only.
type View struct {
	cfg   ViewConfig
	log   *slog.Logger
	cur   atomic.Pointer[viewState]
	ready chan struct{} // closed at the first view
	once  sync.Once

	mu   sync.Mutex
	told map[string]int // the position each caller was last given
}

type viewState struct {
	version, epoch int64
	at             time.Time
	body           viewBody
	queues         map[string]int // index in body.Queues
	agents         map[string]int // index in body.Agents
}

// NewView builds a View; it reads nothing until Run or Refresh.
func NewView(cfg ViewConfig) *View {
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &View{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), told: map[string]int{}}
}

// Run keeps the view fresh until ctx ends: it reads it at each
// notification from the leader and every Poll. A failed read is logged
// and the last view kept. A listener that fails (the database restarted,
// the connection was cut) is opened again with a back-off up to 5 s, and
// the view is read once it is (a notification sent meanwhile was missed);
// meanwhile Poll alone keeps it fresh. nil when ctx ends.
func (v *View) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { // the listener: wakes the loop below
		defer wg.Done()
		v.listen(ctx, wake)
	}()
	t := time.NewTicker(v.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := v.Refresh(ctx); err != nil && ctx.Err() == nil {
			v.log.Warn("cluster view: read failed, serving the last one", "version", v.Version(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// listen wakes Run at each notification of a new view until ctx ends,
// opening the listener again with a back-off when it fails (as
// Relay.Run and Node.Run's listener do), and waking Run each time it is
// open.
func (v *View) listen(ctx context.Context, wake chan<- struct{}) {
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	backoff := 100 * time.Millisecond
	for {
		ln, err := v.cfg.DB.Listen(ctx, postgres.ChanView)
		if err == nil {
			// A view written before LISTEN took effect had no
			// notification for this session.
			poke()
			began := time.Now()
			for err == nil {
				if _, _, err = ln.Wait(ctx); err == nil {
					poke()
				}
			}
			ln.Close()
			if time.Since(began) > 10*time.Second {
				backoff = 100 * time.Millisecond
			}
		}
		if ctx.Err() != nil {
			return
		}
		v.log.Warn("cluster view: not listening, retrying (polling every Poll meanwhile)", "in", backoff, "poll", v.cfg.Poll, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Refresh reads the view if the leader wrote a newer one; it reports
// whether it did (Run calls it; tests too).
func (v *View) Refresh(ctx context.Context) (bool, error) {
	var after int64
	if s := v.cur.Load(); s != nil {
		after = s.version
	}
	row, ok, err := v.cfg.DB.View(ctx, after)
	if err != nil || !ok {
		return false, err
	}
	s := &viewState{version: row.Version, epoch: row.Epoch, at: row.At, queues: map[string]int{}, agents: map[string]int{}}
	if err := json.Unmarshal(row.Body, &s.body); err != nil {
		return false, fmt.Errorf("cluster view %d: %w", row.Version, err)
	}
	for i, q := range s.body.Queues {
		s.queues[q.Name] = i
	}
	for i, a := range s.body.Agents {
		s.agents[a.ID] = i
	}
	prev := v.cur.Swap(s)
	if v.cfg.Bus != nil && (prev == nil || prev.epoch != s.epoch || prev.body.Changes != s.body.Changes) {
		v.cfg.Bus.PublishRemote(events.Event{Type: EventView, Time: s.at, Payload: ViewChange{Version: s.version, Epoch: s.epoch}})
	}
	v.mu.Lock()
	for id := range v.told {
		if _, ok := s.body.Positions[id]; !ok {
			delete(v.told, id) // gone from the queues
		}
	}
	v.mu.Unlock()
	v.once.Do(func() { close(v.ready) })
	return true, nil
}

// Ready is closed once the first view has been read.
func (v *View) Ready() <-chan struct{} { return v.ready }

// Version is the view's version (0: none yet); it goes up with each write,
// across leaders.
func (v *View) Version() int64 {
	if s := v.cur.Load(); s != nil {
		return s.version
	}
	return 0
}

// Written is when the leader wrote the view (the database's clock) and
// the epoch of that leader; zero without a view.
func (v *View) Written() (time.Time, int64) {
	if s := v.cur.Load(); s != nil {
		return s.at, s.epoch
	}
	return time.Time{}, 0
}

// Extra is what the leader's Config.ViewExtra put in the view (nil
// without one, or before the first view).
func (v *View) Extra() json.RawMessage {
	if s := v.cur.Load(); s != nil {
		return s.body.Extra
	}
	return nil
}

// Queues is every queue's view (queue.Service.Queues); nil before the
// first view.
func (v *View) Queues() []queue.QueueView {
	if s := v.cur.Load(); s != nil {
		return s.body.Queues
	}
	return nil
}

// Queue is one queue's view: queue.ErrUnknownQueue for a name the leader
// does not have, ErrNoView before the first view.
func (v *View) Queue(name string) (queue.QueueView, error) {
	s := v.cur.Load()
	if s == nil {
		return queue.QueueView{}, fmt.Errorf("queue %q: %w", name, ErrNoView)
	}
	i, ok := s.queues[name]
	if !ok {
		return queue.QueueView{}, fmt.Errorf("queue %q: %w", name, queue.ErrUnknownQueue)
	}
	return s.body.Queues[i], nil
}

// Agents is every agent's view (queue.Service.Agents); nil before the
// first view.
func (v *View) Agents() []queue.AgentInfo {
	if s := v.cur.Load(); s != nil {
		return s.body.Agents
	}
	return nil
}

// Agent is one agent's view: queue.ErrUnknownAgent, or ErrNoView.
func (v *View) Agent(id string) (queue.AgentInfo, error) {
	s := v.cur.Load()
	if s == nil {
		return queue.AgentInfo{}, fmt.Errorf("agent %q: %w", id, ErrNoView)
	}
	i, ok := s.agents[id]
	if !ok {
		return queue.AgentInfo{}, fmt.Errorf("agent %q: %w", id, queue.ErrUnknownAgent)
	}
	return s.body.Agents[i], nil
}

// Position is a waiting caller's position and EWT as of the view
// (queue.Service.Position): queue.ErrUnknownCall when the caller is not
// in it (not joined yet as of the view, or gone). As on one node, the
// position a caller is given never goes up, also across leaders.
func (v *View) Position(callID string) (queue.Position, error) {
	s := v.cur.Load()
	if s == nil {
		return queue.Position{}, fmt.Errorf("position %q: %w", callID, ErrNoView)
	}
	p, ok := s.body.Positions[callID]
	if !ok {
		return queue.Position{}, fmt.Errorf("position %q: %w", callID, queue.ErrUnknownCall)
	}
	v.mu.Lock()
	if last, ok := v.told[callID]; ok && p.Position > last && last > 0 {
		p.Position = last
	}
	v.told[callID] = p.Position
	v.mu.Unlock()
	return p, nil
}
