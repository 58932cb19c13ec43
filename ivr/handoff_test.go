package ivr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
	// callerHangsUp: the caller's BYE arrives before the queue returns
	// (runCase sets cancel to end the call's context).
	callerHangsUp bool
	cancel        context.CancelFunc
}

func (q *fakeQueue) Enqueue(ctx context.Context, _ Call, req QueueRequest) (QueueResult, error) {
	q.got = req
	if q.callerHangsUp {
		q.cancel()
		<-ctx.Done()
	}
	return q.res, q.err
}

var (
	legT0    = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	answerAt = legT0.Add(20 * time.Second)
	// bridged: answered by lan in technical, then hung up by by.
	bridged = func(end store.LegEnd, by store.Side) store.CallLeg {
		return store.CallLeg{Queue: "technical", Agent: "lan", JoinedAt: legT0, AnsweredAt: &answerAt, EndedAt: answerAt.Add(time.Minute),
			WaitSeconds: 20, TalkSeconds: 60, End: end, EndedBy: by}
	}
	waited = func(queue, reason string) store.CallLeg {
		return store.CallLeg{Queue: queue, JoinedAt: legT0, EndedAt: legT0.Add(30 * time.Second), WaitSeconds: 30,
			End: store.LegUnanswered, Reason: reason}
	}
)

// salesFlow: the caller waits in sales; the callback node belongs to
// operator (as in the shipped flow).
const salesFlow = `
flow: t
languages: [en]
nodes:
  q: {type: enqueue, queue: sales, prompts: [hold], next: left}
  left: {type: menu, prompts: [menu], options: {"9": cb}, timeout: 1s, retries: 0, exhausted: cb}
  cb: {type: callback, queue: operator, prompts: [cb], next: bye}
  bye: {type: hangup, prompts: [bye]}
`

// fakeCallbacks answers ScheduleCallback from answers in turn, then with
// receipt and err; it records the requests and the cancels.
type fakeCallbacks struct {
	answers   []cbAnswer
	receipt   CallbackReceipt
	err       error
	cancelErr error
	got       []CallbackRequest
	cancelled []int64
}

type cbAnswer struct {
	rc  CallbackReceipt
	err error
}

func (c *fakeCallbacks) ScheduleCallback(_ context.Context, req CallbackRequest) (CallbackReceipt, error) {
	c.got = append(c.got, req)
	if len(c.answers) > 0 {
		a := c.answers[0]
		c.answers = c.answers[1:]
		return a.rc, a.err
	}
	return c.receipt, c.err
}

func (c *fakeCallbacks) CancelCallback(_ context.Context, id, _ int64) error {
	c.cancelled = append(c.cancelled, id)
	return c.cancelErr
}

func handoffs(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		if h, ok := e.Payload.(FlowHandoff); ok && e.Type == events.FlowHandoff {
			out = append(out, h.Kind+":"+h.Target)
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
		{name: "answered by an agent who hangs up", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Answered: true, Legs: []store.CallLeg{bridged(store.LegHangup, store.SideAgent)}}}
				c.Enqueuer = q
			},
			wantPath: "tk q", wantOutcome: store.OutcomeCompleted, wantReason: ReasonAnswered,
			check: func(t *testing.T, r Result, _ []events.Event) {
				if q.got.Queue != "technical" || q.got.Category != "technical" || q.got.Priority != "high" || q.got.Vars["caller"] == "" {
					t.Errorf("queue request %+v", q.got)
				}
				if len(r.Legs) != 1 || r.Legs[0].Agent != "lan" {
					t.Errorf("legs %+v", r.Legs)
				}
			}},
		{name: "answered, then the caller hangs up first", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Answered: true, Legs: []store.CallLeg{bridged(store.LegHangup, store.SideCaller)}}, callerHangsUp: true}
				c.Enqueuer = q
			},
			wantPath: "tk q", wantOutcome: store.OutcomeCompleted, wantReason: ReasonAnswered,
			check: func(t *testing.T, r Result, _ []events.Event) {
				if len(r.Legs) != 1 || r.Legs[0].EndedBy != store.SideCaller {
					t.Errorf("legs %+v", r.Legs)
				}
			}},
		{name: "caller hangs up while waiting", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "abandoned", Legs: []store.CallLeg{waited("technical", "abandoned")}}, callerHangsUp: true}
				c.Enqueuer = q
			},
			wantPath: "tk q", wantOutcome: store.OutcomeAbandonedQueue, wantReason: ReasonCaller},
		{name: "transferred, then the caller gives up in the second queue: still answered", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "abandoned", Legs: []store.CallLeg{bridged(store.LegTransferred, store.SideAgent),
					waited("sales", "abandoned")}}, callerHangsUp: true}
				c.Enqueuer = q
			},
			wantPath: "tk q", wantOutcome: store.OutcomeCompleted, wantReason: ReasonCaller,
			check: func(t *testing.T, r Result, _ []events.Event) {
				if len(r.Legs) != 2 || r.Legs[1].Queue != "sales" {
					t.Errorf("legs %+v", r.Legs)
				}
			}},
		{name: "left the queue: next, then callback without a scheduler plays its next", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "timeout", Legs: []store.CallLeg{waited("technical", "timeout")}}}
				c.Enqueuer = q
			},
			wantPath: "tk q left bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			wantPlayed: "en/hold en/cb en/bye",
			check: func(t *testing.T, _ Result, evs []events.Event) {
				if h := handoffs(evs); len(h) != 2 || h[1] != "callback:technical" {
					t.Errorf("handoff events %v", h)
				}
			}},
		{name: "callback key while waiting in sales: the callback is sales'", flow: salesFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "exit-key", Next: "cb", Legs: []store.CallLeg{waited("sales", "exit-key")}}}
				*cb = fakeCallbacks{}
				c.Enqueuer, c.Callbacks = q, cb
			},
			inputs:   []string{"1"},
			wantPath: "q cb[1] bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			wantPlayed: "en/hold en/cb en/callback-number-ending en/digit-5 en/digit-6 en/digit-7 en/callback-confirm-number en/callback-booked en/bye",
			check: func(t *testing.T, r Result, evs []events.Event) {
				if len(cb.got) != 1 || cb.got[0].Queue != "sales" || !cb.got[0].JoinedAt.Equal(legT0) {
					t.Errorf("callback requests %+v", cb.got)
				}
				if r.Handoff == nil || r.Handoff.Queue != "sales" || r.Handoff.Node != "cb" {
					t.Errorf("handoff %+v", r.Handoff)
				}
				if h := handoffs(evs); len(h) != 2 || h[1] != "callback:sales" {
					t.Errorf("handoff events %v", h)
				}
			}},
		{name: "callback from a menu after leaving sales: still sales'", flow: salesFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "timeout", Legs: []store.CallLeg{waited("sales", "timeout")}}}
				c.Enqueuer = q
			},
			presses:  []press{{at: 2500 * time.Millisecond, key: '9'}}, // the menu waits from 2 s (hold, then its prompt) to 3 s
			wantPath: "q left[9] cb bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			check: func(t *testing.T, r Result, _ []events.Event) {
				if r.Handoff == nil || r.Handoff.Queue != "sales" {
					t.Errorf("handoff %+v", r.Handoff)
				}
			}},
		{name: "queue exit key chooses the node", flow: handoffFlow,
			cfg:      func(c *Config) { *q = fakeQueue{res: QueueResult{Reason: "exit-key", Next: "exit"}}; c.Enqueuer = q },
			wantPath: "tk q exit", wantOutcome: store.OutcomeCompleted},
		{name: "queue error goes on to next", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{err: errors.New("queue down")}
				*cb = fakeCallbacks{}
				c.Enqueuer = q
				c.Callbacks = cb
			},
			inputs:   []string{"1"},
			wantPath: "tk q left[1] bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup},
		{name: "callback scheduled, goodbye keeps the outcome", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "full"}}
				*cb = fakeCallbacks{}
				c.Enqueuer, c.Callbacks = q, cb
			},
			caller:   "+84901112223",
			inputs:   []string{"1"},
			wantPath: "tk q left[1] bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			wantPlayed: "en/hold en/cb en/callback-number-ending en/digit-2 en/digit-2 en/digit-3 en/callback-confirm-number en/callback-booked en/bye",
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if len(cb.got) != 1 || cb.got[0].Number != "+84901112223" || cb.got[0].Queue != "technical" || cb.got[0].Category != "technical" {
					t.Errorf("callback requests %+v", cb.got)
				}
			}},
		{name: "callback from the IVR alone: the node's queue", flow: `
flow: t
languages: [en]
nodes:
  cb: {type: callback, queue: operator, prompts: [cb], next: bye}
  bye: {type: hangup, prompts: [bye]}
`,
			cfg:      func(c *Config) { *cb = fakeCallbacks{}; c.Callbacks = cb },
			inputs:   []string{"1"},
			wantPath: "cb[1] bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			wantPlayed: "en/cb en/callback-number-ending en/digit-5 en/digit-6 en/digit-7 en/callback-confirm-number en/callback-booked en/bye",
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if len(cb.got) != 1 || cb.got[0].Queue != "operator" || !cb.got[0].JoinedAt.IsZero() {
					t.Errorf("callback requests %+v", cb.got)
				}
			}},
		{name: "callback without a next ends the flow", flow: `
flow: t
languages: [en]
nodes:
  cb: {type: callback, queue: operator, prompts: [cb]}
`,
			wantPath: "cb", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHandoff, wantPlayed: "en/cb"},
		{name: "callback failure: the caller is told, the call failed", flow: handoffFlow,
			cfg: func(c *Config) {
				*q = fakeQueue{res: QueueResult{Reason: "full"}}
				*cb = fakeCallbacks{err: fmt.Errorf("disk full: %w", ErrCallbackUnavailable)}
				c.Enqueuer, c.Callbacks = q, cb
			},
			inputs:   []string{"1"},
			wantPath: "tk q left[1] bye", wantOutcome: store.OutcomeFailed, wantReason: ReasonHangup,
			wantPlayed: "en/hold en/cb en/callback-number-ending en/digit-5 en/digit-6 en/digit-7 en/callback-confirm-number en/callback-not-taken en/bye",
			check: func(t *testing.T, r Result, _ []events.Event) {
				if !errors.Is(r.Err, ErrCallbackUnavailable) || r.CallbackStatus != CallbackUnavailable {
					t.Errorf("err %v, status %q", r.Err, r.CallbackStatus)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}
