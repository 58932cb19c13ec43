package ivr

import (
	"context"
	"errors"
	"testing"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

const handoffFlow = `
flow: t
languages: [en]
nodes:
  tk: {type: ticket, category: technical, priority: high, next: q}
  q: {type: enqueue, queue: technical, prompts: [hold], next: left}
  left: {type: callback, queue: technical, prompts: [cb], next: bye}
  bye: {type: hangup, prompts: [bye]}
  exit: {type: hangup}
`

type fakeQueue struct {
	res QueueResult
	err error
	got QueueRequest
}

func (q *fakeQueue) Enqueue(_ context.Context, _ Call, req QueueRequest) (QueueResult, error) {
	q.got = req
	return q.res, q.err
}

type fakeCallbacks struct {
	err error
	got []CallbackRequest
}

func (c *fakeCallbacks) ScheduleCallback(_ context.Context, req CallbackRequest) error {
	c.got = append(c.got, req)
	return c.err
}

func handoffs(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		if e.Type == events.FlowHandoff {
			out = append(out, e.Data["kind"].(string)+":"+e.Data["target"].(string))
		}
	}
	return out
}

func TestHandoff(t *testing.T) {
	q := &fakeQueue{}
	cb := &fakeCallbacks{}
	tests := []engineCase{
		{name: "no enqueuer: handoff recorded, flow ends", flow: handoffFlow,
			wantPath: "tk q", wantOutcome: store.OutcomeCompleted, wantReason: ReasonHandoff, wantPlayed: "en/hold",
			check: func(t *testing.T, r Result, evs []events.Event) {
				if r.Handoff == nil || *r.Handoff != (Handoff{Kind: "enqueue", Queue: "technical", Node: "q"}) {
					t.Errorf("handoff %+v", r.Handoff)
				}
				if h := handoffs(evs); len(h) != 1 || h[0] != "enqueue:technical" {
					t.Errorf("handoff events %v", h)
				}
			}},
		{name: "answered by an agent", flow: handoffFlow,
			cfg:      func(c *Config) { *q = fakeQueue{res: QueueResult{Answered: true, Agent: "lan"}}; c.Enqueuer = q },
			wantPath: "tk q", wantOutcome: store.OutcomeCompleted, wantReason: ReasonAnswered,
			check: func(t *testing.T, r Result, _ []events.Event) {
				if q.got.Queue != "technical" || q.got.Category != "technical" || q.got.Priority != "high" || q.got.Vars["caller"] == "" {
					t.Errorf("queue request %+v", q.got)
				}
				if r.Queue == nil || r.Queue.Agent != "lan" {
					t.Errorf("queue result %+v", r.Queue)
				}
			}},
		{name: "left the queue: next, then callback without a scheduler", flow: handoffFlow,
			cfg:      func(c *Config) { *q = fakeQueue{res: QueueResult{Reason: "timeout"}}; c.Enqueuer = q },
			wantPath: "tk q left", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHandoff,
			check: func(t *testing.T, _ Result, evs []events.Event) {
				if h := handoffs(evs); len(h) != 2 || h[1] != "callback:technical" {
					t.Errorf("handoff events %v", h)
				}
			}},
		{name: "queue exit key chooses the node", flow: handoffFlow,
			cfg:      func(c *Config) { *q = fakeQueue{res: QueueResult{Reason: "exit-key", Next: "exit"}}; c.Enqueuer = q },
			wantPath: "tk q exit", wantOutcome: store.OutcomeCompleted},
		{name: "queue error goes on to next", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{err: errors.New("queue down")}
				c.Enqueuer = q
				c.Callbacks = cb
			},
			wantPath: "tk q left bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup},
		{name: "callback scheduled, goodbye keeps the outcome", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "full"}}
				*cb = fakeCallbacks{}
				c.Enqueuer, c.Callbacks = q, cb
			},
			caller:   "+84901112223",
			wantPath: "tk q left bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			wantPlayed: "en/hold en/cb en/bye",
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if len(cb.got) != 1 || cb.got[0].Number != "+84901112223" || cb.got[0].Queue != "technical" || cb.got[0].Category != "technical" {
					t.Errorf("callback requests %+v", cb.got)
				}
			}},
		{name: "callback failure fails the call", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "full"}}
				*cb = fakeCallbacks{err: errors.New("disk full")}
				c.Enqueuer, c.Callbacks = q, cb
			},
			wantPath: "tk q left", wantOutcome: store.OutcomeFailed, wantReason: ReasonError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}
