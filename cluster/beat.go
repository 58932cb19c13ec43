package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/store/postgres"
)

// errTakeoverTooLong ends a takeover whose long steps, beating aside,
// took more than takeoverMax in all: a snapshot read that slow is more
// likely stuck (a lock never released, a server gone silent) than nearly
// done, and the cluster is better off letting another node, or this one
// again, try afresh.
var errTakeoverTooLong = errors.New("cluster: takeover's long steps took too long")

// takeoverMax is how long a takeover's long steps may beat aside in all
// before it gives up (the test seam's, or 6 × LeaderExpiry); asideEvery
// how often they beat (LeaderExpiry/4, as an idle leader commits).
func (n *Node) takeoverMax() time.Duration {
	if n.cfg.maxAside > 0 {
		return n.cfg.maxAside
	}
	return 6 * n.cfg.LeaderExpiry
}

func (n *Node) asideEvery() time.Duration {
	if n.cfg.everyAside > 0 {
		return n.cfg.everyAside
	}
	return n.cfg.LeaderExpiry / 4
}

// aside runs one long step of a takeover, f (the snapshot's read, which
// may wait on locks or read tens of thousands of rows; Resumed over a
// day's records), while a goroutine beats on a pooled connection every
// asideEvery, since the lock's connection is busy with the step and
// keepBeat only beats between steps. The beat is fenced (BeatAside: the
// epoch, and the lock still held by this leader's session), so a deposed
// leader cannot beat. The takeover's steps beat aside for takeoverMax at
// most in all; past it, or when a beat is fenced, f's context is
// cancelled and aside returns why (errTakeoverTooLong, ErrFenced); a beat
// that fails otherwise (a timeout) is tried again at the next tick. The
// goroutine ends before aside returns. A leader hung elsewhere (an
// import, keepBeat's steps) does not beat and is deposed as before.
func (l *leader) aside(ctx context.Context, what string, f func(context.Context) error) error {
	every := l.n.asideEvery()
	left := l.n.takeoverMax() - l.asided
	if left <= 0 {
		return fmt.Errorf("takeover: %s: %w (%s)", what, errTakeoverTooLong, l.n.takeoverMax())
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var beat time.Time // the last beat aside; read after wg.Wait
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		bound := time.NewTimer(left)
		defer bound.Stop()
		for {
			select {
			case <-stop:
				return
			case <-sctx.Done():
				return
			case <-bound.C:
				cancel(fmt.Errorf("takeover: %s: %w (%s)", what, errTakeoverTooLong, l.n.takeoverMax()))
				return
			case <-tick.C:
			}
			bctx, bcancel := context.WithTimeout(sctx, every)
			err := l.db.BeatAside(bctx)
			bcancel()
			switch {
			case err == nil:
				beat = time.Now()
			case sctx.Err() != nil: // the step ended meanwhile
				return
			case errors.Is(err, postgres.ErrFenced):
				// Deposed, or superseded: the step's work is for nothing.
				cancel(fmt.Errorf("takeover: %s: %w", what, err))
				return
			default:
				// A slow or unreachable server: the next tick tries again.
				// Followers depose this leader if no beat lands for
				// LeaderExpiry, as they should.
				l.n.log.Warn("cluster: takeover's beat aside failed", "epoch", l.db.Epoch, "step", what, "err", err)
			}
		}
	}()
	began := time.Now()
	err := f(sctx)
	close(stop)
	wg.Wait()
	l.asided += time.Since(began)
	if beat.After(l.beat) {
		l.beat = beat
	}
	// Given up or fenced: that is the reason, whatever f made of the
	// cancellation (and also when f finished just as it came).
	if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
		l.n.log.Warn("cluster: takeover given up", "epoch", l.db.Epoch, "step", what, "after", time.Since(began).Round(time.Millisecond), "err", cause)
		return cause
	}
	return err
}
