package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
)

// callbackDialer is what the ACD adapter needs of the scheduler;
// *callback.Scheduler satisfies it.
type callbackDialer interface {
	Dial(ctx context.Context, id int64, g callback.Go) error
}

// callbackQueue is what the adapter needs of the ACD: *queue.Service on
// one node, leaderQueue (the leader's Service, driven from its Step
// goroutine) in a cluster.
type callbackQueue interface {
	OfferCallback(c queue.CallbackEntry) error
	WithdrawCallback(key string) error
	CallbackEnded(key string) error
	CallbackFailed(key string) error
	CallbackPosition(key string) (queue.Position, error)
	CallbackAgent(key string) (agent, offer string, ok bool)
}

// agentLegs hands over an answered agent leg; *queue.SIPRinger has it.
type agentLegs interface {
	Take(offerID string) (bridge.Call, bool)
}

// pacingRetry spaces the dials tried again after callback.ErrPacing: the
// scheduler counts a call as dialling until it has written the call's end,
// a moment after the queue was told the call ended and freed its agent,
// so the next callback's dial can find the count not yet down.
var pacingRetry = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second}

// callbackACD puts the callback scheduler's line in the queue: it is the
// callback.ACD the scheduler offers due callbacks to (each one a
// queue.CallbackEntry keyed "callback:<id>") and the queue's CallbackHook
// that dials one when its turn comes. The dials run on the adapter's own
// goroutine (run), off the queue's lock and off the scheduler's goroutine
// that calls the ACD; close stops it.
//
// Wiring (the lead's): build it, give it to queue.Config.Callbacks, set
// svc; build the scheduler with ACD: it and Dialer: it.wrap(dialler); set
// sched (and legs, enqueuer); then start.
type callbackACD struct {
	svc   callbackQueue
	sched callbackDialer
	legs  agentLegs // nil: an unclaimed agent-first leg stays with the ringer (its Close hangs it up)
	// offerID is the ID the ringer knows an offer of svc by: the Service's
	// own on one node, "<epoch>.<id>" on a cluster's leader. nil: the same.
	offerID  func(string) string
	enqueuer *queue.Enqueuer // for rejoin
	// pick, in a cluster's lead term, is the node that places a
	// customer-first callback's call ("": the leader); unpick undoes a
	// pick whose dial did not go ahead (cluster_dial.go).
	pick   func() string
	unpick func(node string)
	log    *slog.Logger
	retry  []time.Duration // pacingRetry unless set

	mu      sync.Mutex
	work    []dueItem
	kick    chan struct{}
	stop    context.CancelFunc
	stopped chan struct{}
}

type dueItem struct {
	d     queue.CallbackDue
	tries int
	at    time.Time // not before
}

var (
	_ callback.ACD       = (*callbackACD)(nil)
	_ queue.CallbackHook = (*callbackACD)(nil)
)

func newCallbackACD(log *slog.Logger) *callbackACD {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &callbackACD{log: log.With("component", "callback-acd"), retry: pacingRetry, kick: make(chan struct{}, 1)}
}

// callbackKey names callback id in the queue.
func callbackKey(id int64) string { return "callback:" + strconv.FormatInt(id, 10) }

func callbackID(key string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(key, "callback:"), 10, 64)
	return n, err == nil && strings.HasPrefix(key, "callback:")
}

// Offer implements callback.ACD.
func (a *callbackACD) Offer(w callback.Waiting) {
	err := a.svc.OfferCallback(queue.CallbackEntry{Key: callbackKey(w.ID), Queue: w.Queue, Tier: w.Place.Tier,
		JoinedAt: w.Place.JoinedAt, AgentFirst: w.Mode == store.CallbackAgentFirst, Caller: w.Number})
	if err != nil {
		// A queue no longer configured: it waits in the scheduler until it expires.
		a.log.Warn("callback: not put in its queue's line", "callback", w.ID, "queue", w.Queue, "err", err)
	}
}

// Withdraw implements callback.ACD.
func (a *callbackACD) Withdraw(_ string, id int64) {
	if err := a.svc.WithdrawCallback(callbackKey(id)); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
		a.log.Warn("callback: withdraw", "callback", id, "err", err)
	}
}

// Position implements callback.ACD.
func (a *callbackACD) Position(_ string, id int64) (int, bool) {
	p, err := a.svc.CallbackPosition(callbackKey(id))
	return p.Position, err == nil
}

// Due implements queue.CallbackHook: queued for run, never blocking.
func (a *callbackACD) Due(d queue.CallbackDue) { a.push(dueItem{d: d}) }

func (a *callbackACD) push(it dueItem) {
	a.mu.Lock()
	a.work = append(a.work, it)
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// start runs the dials until close.
func (a *callbackACD) start() {
	ctx, stop := context.WithCancel(context.Background())
	a.stop, a.stopped = stop, make(chan struct{})
	go func() {
		defer close(a.stopped)
		a.run(ctx)
	}()
}

// close stops run and waits for it. Dues not yet dialled are dropped: the
// scheduler, shutting down too, dials nothing more.
func (a *callbackACD) close() {
	if a.stop == nil {
		return
	}
	a.stop()
	<-a.stopped
}

func (a *callbackACD) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		var ready []dueItem
		next := time.Time{}
		a.mu.Lock()
		keep := a.work[:0]
		for _, it := range a.work {
			switch {
			case !it.at.After(now):
				ready = append(ready, it)
			default:
				keep = append(keep, it)
				if next.IsZero() || it.at.Before(next) {
					next = it.at
				}
			}
		}
		a.work = keep
		a.mu.Unlock()
		for _, it := range ready {
			if ctx.Err() != nil {
				return
			}
			a.dial(ctx, it)
		}
		if len(ready) > 0 {
			continue // dial may have queued a retry
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-t.C:
		}
	}
}

// dial asks the scheduler to dial a due callback; a refusal gives the
// queue its agent back (after a few tries for pacing, see pacingRetry).
func (a *callbackACD) dial(ctx context.Context, it dueItem) {
	d := it.d
	id, ok := callbackID(d.Key)
	if !ok {
		a.log.Error("callback: due with a key that is not a callback's", "key", d.Key)
		return
	}
	g := callback.Go{FreeAgents: d.FreeAgents}
	if d.AgentFirst {
		g.Agent = d.Agent
	} else if a.pick != nil {
		g.Node = a.pick()
	}
	err := a.sched.Dial(ctx, id, g)
	if err == nil {
		a.log.Info("callback: dialling", "callback", id, "queue", d.Queue, "agent", d.Agent, "agent_first", d.AgentFirst, "node", g.Node)
		return
	}
	if g.Node != "" {
		a.unpick(g.Node)
	}
	if errors.Is(err, callback.ErrPacing) && it.tries < len(a.retry) {
		it.at, it.tries = time.Now().Add(a.retry[it.tries]), it.tries+1
		a.push(it)
		return
	}
	a.log.Info("callback: dial refused; the agent goes back to the queue", "callback", id, "queue", d.Queue,
		"agent", d.Agent, "err", err)
	if d.AgentFirst && a.legs != nil {
		if leg, ok := a.legs.Take(a.ringerOffer(d.Offer)); ok {
			_ = bridge.Hangup(ctx, leg)
		}
	}
	if err := a.svc.CallbackFailed(d.Key); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
		a.log.Warn("callback: failed bookkeeping", "callback", id, "err", err)
	}
}

// wrap is the scheduler's Dialer: d places the call; when it returns the
// queue hears the callback's call is over (CallbackEnded: the entry
// leaves the line and its agent is freed, unless its customer already
// rejoined as a caller) before the scheduler records the result and,
// for a retry, offers it again.
func (a *callbackACD) wrap(d callback.Dialer) callback.Dialer {
	return callback.DialerFunc(func(ctx context.Context, r callback.DialRequest, p callback.Progress) callback.Result {
		res := d.Dial(ctx, r, p)
		if err := a.svc.CallbackEnded(callbackKey(r.CallbackID)); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
			a.log.Warn("callback: ended bookkeeping", "callback", r.CallbackID, "err", err)
		}
		return res
	})
}

// rejoin puts a confirmed customer-first customer (call: Hotline's
// outbound call) back in r.Queue at their place, ringing the agent
// reserved for them first, and holds and bridges them as any caller; it
// returns when they left the queue or the bridged call ended. For the
// Dialer.
func (a *callbackACD) rejoin(ctx context.Context, call ivr.Call, r callback.DialRequest) (ivr.QueueResult, error) {
	if a.enqueuer == nil {
		return ivr.QueueResult{}, fmt.Errorf("callback %d: no enqueuer to rejoin queue %q", r.CallbackID, r.Queue)
	}
	return a.enqueuer.Rejoin(ctx, call, ivr.QueueRequest{Queue: r.Queue, Language: r.Language},
		queue.Rejoin{JoinedAt: r.JoinedAt, Tier: r.Tier, Reservation: callbackKey(r.CallbackID)})
}

// agentLeg hands an agent-first callback's answered agent leg to the
// Dialer (once), with the agent's ID. The agent is on the callback's call
// until the Dialer returns (or calls queue.Service.Hangup(key)).
func (a *callbackACD) agentLeg(r callback.DialRequest) (bridge.Call, string, bool) {
	if a.svc == nil { // a node placing a call for the leader: agent-first calls stay on the leader
		return nil, "", false
	}
	agent, offer, ok := a.svc.CallbackAgent(callbackKey(r.CallbackID))
	if !ok || a.legs == nil {
		return nil, "", false
	}
	leg, ok := a.legs.Take(a.ringerOffer(offer))
	return leg, agent, ok
}

func (a *callbackACD) ringerOffer(id string) string {
	if a.offerID == nil {
		return id
	}
	return a.offerID(id)
}
