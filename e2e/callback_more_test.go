package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// apiDo sends one API request with the write token and returns the status,
// the headers and the body.
func apiDo(t *testing.T, h *harness, method, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+h.app.HTTPAddr().String()+path, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return res.StatusCode, res.Header, b
}

// requestCallback asks for a callback through the API and returns it.
func requestCallback(t *testing.T, h *harness, number, queue string) callback.Callback {
	t.Helper()
	code, _, body := apiDo(t, h, "POST", "/api/v1/callbacks", fmt.Sprintf(`{"number": %q, "queue": %q}`, number, queue))
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/callbacks: %d %s", code, body)
	}
	var cb callback.Callback
	must(t, json.Unmarshal(body, &cb))
	return cb
}

// callbackEvent waits for the callback's event of type typ (whose change
// also matches, if match is given) and returns the event.
func (h *harness) callbackEvent(id int64, typ string, d time.Duration, match ...func(callback.Change) bool) events.Event {
	h.t.Helper()
	return h.waitEvent(d, typ+" of callback "+fmt.Sprint(id), func(e events.Event) bool {
		c, ok := e.Payload.(callback.Change)
		return e.Type == typ && ok && c.ID == id && (len(match) == 0 || match[0](c))
	})
}

// fastCallbacks makes the technical queue's callbacks quick to retry and
// to give up on a phone: spacing 1s, ringing 1s, the key waited for 1s.
// technicalCallbacks: agent lan (a Go phone) in technical, the customer's
// line as the trunk "carrier" with caller ID +842838001234, callbacks fast
// (fastCallbacks).
func technicalCallbacks(line *phonetest.Phone, agent *agentPhone, attempts int) func(*config.Config) {
	return func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", URI: "sip:lan@" + agent.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
		c.Allow.Numbers = []string{"+849*"}
		c.Trunks = []config.Trunk{{Name: "carrier", Host: line.Addr(), CallerID: "+842838001234", Numbers: []string{"+84*"}, Default: true}}
		fastCallbacks(c, attempts)
	}
}

func fastCallbacks(c *config.Config, attempts int) {
	q := c.Queues["technical"]
	q.Callback.Enabled, q.Callback.Calendar = true, "office"
	q.Callback.MaxAttempts = attempts
	q.Callback.RetrySpacing = []time.Duration{time.Second}
	q.Callback.RingTimeout = time.Second
	q.Callback.ConfirmTimeout = time.Second
	c.Queues["technical"] = q
}

// Issue 10, retries and "voicemail": the customer's line is busy (486),
// then rings and nobody answers, then answers and never presses 1 (an
// answering machine), then answers and presses 1. Each failed call is
// retried after the spacing, the answering machine is not a completed
// callback, and the fourth call is bridged to the agent and completes; the
// callback's calls list the four results in order.
func TestCallbackRetriesBusyNoAnswerVoicemailThenCompletes(t *testing.T) {
	leakCheck(t)
	plan := []phonetest.Action{phonetest.Reject(486), phonetest.Ring, phonetest.Answer, phonetest.Answer}
	line := startTrunkLine(t, plan...)
	agent := startAgentPhone(t)
	h := start(t, technicalCallbacks(line, agent, 4))
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	cb := requestCallback(t, h, "0912 345 678", "technical")

	want := []store.AttemptResult{store.AttemptBusy, store.AttemptNoAnswer, store.AttemptNoConfirmation}
	for i, res := range want { // the spacing is checked below, on the server's own times
		inv := line.NextInvite(t, within(t, 30*time.Second))
		if inv.User != "+84912345678" || inv.FromUser != "+842838001234" {
			t.Errorf("attempt %d: INVITE to %q from %q", i+1, inv.User, inv.FromUser)
		}
		if plan[i] == phonetest.Answer { // the answering machine: listens, presses nothing
			c := line.NextCall(t, within(t, 10*time.Second))
			select {
			case <-c.Ended():
			case <-time.After(30 * time.Second):
				t.Fatal("Hotline did not hang up on the answering machine")
			}
		}
		// Rescheduled for the retry, with the attempt's result.
		h.callbackEvent(cb.ID, callback.EventScheduled, 30*time.Second, func(c callback.Change) bool {
			return c.Attempt == i+1 && c.Result == res
		})
	}

	inv := line.NextInvite(t, within(t, 30*time.Second))
	c := line.NextCall(t, within(t, 10*time.Second))
	if inv.CallID != c.Invite().CallID {
		t.Fatalf("answered %s, dialled %s", c.Invite().CallID, inv.CallID)
	}
	greeting := listenFor(25)
	c.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the customer heard no greeting")
	}
	c.Press(t, within(t, 5*time.Second), '1')
	h.waitEvent(30*time.Second, "bridged to lan", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == c.Invite().CallID && e.Agent == "lan"
	})
	c.Hangup(t, within(t, 5*time.Second))
	h.callbackEvent(cb.ID, callback.EventCompleted, 30*time.Second)

	var done callback.Callback
	apiGetJSON(t, h, fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), &done)
	var got []store.AttemptResult
	for _, a := range done.Calls {
		got = append(got, a.Result)
	}
	if done.Status != callback.Status(store.CallbackCompleted) ||
		!slices.Equal(got, append(want, store.AttemptCompleted)) {
		t.Fatalf("callback %s, calls %v; want completed after %v, completed", done.Status, got, want)
	}
	for i, a := range done.Calls {
		if a.Trunk != "carrier" || a.Attempt != i+1 {
			t.Errorf("call %d: %+v", i+1, a)
		}
		if i > 0 && a.StartedAt.Sub(*done.Calls[i-1].EndedAt) < 900*time.Millisecond {
			t.Errorf("call %d started %v after call %d ended: the spacing is 1s", i+1, a.StartedAt.Sub(*done.Calls[i-1].EndedAt), i)
		}
	}
	if a := done.Calls[0]; a.SIPStatus != 486 {
		t.Errorf("busy call: %+v", a)
	}
	if a := done.Calls[2]; a.AnsweredAt == nil || a.ConfirmedAt != nil {
		t.Errorf("the answering machine's call: %+v, want answered and never confirmed", a)
	}
	if a := done.Calls[3]; a.Agent != "lan" || a.ConfirmedAt == nil {
		t.Errorf("the completed call: %+v", a)
	}
	h.shutdown()
}

// apiError is the API's error body (docs/api.md), with the existing
// callback of a 409.
type apiError struct {
	Error struct {
		Code, Field, Message string
	} `json:"error"`
	Existing *callback.Callback `json:"existing"`
}

// Issue 10, the API's refusals and cancel: a number outside allow.numbers
// is refused (422 naming number), a second request for a number that has
// an open callback gets 409 with the existing one, a cancel with a stale
// If-Match gets 412 and with the current one cancels. The cancelled
// callback is never dialled: when the agent gets ready, the callback
// behind it (requested after it) is the one called.
func TestCallbackAPICancelAndRefusals(t *testing.T) {
	leakCheck(t)
	line := startTrunkLine(t, phonetest.Reject(486))
	agent := startAgentPhone(t)
	h := start(t, technicalCallbacks(line, agent, 1))
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"pause","reason":"meeting"}`) // nobody is dialled yet

	code, _, body := apiDo(t, h, "POST", "/api/v1/callbacks", `{"number": "+1 900 555 0100", "queue": "technical"}`)
	var refused apiError
	_ = json.Unmarshal(body, &refused)
	if code != http.StatusUnprocessableEntity || refused.Error.Field != "number" || !strings.Contains(refused.Error.Message, "allow.numbers") {
		t.Errorf("a number outside allow.numbers: %d %s, want 422 on number naming allow.numbers", code, body)
	}

	first := requestCallback(t, h, "0912 345 678", "technical")
	second := requestCallback(t, h, "0987 654 321", "technical")
	code, hdr, body := apiDo(t, h, "POST", "/api/v1/callbacks", `{"number": "+84912345678", "queue": "technical"}`)
	var dup apiError
	_ = json.Unmarshal(body, &dup)
	if code != http.StatusConflict || dup.Existing == nil || dup.Existing.ID != first.ID ||
		hdr.Get("Location") != fmt.Sprintf("/api/v1/callbacks/%d", first.ID) {
		t.Errorf("the same number again: %d %v %s, want 409 with callback %d", code, hdr, body, first.ID)
	}
	var list struct {
		Items []callback.Callback `json:"items"`
	}
	apiGetJSON(t, h, "/api/v1/callbacks?queue=technical&state=open", &list)
	if len(list.Items) != 2 {
		t.Errorf("open callbacks after the duplicate: %+v, want the two", list.Items)
	}

	cancel := fmt.Sprintf("/api/v1/callbacks/%d/cancel", first.ID)
	if code, _, body := apiDo(t, h, "POST", cancel, "", "If-Match", fmt.Sprintf(`"%d"`, first.Version+5)); code != http.StatusPreconditionFailed {
		t.Errorf("cancel with a stale If-Match: %d %s, want 412", code, body)
	}
	code, _, body = apiDo(t, h, "POST", cancel, "", "If-Match", fmt.Sprintf(`"%d"`, first.Version))
	if code != http.StatusOK {
		t.Fatalf("cancel: %d %s", code, body)
	}
	h.callbackEvent(first.ID, callback.EventCancelled, 10*time.Second)

	// The agent is free: the only callback left in line is called.
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"ready"}`)
	if inv := line.NextInvite(t, within(t, 30*time.Second)); inv.User != "+84987654321" {
		t.Errorf("the line got a call for %s, want the second callback's +84987654321 (the first is cancelled)", inv.User)
	}
	h.callbackEvent(second.ID, callback.EventFailed, 30*time.Second) // busy, its only attempt
	select {
	case inv := <-line.Invites():
		t.Errorf("another INVITE after the second callback's: %+v", inv)
	default:
	}
	var gone callback.Callback
	apiGetJSON(t, h, fmt.Sprintf("/api/v1/callbacks/%d", first.ID), &gone)
	if gone.Status != callback.Status(store.CallbackCancelled) || len(gone.Calls) != 0 {
		t.Errorf("the cancelled callback: status %s calls %+v, want cancelled and never dialled", gone.Status, gone.Calls)
	}
	for _, e := range h.seen {
		if c, ok := e.Payload.(callback.Change); ok && c.ID == first.ID && e.Type == callback.EventDialling {
			t.Errorf("the cancelled callback was dialled: %+v", c)
		}
	}
	h.shutdown()
}

// Issue 10's order check: callers A (live), B (asks for a callback while
// waiting: virtual hold) and C (live) join technical in that order while its
// only agent is paused. When she is ready she gets A; when A ends, B's
// callback is dialled (before C is offered), B confirms and is bridged to
// her; when B ends, C. It runs on both stores: the callback's place and
// its durable job live in the database.
func TestCallbackOrderLiveCallbackLive(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { callbackOrder(t, "") })
	t.Run("postgres", func(t *testing.T) { callbackOrder(t, pgtest.Schema(t)) })
}

func callbackOrder(t *testing.T, dbURL string) {
	leakCheck(t)
	line := startTrunkLine(t, phonetest.Answer)
	agent := startAgentPhone(t)
	h := start(t, func(c *config.Config) {
		technicalCallbacks(line, agent, 1)(c)
		if dbURL != "" {
			c.Database.URL = dbURL
		}
	})
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"pause","reason":"meeting"}`)

	joined := func(id string) {
		t.Helper()
		h.waitEvent(20*time.Second, "caller waiting in technical", func(e events.Event) bool {
			return e.Type == events.QueueJoined && e.CallID == id && e.Queue == "technical"
		})
	}
	_, a, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0911000001"})
	joined(a.ID())
	_, b, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	joined(b.ID())
	press(t, b, "9", media.SourceRFC4733)
	h.node(b.ID(), "callback")
	h.promptEnded(b.ID(), "callback-confirm-number")
	press(t, b, "1", media.SourceRFC4733)
	booked := h.waitEvent(10*time.Second, "B's callback", func(e events.Event) bool {
		c, ok := e.Payload.(callback.Change)
		return e.Type == callback.EventRequested && ok && c.Number == "+84912345678"
	}).Payload.(callback.Change)
	_, c, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0911000003"})
	joined(c.ID())
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"ready"}`)
	bridged := func(id string) events.Event {
		t.Helper()
		return h.waitEvent(30*time.Second, "bridged to lan", func(e events.Event) bool {
			return e.Type == events.CallBridged && e.CallID == id && e.Agent == "lan"
		})
	}
	bridgedA := bridged(a.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, a.Hangup(ctx))

	cust := line.NextCall(t, within(t, 30*time.Second))
	dialling := h.callbackEvent(booked.ID, callback.EventDialling, 5*time.Second)
	greeting := listenFor(10)
	cust.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("B heard no greeting")
	}
	cust.Press(t, within(t, 5*time.Second), '1')
	bridgedB := bridged(cust.Invite().CallID)
	cust.Hangup(t, within(t, 5*time.Second))
	completed := h.callbackEvent(booked.ID, callback.EventCompleted, 30*time.Second)
	bridgedC := bridged(c.ID())
	must(t, c.Hangup(ctx))

	offeredC := h.waitEvent(time.Second, "C offered", func(e events.Event) bool { return e.Type == events.AgentOffered && e.CallID == c.ID() })
	if !(bridgedA.Seq < dialling.Seq && dialling.Seq < bridgedB.Seq && bridgedB.Seq < offeredC.Seq && offeredC.Seq < bridgedC.Seq) {
		t.Errorf("order: A bridged #%d, B dialled #%d, B bridged #%d, C offered #%d, C bridged #%d; want A, then B, then C",
			bridgedA.Seq, dialling.Seq, bridgedB.Seq, offeredC.Seq, bridgedC.Seq)
	}
	if completed.Agent != "lan" {
		t.Errorf("B's callback completed with %+v", completed)
	}
	h.node(b.ID(), "bye")
	_ = b.Hangup(ctx) // B's own call: the goodbye may still be playing
	h.shutdown()
}

// Issue 10, agent first: the queue reserves the agent (baresip, registered
// with digest) and rings her first; once she answers she hears the whisper
// (audio) while Hotline dials the customer, who hears the greeting, presses
// 1 and is bridged to her: tones both ways; the callback is completed with
// her name on the call.
func TestCallbackAgentFirstWhispersThenConnects(t *testing.T) {
	leakCheck(t)
	line := startTrunkLine(t, phonetest.Answer)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "mai", Name: "Mai", Username: "mai", Password: "mai-secret-2026", Queues: map[string]int{"technical": 0}}}
		c.Allow.Numbers = []string{"+849*"}
		c.Trunks = []config.Trunk{{Name: "carrier", Host: line.Addr(), CallerID: "+842838001234", Numbers: []string{"+84*"}, Default: true}}
		fastCallbacks(c, 1)
		q := c.Queues["technical"]
		q.Callback.Mode = config.CallbackAgentFirst
		c.Queues["technical"] = q
	})
	agent := baresipAgent(t, h, "mai", "mai-secret-2026") // logged in and ready
	cb := requestCallback(t, h, "0912 345 678", "technical")

	answered := h.waitEvent(30*time.Second, "mai answered the callback's offer", func(e events.Event) bool {
		return e.Type == queue.OfferEnded && e.Agent == "mai"
	})
	agent.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
	inv := line.NextInvite(t, within(t, 30*time.Second))
	if at := time.Now(); at.Before(answered.Time) {
		t.Errorf("the customer was dialled at %v, before the agent answered at %v", at, answered.Time)
	}
	if inv.User != "+84912345678" || inv.FromUser != "+842838001234" {
		t.Errorf("INVITE to %q from %q", inv.User, inv.FromUser)
	}
	call := line.NextCall(t, within(t, 10*time.Second))
	greeting := listenFor(50) // a second of the greeting: the agent hears the whisper meanwhile
	call.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the customer heard no greeting")
	}
	call.Press(t, within(t, 5*time.Second), '1')
	h.callbackEvent(cb.ID, callback.EventConnected, 20*time.Second)
	var heard pcmRecorder
	call.Media().SetAudioSink(heard.sink)
	deadline := time.Now().Add(10 * time.Second)
	for !heard.hears(440, 660) { // the agent's baresip tone through the bridge
		if time.Now().After(deadline) {
			t.Fatal("the customer did not hear the agent's 440 Hz through the bridge")
		}
		time.Sleep(100 * time.Millisecond) // polling a real condition, with a deadline
	}
	call.Hangup(t, within(t, 5*time.Second))
	agent.WaitEvent(20*time.Second, "CALL_CLOSED")
	done := h.callbackEvent(cb.ID, callback.EventCompleted, 30*time.Second).Payload.(callback.Change)
	if done.Agent != "mai" {
		t.Errorf("completed %+v, want mai", done)
	}

	// What the agent heard: the whisper (speech, not the customer's tone),
	// then the customer's 660 Hz.
	speechFrames, toneFrames := 0, 0
	agent.Heard(func(f []int16) {
		var peak int16
		for _, v := range f {
			peak = max(peak, v, -v)
		}
		switch {
		case peak < 500:
		case media.ToneShare(f, 660) > 0.6:
			toneFrames++
		case toneFrames == 0:
			speechFrames++
		}
	})
	t.Logf("the agent heard %d frames of speech, then %d of the customer's tone", speechFrames, toneFrames)
	if speechFrames < 25 || toneFrames < 25 {
		t.Errorf("the agent heard %d frames of speech before %d frames of the customer's 660 Hz; want the whisper, then the customer", speechFrames, toneFrames)
	}
	var got callback.Callback
	apiGetJSON(t, h, fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), &got)
	if got.Status != callback.Status(store.CallbackCompleted) || len(got.Calls) != 1 || got.Calls[0].Agent != "mai" || got.Calls[0].Result != store.AttemptCompleted {
		t.Errorf("callback %s calls %+v", got.Status, got.Calls)
	}
	agent.Stop() // while Hotline still answers its un-REGISTER (else baresip waits 10s)
	h.shutdown()
}
