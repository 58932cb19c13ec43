package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/hotline-dev/hotline/runstate"
	"github.com/hotline-dev/hotline/store"
)

// lazyRuntime is store.Runtime on the lazily (re)opened store: the live
// state waits in the runstate writer while the database is down.
type lazyRuntime struct{ l *lazyStore }

var _ store.Runtime = lazyRuntime{}

func (r lazyRuntime) SaveBindings(ctx context.Context, bs []store.UserBindings) error {
	return withPart(ctx, r.l, func(rt store.Runtime) error { return rt.SaveBindings(ctx, bs) })
}

func (r lazyRuntime) Bindings(ctx context.Context, now time.Time) ([]store.UserBindings, error) {
	return withPartT(ctx, r.l, func(rt store.Runtime) ([]store.UserBindings, error) { return rt.Bindings(ctx, now) })
}

func (r lazyRuntime) SaveAgents(ctx context.Context, as []store.AgentState) error {
	return withPart(ctx, r.l, func(rt store.Runtime) error { return rt.SaveAgents(ctx, as) })
}

func (r lazyRuntime) Agents(ctx context.Context) ([]store.AgentState, error) {
	return withPartT(ctx, r.l, func(rt store.Runtime) ([]store.AgentState, error) { return rt.Agents(ctx) })
}

func (r lazyRuntime) AppendQueueRecs(ctx context.Context, rs []store.QueueRec) error {
	return withPart(ctx, r.l, func(rt store.Runtime) error { return rt.AppendQueueRecs(ctx, rs) })
}

func (r lazyRuntime) QueueRecs(ctx context.Context, since time.Time) ([]store.QueueRec, error) {
	return withPartT(ctx, r.l, func(rt store.Runtime) ([]store.QueueRec, error) { return rt.QueueRecs(ctx, since) })
}

func newStateWriter(a *App) *runstate.Writer {
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return runstate.New(runstate.Config{Store: lazyRuntime{a.store}, Logger: a.log, BindingsAtOnce: a.cfg.Cluster.Enabled,
		Boot: time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)})
}

// restoreState puts back the registrations, agents' presence and the
// queue records a previous run left, when the database answers at start
// (within database.timeout); otherwise the server starts without them and
// says so.
func (a *App) restoreState(ctx context.Context) {
	rt := lazyRuntime{a.store}
	ctx, cancel := context.WithTimeout(ctx, max(a.cfg.Database.Timeout, time.Second))
	defer cancel()
	now := time.Now()
	since := a.acd.svc.Stats().Since(now)
	bs, err := rt.Bindings(ctx, now)
	var as []store.AgentState
	var recs []store.QueueRec
	if err == nil {
		as, err = rt.Agents(ctx)
	}
	if err == nil {
		recs, err = rt.QueueRecs(ctx, since)
	}
	if err != nil {
		a.log.Error("live state not restored: agents start logged out, phones must re-register, today's figures start at zero", "err", err)
		return
	}
	a.acd.reg.Restore(bs)
	if a.acd.cluster != nil {
		// The leader's snapshot holds the agents' presence; this node's
		// Service is only its copy of the configuration.
		a.log.Info("live state restored", "registrations", len(bs))
		return
	}
	a.acd.svc.Restore(as, recs)
	a.log.Info("live state restored", "registrations", len(bs), "agents", len(as), "queue_records", len(recs))
}
