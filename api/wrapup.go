package api

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
)

// The wrap-up grant. An agent may wrap up (POST /tickets/{id}/notes) the
// tickets of the customer whose call it answered. The call's own
// interaction reaches the ticket history only after the call has ended
// and the call log has written it (calllog: spool, then the store in
// batches, later still while the database is slow or down), and the ACD
// forgets the caller when the agent's wrap-up time ends (at once with
// wrap_up: 0s). So the right cannot come from the stored interaction
// alone, or the agent who presses Save right after hanging up would be
// refused. It comes from the call events instead: queue.joined says who
// call X's caller is, call.bridged that agent A answered call X. The bus
// calls observe on the publisher's goroutine (events.Bus.Observe), so a
// request sent after the agent answered always finds the grant; a grant
// lasts wrapUpGrace, by which time the call is logged (the stored
// interaction then keeps the right for good: mayWrapUp). In a cluster the
// grants follow every node's events (Bus.ObserveAll): the caller's
// queue.joined comes from the leader, call.bridged from the caller's
// node, and the agent may be using any node's API. A grant is a set entry
// per agent and call, so seeing an event again (a new leader's rejoin)
// grants nothing twice.

const (
	wrapUpGrace = time.Hour // a grant outlives its call this long
	maxHandled  = 16        // grants kept per agent, newest first out last
	maxPending  = 100_000   // callers of calls in progress remembered (a bound, not a limit in practice)
)

type handledCall struct {
	callID, caller string
	at             time.Time // when the agent answered
}

type wrapUps struct {
	now     func() time.Time // the Server's clock: grants are dated and aged by the same one
	mu      sync.Mutex
	callers map[string]string        // call id → caller number, from queue.joined until call.ended
	byAgent map[string][]handledCall // agent id → the calls it answered, oldest first
}

func newWrapUps(now func() time.Time) *wrapUps {
	return &wrapUps{now: now, callers: map[string]string{}, byAgent: map[string][]handledCall{}}
}

// observe follows the events that make a grant. It runs inside
// events.Bus.Publish: it only touches its maps.
func (w *wrapUps) observe(e events.Event) {
	switch e.Type {
	case events.QueueJoined:
		j, ok := e.Payload.(queue.Joined)
		if raw, isRaw := e.Payload.(json.RawMessage); isRaw { // another node's (ObserveAll)
			ok = json.Unmarshal(raw, &j) == nil
		}
		if !ok || j.Caller == "" || e.CallID == "" {
			return
		}
		w.mu.Lock()
		if _, known := w.callers[e.CallID]; known || len(w.callers) < maxPending {
			w.callers[e.CallID] = j.Caller
		}
		w.mu.Unlock()
	case events.CallBridged:
		if e.Agent == "" || e.CallID == "" {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		caller := w.callers[e.CallID]
		if caller == "" {
			return
		}
		calls := w.byAgent[e.Agent]
		if len(calls) >= maxHandled {
			calls = append(calls[:0:0], calls[len(calls)-maxHandled+1:]...)
		}
		w.byAgent[e.Agent] = append(calls, handledCall{callID: e.CallID, caller: caller, at: w.now()})
	case events.CallEnded:
		w.mu.Lock()
		delete(w.callers, e.CallID)
		w.mu.Unlock()
	}
}

// handled is the callers of the calls agent answered within wrapUpGrace,
// newest first.
func (w *wrapUps) handled(agent string) []string {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	calls := w.byAgent[agent]
	var out []string
	for i := len(calls) - 1; i >= 0; i-- {
		if now.Sub(calls[i].at) <= wrapUpGrace {
			out = append(out, calls[i].caller)
		}
	}
	return out
}
