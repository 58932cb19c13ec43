package ivr

import (
	"context"
	"fmt"
	"maps"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/store"
)

// enqueue plays the node's prompts and hands the caller to the Enqueuer.
// Without one, the handoff is recorded, published and the flow ends: the
// application then queues the call itself. With one, an answered call ends
// the flow; a caller who leaves the queue goes to the node the queue chose
// (exit key, queue exit) or the node's next, and with neither the call ends.
func (r *run) enqueue(ctx context.Context, n *flows.Node) (string, error) {
	if err := r.playRefs(ctx, n.Prompts, n.BargeIn); err != nil {
		return "", err
	}
	r.handoff("enqueue", n.Queue, n)
	if r.e.cfg.Enqueuer == nil {
		return "", r.end(store.OutcomeCompleted, ReasonHandoff)
	}
	qr, err := r.queue(ctx, n)
	return r.queued(ctx, n, qr, err)
}

// queue hands the caller to the Enqueuer, which returns when they leave
// the queue. It and queued are apart from enqueue, and not inlined, so
// that the frames a held caller keeps for minutes below the queue's wait
// hold only the request, not the result's handling.
//
//go:noinline
func (r *run) queue(ctx context.Context, n *flows.Node) (*QueueResult, error) {
	req := QueueRequest{Queue: n.Queue, Flow: r.flow, Node: n.Name, Language: r.lang, Vars: maps.Clone(r.vars),
		Category: r.res.Category, Tags: append([]string(nil), r.res.Tags...), Priority: r.res.Priority}
	qr, err := r.e.cfg.Enqueuer.Enqueue(ctx, r.call, req)
	p := new(QueueResult) // not &qr: that would be allocated before the wait, and kept during it
	*p = qr
	return p, err
}

// queued records what the queue said happened and picks the next node.
//
//go:noinline
func (r *run) queued(ctx context.Context, n *flows.Node, qr *QueueResult, err error) (string, error) {
	r.res.Legs = append(r.res.Legs, qr.Legs...)
	r.res.Recordings = append(r.res.Recordings, qr.Recordings...)
	r.queuePos = qr.Position
	if err != nil && ctx.Err() == nil {
		r.res.Err = fmt.Errorf("ivr: enqueue %q: %w", n.Queue, err)
		r.log.Error("ivr: enqueue failed", "queue", n.Queue, "err", err)
	}
	// What the queue says happened decides, not whether the call is still
	// up: the caller's BYE ends ctx too, and an answered call is completed
	// whoever hangs up first.
	if qr.Answered {
		return "", r.end(store.OutcomeCompleted, ReasonAnswered)
	}
	if ctx.Err() != nil {
		r.res.Outcome = store.OutcomeAbandonedQueue
		return "", ctx.Err()
	}
	next := n.Next
	if qr.Next != "" {
		if _, ok := r.flow.Nodes[qr.Next]; ok {
			next = qr.Next
		} else {
			r.log.Error("ivr: queue chose an unknown node, using next", "queue", n.Queue, "node", qr.Next)
		}
	}
	if next == "" {
		if err != nil {
			return "", r.end(store.OutcomeFailed, ReasonError)
		}
		return "", r.end(store.OutcomeAbandonedQueue, ReasonEnd)
	}
	return next, nil
}

// waitedIn is the caller's last leg when it was a wait in a queue that
// nobody answered: where they were when they asked for a callback.
func (r *run) waitedIn() (store.CallLeg, bool) {
	if len(r.res.Legs) == 0 {
		return store.CallLeg{}, false
	}
	l := r.res.Legs[len(r.res.Legs)-1]
	if l.Queue == "" || l.Number != "" || l.Answered() {
		return store.CallLeg{}, false
	}
	return l, true
}

func (r *run) handoff(kind, queue string, n *flows.Node) {
	r.res.Handoff = &Handoff{Kind: kind, Queue: queue, Node: n.Name}
	r.log.Info("ivr: handoff", "kind", kind, "queue", queue, "node", n.Name)
	r.publish(events.FlowHandoff, FlowHandoff{Kind: kind, Target: queue, Node: n.Name})
}
