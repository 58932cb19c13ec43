package app

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// ringLog is a queue.Ringer that only records: the test answers.
type ringLog struct {
	mu    sync.Mutex
	rings []queue.Offer
}

func (r *ringLog) Ring(o queue.Offer)         { r.mu.Lock(); r.rings = append(r.rings, o); r.mu.Unlock() }
func (r *ringLog) Cancel(queue.Offer, string) {}
func (r *ringLog) last(t *testing.T) queue.Offer {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rings) == 0 {
		t.Fatal("no agent was rung")
	}
	return r.rings[len(r.rings)-1]
}

// fakeLeg is an answered agent leg.
type fakeLeg struct {
	bridge.Call
	hung atomic.Bool
}

func (l *fakeLeg) Hangup(context.Context) error { l.hung.Store(true); return nil }

type legStore map[string]*fakeLeg

func (s legStore) Take(offer string) (bridge.Call, bool) {
	l, ok := s[offer]
	delete(s, offer)
	return l, ok
}

// cbWorld is the queue, the scheduler on SQLite and the adapter between
// them, with a fake dialler; it runs inside a synctest bubble.
type cbWorld struct {
	t      *testing.T
	svc    *queue.Service
	sched  *callback.Scheduler
	acd    *callbackACD
	dialer *callbacktest.Dialer
	ringer *ringLog
}

func newCBWorld(t *testing.T, mode string) *cbWorld {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hotline.db"), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	queues := map[string]config.Queue{"technical": {Callback: config.QueueCallback{Enabled: true, Mode: mode, MaxAttempts: 3,
		RetrySpacing: []time.Duration{5 * time.Minute}, Expiry: 24 * time.Hour}.WithDefaults()}}
	pol, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+849*"}}, DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	w := &cbWorld{t: t, dialer: callbacktest.NewDialer(100), ringer: &ringLog{}, acd: newCallbackACD(nil)}
	bus := events.NewBus()
	w.svc = queue.New(queue.Config{Agents: []config.Agent{{ID: "a", Username: "a", Queues: map[string]int{"technical": 0}}},
		Queues: queues, Ringer: w.ringer, Bus: bus, Callbacks: w.acd})
	w.acd.svc = w.svc
	w.sched, err = callback.New(callback.Config{Store: db, Queues: queues,
		Limits: config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}, Policy: pol, ACD: w.acd,
		Dialer: w.acd.wrap(w.dialer), Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	w.acd.sched = w.sched
	w.acd.start()
	run := make(chan error, 1)
	go func() { run <- w.sched.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = w.sched.Close()
		<-run
		w.acd.close()
	})
	synctest.Wait()
	return w
}

func (w *cbWorld) request(joined time.Time) int64 {
	w.t.Helper()
	cb, err := w.sched.Request(w.t.Context(), callback.Request{Source: store.SourceVirtualHold, Queue: "technical",
		Number: "0912345678", Caller: "0912345678", CallID: "orig", FromTag: "ft", JoinedAt: joined})
	if err != nil {
		w.t.Fatal(err)
	}
	synctest.Wait()
	return cb.ID
}

func (w *cbWorld) call() *callbacktest.Call { w.t.Helper(); return w.dialer.Next(w.t) }

func (w *cbWorld) noCall() { w.t.Helper(); w.dialer.None(w.t) }

func (w *cbWorld) activity() queue.Activity {
	w.t.Helper()
	a, err := w.svc.Agent("a")
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Activity
}

func (w *cbWorld) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// A due callback reaches the dialler when its turn comes with an agent
// reserved; an unanswered call gives the agent back and the retry comes at
// the same place; a confirmed customer rejoins and rings that agent.
func TestCallbackACDCustomerFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newCBWorld(t, config.CallbackCustomerFirst)
		w.must(w.svc.Login("a"))
		w.must(w.svc.Pause("a", "busy"))
		joined := time.Now().Add(-time.Minute)
		id := w.request(joined)
		if pos, ok := w.acd.Position("technical", id); !ok || pos != 1 {
			t.Fatalf("position %d %v", pos, ok)
		}
		w.noCall()

		w.must(w.svc.Ready("a"))
		c := w.call()
		if c.Req.CallbackID != id || c.Req.Queue != "technical" || c.Req.Number != "+84912345678" || c.Req.Agent != "" ||
			!c.Req.JoinedAt.Equal(joined) {
			t.Fatalf("dial request %+v", c.Req)
		}
		if a := w.activity(); a != queue.Reserved {
			t.Fatalf("agent %s while the customer is dialled", a)
		}
		c.End(callback.Result{Result: store.AttemptNoAnswer, SIPStatus: 480})
		synctest.Wait()
		if a := w.activity(); a != queue.Idle {
			t.Fatalf("agent %s after the unanswered call", a)
		}
		if _, ok := w.acd.Position("technical", id); ok {
			t.Fatal("the callback is still in line during its retry spacing")
		}

		time.Sleep(5 * time.Minute) // the retry: in line again, its turn at once
		c = w.call()
		if c.Req.Attempt != 2 || w.activity() != queue.Reserved {
			t.Fatalf("retry %+v, agent %s", c.Req, w.activity())
		}
		c.Confirm()
		tk, err := w.svc.Join(queue.JoinRequest{CallID: "out-1", Queue: "technical", Tier: c.Req.Tier, JoinedAt: c.Req.JoinedAt,
			Reservation: callbackKey(id)})
		w.must(err)
		o := w.ringer.last(t)
		if o.CallID != "out-1" || o.Agent != "a" {
			t.Fatalf("the customer's offer %+v", o)
		}
		w.must(w.svc.Answered(o.ID))
		<-tk.Done()
		w.must(w.svc.Hangup("out-1"))
		c.End(callback.Result{Result: store.AttemptCompleted, Agent: "a", Talk: time.Minute})
		synctest.Wait()
		got, err := w.sched.Get(t.Context(), id)
		w.must(err)
		if got.State != store.CallbackCompleted {
			t.Fatalf("callback %+v", got)
		}
		w.noCall()
	})
}

// Agent first: the agent is rung for the callback; once they answer the
// dialler gets the agent and can take their leg.
func TestCallbackACDAgentFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newCBWorld(t, config.CallbackAgentFirst)
		legs := legStore{}
		w.acd.legs = legs
		w.must(w.svc.Login("a"))
		id := w.request(time.Now())
		o := w.ringer.last(t)
		if o.Callback != callbackKey(id) || o.Caller != "+84912345678" {
			t.Fatalf("offer %+v", o)
		}
		w.noCall() // nothing dialled before the agent answers
		legs[o.ID] = &fakeLeg{}
		w.must(w.svc.Answered(o.ID))
		c := w.call()
		if c.Req.Agent != "a" || c.Req.Mode != store.CallbackAgentFirst {
			t.Fatalf("dial request %+v", c.Req)
		}
		leg, agent, ok := w.acd.agentLeg(c.Req)
		if !ok || agent != "a" || leg == nil {
			t.Fatalf("agent leg %v %q %v", leg, agent, ok)
		}
		if w.activity() != queue.OnCall {
			t.Fatalf("agent %s", w.activity())
		}
		c.End(callback.Result{Result: store.AttemptNoAnswer})
		synctest.Wait()
		if w.activity() != queue.Idle { // no wrap-up configured
			t.Fatalf("agent %s after the callback's call", w.activity())
		}
	})
}

type refusingDialer struct{ err error }

func (r refusingDialer) Dial(context.Context, int64, callback.Go) error { return r.err }

// A refused dial hangs up an agent-first agent's answered leg and gives
// the agent back; the callback keeps its place.
func TestCallbackACDRefusedDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svcAcd := newCallbackACD(nil)
		svcAcd.retry = []time.Duration{time.Second}
		ringer := &ringLog{}
		svc := queue.New(queue.Config{Agents: []config.Agent{{ID: "a", Queues: map[string]int{"technical": 0}}},
			Queues: map[string]config.Queue{"technical": {}}, Ringer: ringer, Bus: events.NewBus(), Callbacks: svcAcd})
		svcAcd.svc, svcAcd.sched = svc, refusingDialer{err: callback.ErrPacing}
		legs := legStore{}
		svcAcd.legs = legs
		svcAcd.start()
		defer svcAcd.close()
		if err := svc.Login("a"); err != nil {
			t.Fatal(err)
		}
		svcAcd.Offer(callback.Waiting{ID: 9, Queue: "technical", Mode: store.CallbackAgentFirst, Number: "+84912345678",
			Place: callback.Place{JoinedAt: time.Now()}})
		o := ringer.last(t)
		leg := &fakeLeg{}
		legs[o.ID] = leg
		if err := svc.Answered(o.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the first refusal: tried again after a second
		if leg.hung.Load() {
			t.Fatal("leg hung up before the pacing retry")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if !leg.hung.Load() {
			t.Fatal("the unclaimed agent leg was not hung up")
		}
		a, _ := svc.Agent("a")
		if a.Activity != queue.Idle {
			t.Fatalf("agent %+v", a)
		}
		if pos, ok := svcAcd.Position("technical", 9); !ok || pos != 1 {
			t.Fatalf("position %d %v", pos, ok)
		}
		if _, err := svc.CallbackPosition("callback:9"); errors.Is(err, queue.ErrUnknownCall) {
			t.Fatal(err)
		}
	})
}
