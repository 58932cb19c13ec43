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
	r.handoff("enqueue", n)
	if r.e.cfg.Enqueuer == nil {
		return "", r.end(store.OutcomeCompleted, ReasonHandoff)
	}
	req := QueueRequest{Queue: n.Queue, Flow: r.flow, Node: n.Name, Language: r.lang, Vars: maps.Clone(r.vars),
		Category: r.res.Category, Tags: append([]string(nil), r.res.Tags...), Priority: r.res.Priority}
	qr, err := r.e.cfg.Enqueuer.Enqueue(ctx, r.call, req)
	r.res.Queue = &qr
	if ctx.Err() != nil {
		r.res.Outcome = store.OutcomeAbandonedQueue
		return "", ctx.Err()
	}
	if err != nil {
		r.res.Err = fmt.Errorf("ivr: enqueue %q: %w", n.Queue, err)
		r.log.Error("ivr: enqueue failed", "queue", n.Queue, "err", err)
	}
	if err == nil && qr.Answered {
		return "", r.end(store.OutcomeCompleted, ReasonAnswered)
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

// callback plays the node's prompts and asks the scheduler for a callback
// to the caller's number. Without a scheduler the handoff is recorded,
// published and the flow ends (outcome callback_requested).
func (r *run) callback(ctx context.Context, n *flows.Node) (string, error) {
	if err := r.playRefs(ctx, n.Prompts, n.BargeIn); err != nil {
		return "", err
	}
	r.handoff("callback", n)
	if r.e.cfg.Callbacks == nil {
		return "", r.end(store.OutcomeCallbackRequested, ReasonHandoff)
	}
	req := CallbackRequest{CallID: r.call.ID(), Number: r.call.Caller(), Called: r.call.Called(), Queue: n.Queue,
		Language: r.lang, Vars: maps.Clone(r.vars), Category: r.res.Category, Tags: append([]string(nil), r.res.Tags...),
		Priority: r.res.Priority, RequestedAt: r.e.cfg.Clock.Now()}
	if err := r.e.cfg.Callbacks.ScheduleCallback(ctx, req); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		r.res.Err = fmt.Errorf("ivr: schedule callback: %w", err)
		r.log.Error("ivr: callback not scheduled", "queue", n.Queue, "err", err)
		return "", r.end(store.OutcomeFailed, ReasonError)
	}
	r.res.Outcome = store.OutcomeCallbackRequested
	if n.Next == "" {
		return "", r.end(store.OutcomeCallbackRequested, ReasonEnd)
	}
	return n.Next, nil
}

func (r *run) handoff(kind string, n *flows.Node) {
	r.res.Handoff = &Handoff{Kind: kind, Queue: n.Queue, Node: n.Name}
	r.log.Info("ivr: handoff", "kind", kind, "queue", n.Queue, "node", n.Name)
	r.publish(events.FlowHandoff, map[string]any{"kind": kind, "target": n.Queue, "node": n.Name})
}
