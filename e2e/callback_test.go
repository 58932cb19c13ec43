package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// customerPhone is the customer's phone behind a trunk: a SIP user agent
// on loopback that answers what Hotline dials out and hands each call to
// the test, which listens, presses keys and talks on it; the call ends
// (BYE) when the test says hang up.
type customerPhone struct {
	srv    *sip.Server
	calls  chan *sip.Call
	hangup chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func startCustomerPhone(t *testing.T) *customerPhone {
	t.Helper()
	pool, err := media.NewPortPool(44000, 44998)
	must(t, err)
	p := &customerPhone{calls: make(chan *sip.Call, 4), hangup: make(chan struct{})}
	srv, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, InactivityTimeout: time.Minute, InbandDTMF: "never"},
		sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
			p.calls <- c
			select {
			case <-p.hangup:
			case <-ctx.Done():
			}
		}), nil)
	must(t, err)
	must(t, srv.Listen())
	p.srv = srv
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = srv.Serve(context.Background()) }()
	t.Cleanup(func() { p.hangUp(); srv.Close(); p.wg.Wait() })
	return p
}

func (p *customerPhone) hangUp() { p.once.Do(func() { close(p.hangup) }) }

// speech closes heard once n frames louder than silence have arrived: the
// customer has heard that much of what Hotline says.
type speech struct {
	mu    sync.Mutex
	n     int
	heard chan struct{}
}

func listenFor(n int) *speech { return &speech{n: n, heard: make(chan struct{})} }

func (s *speech) sink(pcm []int16) {
	var peak int16
	for _, v := range pcm {
		peak = max(peak, v, -v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if peak > 500 && s.n > 0 {
		if s.n--; s.n == 0 {
			close(s.heard)
		}
	}
}

// apiGetJSON GETs an API path into v.
func apiGetJSON(t *testing.T, h *harness, path string, v any) {
	t.Helper()
	code, _, body := apiDo(t, h, "GET", path, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	must(t, json.Unmarshal(body, v))
}

// promptEnded waits until prompt has played to its end on the call.
func (h *harness) promptEnded(callID, prompt string) {
	h.t.Helper()
	h.waitEvent(30*time.Second, "prompt "+prompt+" played", func(e events.Event) bool {
		p, ok := e.Payload.(ivr.PromptPlay)
		return e.Type == events.PromptPlayed && e.CallID == callID && ok && p.Prompt == prompt && !p.Interrupted
	})
}

// Issue 10, virtual hold with the shipped flow: a caller (baresip) waiting
// in sales presses 9 (the queue's callback key), hears their position and
// the number's ending, confirms with 1 and is hung up; the callback keeps
// their place, filed under sales. When the agent (baresip, registered with
// digest) becomes ready, Hotline reserves her and calls the number through
// the trunk with the trunk's caller ID; the customer's phone hears the
// greeting (audio), presses 1, rejoins sales at the original place and is
// bridged to the reserved agent: tones both ways. The callback ends
// completed, and the request and the call are on the original call's
// ticket.
func TestCallbackVirtualHoldCallsBackAndConnects(t *testing.T) {
	leakCheck(t)
	cust := startCustomerPhone(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "mai", Name: "Mai", Username: "mai", Password: "mai-secret-2026", Queues: map[string]int{"sales": 0}}}
		c.Allow.Numbers = []string{"+849*"}
		c.Trunks = []config.Trunk{{Name: "carrier", Host: cust.srv.Addr().String(), CallerID: "+842838001234", Numbers: []string{"+84*"}, Default: true}}
	})
	agent := baresipAgent(t, h, "mai", "mai-secret-2026")
	apiPost(t, h, "/api/v1/agents/mai/state", `{"state":"pause","reason":"meeting"}`) // logged in, not free: callers wait

	b := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.caller", Tone: 1000})
	b.Command("dial", "sip:100@"+h.sipAddr("udp"))
	b.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
	id := h.waitEvent(10*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
	h.node(id, "language")
	b.Command("sndcode", "1")
	h.node(id, "main")
	b.Command("sndcode", "2")
	h.waitEvent(30*time.Second, "waiting in sales", func(e events.Event) bool {
		return e.Type == events.QueueJoined && e.CallID == id && e.Queue == "sales"
	})
	b.Command("sndcode", "9")
	h.node(id, "callback")
	h.promptEnded(id, "callback-confirm-number") // "...ending in 678. To confirm, press 1. ..."
	b.Command("sndcode", "1")
	h.node(id, "bye")
	b.WaitEvent(30*time.Second, "CALL_CLOSED") // Hotline hangs up after the goodbye
	v := oneRecord(t, h, id)
	if v.Queue != "sales" || v.Outcome != store.OutcomeCallbackRequested || len(v.Legs) != 1 {
		t.Fatalf("caller's record: queue %q outcome %q legs %+v, want sales, callback_requested, one leg", v.Queue, v.Outcome, v.Legs)
	}
	wantLeg(t, 0, v.Legs[0], store.CallLeg{Queue: "sales", End: store.LegUnanswered, Reason: queue.ReasonExitKey}, false)
	if p := path(store.Interaction{Voice: v}); !slices.Equal(p[len(p)-3:], []string{"sales-queue", "callback", "bye"}) {
		t.Errorf("path %v, want it to end sales-queue, callback, bye", p)
	}
	said := []string{}
	for _, e := range h.callEvents(id) {
		if p, ok := e.Payload.(ivr.PromptPlay); ok {
			said = append(said, p.Prompt)
		}
	}
	for _, want := range []string{"callback-position", "callback-number-ending", "callback-confirm-number", "callback-booked"} {
		if !slices.Contains(said, want) {
			t.Errorf("the caller was not told %s; heard %v", want, said)
		}
	}

	var list struct {
		Items []callback.Callback `json:"items"`
	}
	apiGetJSON(t, h, "/api/v1/callbacks?queue=sales", &list)
	if len(list.Items) != 1 || list.Items[0].Number != "+84912345678" || list.Items[0].Source != store.SourceVirtualHold {
		t.Fatalf("callbacks in sales: %+v", list.Items)
	}
	cb := list.Items[0]
	if !cb.JoinedAt.Equal(v.Legs[0].JoinedAt) {
		t.Errorf("callback joined at %v, the caller joined sales at %v: the place is not kept", cb.JoinedAt, v.Legs[0].JoinedAt)
	}

	// The agent is free: Hotline calls the customer back through the trunk.
	apiPost(t, h, "/api/v1/agents/mai/state", `{"state":"ready"}`)
	var call *sip.Call
	select {
	case call = <-cust.calls:
	case <-time.After(30 * time.Second):
		t.Fatalf("the trunk got no call\n%s", h.dump())
	}
	if call.Called() != "+84912345678" || call.Caller() != "+842838001234" {
		t.Errorf("the trunk got a call to %q from %q, want +84912345678 from the trunk's caller ID +842838001234", call.Called(), call.Caller())
	}
	greeting := listenFor(50) // a second of speech: the greeting
	call.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the customer heard no greeting")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, call.Media().SendDigit(ctx, '1', 120*time.Millisecond, media.SourceRFC4733))
	h.waitEvent(30*time.Second, "bridged to mai", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == call.ID() && e.Agent == "mai"
	})
	var heard pcmRecorder
	call.Media().SetAudioSink(heard.sink)
	must(t, call.Media().Play(ctx, media.NewPromptPCM("customer-tone", media.Tone([]float64{660}, 3*time.Second))))
	if !heard.hears(440, 1000) {
		t.Error("the customer did not hear the agent's 440 Hz through the bridge")
	}
	cust.hangUp()
	agent.WaitEvent(20*time.Second, "CALL_CLOSED")
	h.waitEvent(30*time.Second, "callback completed", func(e events.Event) bool {
		c, ok := e.Payload.(callback.Change)
		return e.Type == callback.EventCompleted && ok && c.ID == cb.ID
	})
	var agentHeard pcmRecorder
	agent.Heard(agentHeard.sink)
	if !agentHeard.hears(660, 1000) {
		t.Error("the agent did not hear the customer's 660 Hz through the bridge")
	}

	var done callback.Callback
	apiGetJSON(t, h, fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), &done)
	if done.Status != callback.Status(store.CallbackCompleted) || len(done.Calls) != 1 {
		t.Fatalf("callback after the call: status %q calls %+v", done.Status, done.Calls)
	}
	at := done.Calls[0]
	if at.Result != store.AttemptCompleted || at.Agent != "mai" || at.Trunk != "carrier" || at.CallID != call.ID() || at.ConfirmedAt == nil || at.TalkSeconds < 3 {
		t.Errorf("the call: %+v", at)
	}
	orig := h.interactions(id)
	its := h.interactions(call.ID())
	if len(orig) != 1 || len(its) != 1 || its[0].TicketID != orig[0].TicketID || done.TicketID != orig[0].TicketID {
		t.Errorf("tickets: original call %+v, callback call %+v, callback's ticket %d: want one ticket", orig, its, done.TicketID)
	}
	agent.Stop() // while Hotline still answers its un-REGISTER (else baresip waits 10s)
	h.shutdown()
}
