package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hotline-dev/hotline/store/postgres"
)

// Run serves until ctx ends, a component fails, or Close is called, then
// shuts down in order: SIP first (new calls get 503, live calls get
// sip.drain_time to finish, then BYE: also when another component failed),
// then HTTP (open event streams end), then the agent legs' user agent; the
// components' loops stop, the call log is flushed (to the database or the
// spool) and the store closed. Close during the shutdown cuts the drains
// short. Run returns nil after a clean stop, else the failure that started
// the shutdown joined with what went wrong during it. Run is called once;
// after Close it returns nil at once.
func (a *App) Run(ctx context.Context) error {
	a.life.Lock()
	switch {
	case a.closed:
		a.life.Unlock()
		return nil
	case a.running:
		a.life.Unlock()
		return errors.New("app: Run called twice")
	}
	a.running = true
	a.life.Unlock()
	defer close(a.torndown)

	// Every component serves on serveCtx, which ends only once the ordered
	// shutdown has drained them: a failure elsewhere must not hang up live
	// calls, stop the queue's deadlines or drop the agents' legs. Each
	// returns nil on a clean stop; an error is a failure, and failed ends
	// with the first.
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	logCtx, stopLog := context.WithCancel(context.Background())
	defer stopLog()
	g, failed := errgroup.WithContext(context.Background())
	lg := new(errgroup.Group)
	lg.Go(func() error { return a.calls.Run(logCtx) })
	lg.Go(func() error { return a.state.Run(logCtx) })    // its last write follows the drain
	lg.Go(func() error { return a.webhooks.Run(logCtx) }) // the drain's call records make call.ended events too
	g.Go(func() error { return a.sip.Serve(serveCtx) })
	g.Go(func() error { return a.http.Serve(serveCtx) })
	g.Go(func() error { return a.acd.client.Run(serveCtx) })
	g.Go(func() error { return a.metrics.run(serveCtx, a.bus.Subscribe(4096)) })
	g.Go(func() error { return a.acd.svc.Run(serveCtx) })
	g.Go(func() error { return a.acd.svc.RunAlerts(serveCtx) }) // wallboard thresholds; returns at once without any
	g.Go(func() error { return a.acd.reg.Run(serveCtx) })
	g.Go(func() error { return a.callbacks.Run(serveCtx) })
	if a.sweeper != nil {
		g.Go(func() error { return a.sweeper.Run(serveCtx) }) // call recordings' retention
	}
	if a.spooled != nil {
		g.Go(func() error { return a.spooled.Run(serveCtx) }) // recordings spooled in a database outage
	}
	if c := a.acd.cluster; c != nil {
		// The cluster view (reads, positions, /readyz) and the event
		// relay (SSE) stop with the node, before the database closes.
		g.Go(func() error { return c.view.Run(serveCtx) })
		g.Go(func() error { return c.relay.Run(serveCtx) })
		g.Go(func() error { return c.callbacks.recoverOwn(serveCtx) })
		g.Go(func() error {
			err := c.node.Run(serveCtx)
			if errors.Is(err, postgres.ErrNodeLost) {
				// The leader has taken this node's callers out of the
				// queues (or will, having heard nothing for node_timeout):
				// nobody will answer them here. End the calls at once
				// (Close: no drain) and exit non-zero.
				a.log.Error("cluster: this node was declared lost; ending its calls and exiting", "node", c.node.ID(), "err", err)
				a.lost.Store(true)
				a.closeNow()
				return fmt.Errorf("%w: %w", errNodeLost, err)
			}
			if err != nil {
				return fmt.Errorf("cluster node %s: %w", c.node.ID(), err)
			}
			return nil
		})
	}
	if a.cfg.Flows.Watch {
		g.Go(func() error { return a.flows.Watch(serveCtx) })
	}
	a.log.Info("hotline serving", "sip", a.SIPAddrs(), "http", a.HTTPAddr().String(),
		"flows", a.flowNames(), "database", redactURL(a.cfg.Database.URL))

	var runErr error
	select {
	case <-ctx.Done():
	case <-a.closeCtx.Done():
	case <-failed.Done():
		runErr = context.Cause(failed)
		a.log.Error("a component failed; shutting down (live calls are drained)", "err", runErr)
	}
	if runErr == nil && a.lost.Load() {
		runErr = errNodeLost // closeNow raced the group's failure
	}
	a.stopping.Store(true)
	a.log.Info("shutting down", "drain_time", a.cfg.SIP.DrainTime, "active_calls", a.sip.ActiveCalls())
	// Callbacks in progress (a customer on the line, maybe talking with an
	// agent) get the same drain time as inbound calls, at the same time;
	// those still up then are hung up and recorded interrupted (retried
	// after the restart).
	cbDrained := make(chan error, 1)
	go func() { cbDrained <- a.drain(a.shutdownCallbacks, a.cfg.SIP.DrainTime, "callbacks") }()
	err := a.drain(a.sip.Shutdown, a.cfg.SIP.DrainTime, "sip")
	err = errors.Join(err, <-cbDrained)
	a.acd.callbacks.close()
	err = errors.Join(err, a.drain(a.http.Shutdown, 5*time.Second, "http"))
	// Answered agent legs no queue took, then the legs still up (their
	// calls have ended with the drain).
	err = errors.Join(err, a.acd.ringer.Close())
	err = errors.Join(err, a.drain(a.acd.client.Shutdown, 5*time.Second, "sip client"))
	stopServing()
	err = errors.Join(err, g.Wait())
	if c := a.acd.cluster; c != nil {
		// The node's Run has returned (g.Wait), so the lead is given up;
		// the last term's scheduler records its calls before the store
		// closes.
		err = errors.Join(err, c.callbacks.wait(10*time.Second))
		c.db.Close()
	}
	err = errors.Join(err, a.drain(a.calls.Shutdown, 10*time.Second, "call log"))
	stopLog()
	err = errors.Join(err, lg.Wait(), a.store.Close())
	return errors.Join(runErr, err)
}

// shutdownCallbacks drains the callbacks in progress: the scheduler's, or
// in a cluster this node's lead term's too.
func (a *App) shutdownCallbacks(ctx context.Context) error {
	err := a.callbacks.Shutdown(ctx)
	if c := a.acd.cluster; c != nil {
		err = errors.Join(err, c.callbacks.Shutdown(ctx))
	}
	return err
}

// drain runs a component's Shutdown within d, or until Close. Shutdown
// then returns the context's error: the end of the SIP drain time is the
// documented shutdown (the remaining calls were sent BYE), and Close asked
// for the cut, so neither is a failure; for the others the deadline is one.
func (a *App) drain(shutdown func(context.Context) error, d time.Duration, what string) error {
	ctx, cancel := context.WithTimeout(a.closeCtx, d)
	defer cancel()
	err := shutdown(ctx)
	switch {
	case err == nil:
		return nil
	case a.closeCtx.Err() != nil && errors.Is(err, context.Canceled):
		return nil
	case (what == "sip" || what == "callbacks") && errors.Is(err, context.DeadlineExceeded):
		a.log.Info("drain time over; remaining calls hung up")
		return nil
	}
	return fmt.Errorf("%s: shutdown: %w", what, err)
}

// Close stops everything at once, without the drain: live calls are hung
// up, HTTP connections and event streams cut, the call log closed with
// what the database has not got yet left in the spool (durable there), the
// store closed. A Run in progress does that (its drains end at once) and
// Close waits for it; without Run, Close releases what New built. Safe to
// call more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.life.Lock()
		a.closed = true
		running := a.running
		a.life.Unlock()
		a.stopping.Store(true)
		a.closeNow()
		if running {
			<-a.torndown // Run reports its own errors
			return
		}
		a.closeErr = a.release()
	})
	return a.closeErr
}

// release runs the undo list, newest first.
func (a *App) release() error {
	var err error
	for i := len(a.undo) - 1; i >= 0; i-- {
		err = errors.Join(err, a.undo[i]())
	}
	a.undo = nil
	return err
}
