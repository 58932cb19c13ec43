// Package runstate writes the live state a restart must not lose (agents'
// presence, registrations, the queue records behind "today") to the store,
// off the call path: components hand it the latest state without waiting,
// and it writes in batches, coalescing repeated changes of one agent or one
// user to the last. A crash loses at most the last Interval of changes;
// while the database is down the pending state is kept (records up to
// MaxPending) and written when it answers again.
package runstate

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Config tunes a Writer.
type Config struct {
	Store      store.Runtime
	Interval   time.Duration // between writes; default 250ms
	MaxPending int           // queue records kept while the database is down; default 100000
	Boot       string        // this process's boot id: the prefix of record IDs
	// BindingsAtOnce writes a registration change at once instead of at
	// the next Interval: in a cluster, other nodes ring the phone from
	// the store's copy (docs/cluster.md).
	BindingsAtOnce bool
	Logger         *slog.Logger
}

// Writer batches state changes to the store. Its methods never block on
// the database.
type Writer struct {
	cfg Config

	mu       sync.Mutex
	agents   map[string]store.AgentState
	bindings map[string]store.UserBindings
	recs     []store.QueueRec
	seq      uint64
	dropped  int
	kick     chan struct{} // Run writes now (BindingsAtOnce)
}

// New builds a Writer; Run writes.
func New(cfg Config) *Writer {
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{cfg: cfg, kick: make(chan struct{}, 1),
		agents: map[string]store.AgentState{}, bindings: map[string]store.UserBindings{}}
}

// SaveAgent records an agent's latest presence.
func (w *Writer) SaveAgent(a store.AgentState) {
	w.mu.Lock()
	w.agents[a.AgentID] = a
	w.mu.Unlock()
}

// SaveBindings records a user's latest contacts.
func (w *Writer) SaveBindings(b store.UserBindings) {
	w.mu.Lock()
	w.bindings[b.Username] = b
	w.mu.Unlock()
	if w.cfg.BindingsAtOnce {
		select {
		case w.kick <- struct{}{}:
		default: // a write is due already: it takes this one too
		}
	}
}

// Rec records one queue record; its ID is assigned here.
func (w *Writer) Rec(r store.QueueRec) {
	w.mu.Lock()
	w.seq++
	r.ID = fmt.Sprintf("%s-%012d", w.cfg.Boot, w.seq)
	if len(w.recs) >= w.cfg.MaxPending {
		w.recs = w.recs[1:]
		w.dropped++
	}
	w.recs = append(w.recs, r)
	w.mu.Unlock()
}

// Run writes every Interval until ctx ends, then writes what is pending
// once more (bounded by a few seconds) and returns nil.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := w.Flush(fctx); err != nil {
				w.cfg.Logger.Error("runstate: last write failed; the latest state changes are lost", "err", err)
			}
			return nil
		case <-t.C:
		case <-w.kick:
		}
		err := w.Flush(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			w.cfg.Logger.Warn("runstate: cannot write live state; keeping it until the database answers", "err", err)
			failing = true
		case err == nil && failing:
			w.cfg.Logger.Info("runstate: live state written again")
			failing = false
		}
	}
}

// Flush writes what is pending now. What fails to write stays pending
// (unless a newer state of the same agent or user replaced it meanwhile).
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	agents, bindings, recs, dropped := w.agents, w.bindings, w.recs, w.dropped
	w.agents, w.bindings, w.recs, w.dropped = map[string]store.AgentState{}, map[string]store.UserBindings{}, nil, 0
	w.mu.Unlock()
	if dropped > 0 {
		w.cfg.Logger.Error("runstate: queue records dropped while the database was down; today's figures will miss them", "dropped", dropped)
	}
	err := saveLatest(ctx, &w.mu, &w.agents, agents, w.cfg.Store.SaveAgents)
	if e := saveLatest(ctx, &w.mu, &w.bindings, bindings, w.cfg.Store.SaveBindings); e != nil {
		err = e
	}
	if len(recs) > 0 {
		if e := w.cfg.Store.AppendQueueRecs(ctx, recs); e != nil {
			err = e
			w.mu.Lock()
			w.recs = append(recs, w.recs...)
			if n := len(w.recs) - w.cfg.MaxPending; n > 0 {
				w.recs, w.dropped = w.recs[n:], w.dropped+n
			}
			w.mu.Unlock()
		}
	}
	return err
}

// saveLatest writes taken, the latest state per key that Flush took from
// *pending. When the write fails, each value goes back to *pending unless
// a newer one for its key arrived meanwhile (the latest state wins).
func saveLatest[V any](ctx context.Context, mu *sync.Mutex, pending *map[string]V, taken map[string]V,
	save func(context.Context, []V) error) error {
	if len(taken) == 0 {
		return nil
	}
	vs := make([]V, 0, len(taken))
	for _, v := range taken {
		vs = append(vs, v)
	}
	err := save(ctx, vs)
	if err == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	for k, v := range taken {
		if _, newer := (*pending)[k]; !newer {
			(*pending)[k] = v
		}
	}
	return err
}
