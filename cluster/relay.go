package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store/postgres"
)

// RelayConfig builds a Relay.
type RelayConfig struct {
	Node string // this node's ID (Config.ID)
	DB   *postgres.Cluster
	Bus  *events.Bus
	// Buffer is the local subscription's buffer; default 16384 events. A
	// relay that falls that far behind loses events (Dropped): a board
	// sees the gap in OriginSeq.
	Buffer int
	// Batch caps the events sent in one transaction; default 256.
	Batch  int
	Logger *slog.Logger
}

// Relay carries events between the nodes' buses (docs/cluster.md "Events
// on every node"): it sends every event published on this node's bus to
// the others on a notification channel, and republishes theirs here with
// Bus.PublishRemote, so they reach the event stream (SubscribeAll) but
// not metrics, the ticket history, alerts or wrap-up grants, which count
// each event on its own node. Events keep their origin node and its
// sequence number (events.Event Origin, OriginSeq), and each origin's
// order; their Payload is the origin's JSON, a json.RawMessage. Like the bus, the relay never holds a call up: a node that is
// not listening, or falls behind, misses events (the stream is live).
type Relay struct {
	cfg     RelayConfig
	log     *slog.Logger
	ready   chan struct{}
	sent    atomic.Uint64
	got     atomic.Uint64
	dropped atomic.Uint64
}

// NewRelay builds a relay and names cfg.Bus's node (Bus.SetNode), so this
// node's events carry their origin from now on.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 16384
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Bus.SetNode(cfg.Node)
	return &Relay{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), ready: make(chan struct{})}
}

// Ready is closed once Run listens and subscribes: events published on
// any node after it reach this one.
func (r *Relay) Ready() <-chan struct{} { return r.ready }

// Counts: events sent to the other nodes, received from them, and lost
// (not sent, or not readable).
func (r *Relay) Counts() (sent, received, dropped uint64) {
	return r.sent.Load(), r.got.Load(), r.dropped.Load()
}

// Run relays until ctx ends; it returns nil then. A listener that fails
// (the database restarts, a connection drops) is opened again with a
// back-off up to 5 s: the events in between are missed, as a stream that
// falls behind misses them, and the node keeps serving.
func (r *Relay) Run(ctx context.Context) error {
	sub := r.cfg.Bus.Subscribe(r.cfg.Buffer) // this node's events only: no echo
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the sender
		defer wg.Done()
		r.send(ctx, sub)
	}()
	defer func() { cancel(); sub.Close(); wg.Wait() }()
	var once sync.Once
	backoff := 100 * time.Millisecond
	for {
		ln, err := r.cfg.DB.Listen(ctx, postgres.ChanEvents)
		if err == nil {
			once.Do(func() { close(r.ready) })
			began := time.Now()
			err = r.listen(ctx, ln)
			ln.Close()
			if time.Since(began) > 10*time.Second {
				backoff = 100 * time.Millisecond
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("cluster relay: not listening, retrying (other nodes' events are missed meanwhile)", "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen republishes other nodes' events until the listener fails.
func (r *Relay) listen(ctx context.Context, ln *postgres.Listener) error {
	for {
		_, payload, err := ln.WaitPayload(ctx)
		if err != nil {
			return err
		}
		r.receive(ctx, payload)
	}
}

func (r *Relay) receive(ctx context.Context, payload string) {
	body := []byte(payload)
	if id, node, ok := postgres.EventRef(payload); ok {
		if node == r.cfg.Node {
			return
		}
		// Read here, in the listener's order: the origin's order holds.
		b, err := r.cfg.DB.EventBody(ctx, id)
		if err != nil {
			r.dropped.Add(1)
			r.log.Warn("cluster relay: stored event unreadable", "event", id, "origin", node, "err", err)
			return
		}
		body = b
	}
	// The payload stays the origin's JSON (json.RawMessage): the stream
	// sends it byte for byte, and numbers keep their precision.
	var w struct {
		events.Event
		Data json.RawMessage `json:"data"` // shadows Event.Payload
	}
	if err := json.Unmarshal(body, &w); err != nil {
		r.dropped.Add(1)
		r.log.Warn("cluster relay: bad event", "err", err)
		return
	}
	e := w.Event
	if len(w.Data) > 0 {
		e.Payload = w.Data
	}
	if e.Origin == r.cfg.Node || e.Origin == "" {
		return
	}
	r.got.Add(1)
	r.cfg.Bus.PublishRemote(e)
}

// pruneEvery is how often the sender deletes stored events past their
// keep (a minute).
const pruneEvery = 30 * time.Second

func (r *Relay) send(ctx context.Context, sub *events.Subscription) {
	var pruned time.Time
	bodies := make([][]byte, 0, r.cfg.Batch)
	for {
		bodies = bodies[:0]
		add := func(e events.Event) {
			if e.Origin == "" { // published before SetNode
				e.Origin, e.OriginSeq = r.cfg.Node, e.Seq
			}
			b, err := json.Marshal(e)
			if err != nil {
				r.dropped.Add(1)
				r.log.Warn("cluster relay: event not encodable", "type", e.Type, "call_id", e.CallID, "err", err)
				return
			}
			bodies = append(bodies, b)
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			add(e)
		}
	more: // what is already waiting goes in the same transaction
		for len(bodies) < r.cfg.Batch {
			select {
			case e, ok := <-sub.C:
				if !ok {
					break more
				}
				add(e)
			default:
				break more
			}
		}
		if len(bodies) == 0 {
			continue
		}
		prune := time.Since(pruned) >= pruneEvery
		// Not ctx alone: the events already taken go out on shutdown too,
		// within a bound.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := r.cfg.DB.PublishEvents(sctx, r.cfg.Node, bodies, prune)
		cancel()
		if err != nil {
			r.dropped.Add(uint64(len(bodies)))
			r.log.Warn("cluster relay: events not sent", "events", len(bodies), "err", err)
			continue
		}
		if prune {
			pruned = time.Now()
		}
		r.sent.Add(uint64(len(bodies)))
	}
}
