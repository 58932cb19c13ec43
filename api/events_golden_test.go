package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
)

// goldenEvents are events as their publishers (sip, ivr, registrar,
// outbound, queue) build them, one or two of each type and variant. The golden
// files pin the exact "data:" line of the event stream: they were written
// from the map[string]any bodies these packages published before their
// payloads became structs, so the structs provably left the wire as it was.
func goldenEvents() []struct {
	name string
	ev   events.Event
} {
	return []struct {
		name string
		ev   events.Event
	}{
		{"sip_call_started", events.Event{Type: events.CallStarted, CallID: "c1",
			Payload: sip.CallStart{Caller: "+84912345678", Called: "1900"}}},
		{"sip_call_started_feature", events.Event{Type: events.CallStarted, CallID: "c2",
			Payload: sip.CallStart{Caller: "2001", Called: "*50", FeatureCode: "*50", Agent: "lan"}}},
		{"sip_call_answered", events.Event{Type: events.CallAnswered, CallID: "c1",
			Payload: sip.CallAnswer{Codec: "PCMA/8000"}}},
		{"sip_call_ended", events.Event{Type: events.CallEnded, CallID: "c1",
			Payload: sip.CallEnd{Cause: sip.CauseCallerBye, Side: sip.EndedByCaller, DurationMS: 61234}}},
		{"sip_call_ended_server", events.Event{Type: events.CallEnded, CallID: "c1",
			Payload: sip.CallEnd{Cause: sip.CauseShutdown, Side: sip.EndedByServer}}},
		{"sip_call_rejected", events.Event{Type: events.CallRejected, CallID: "c3",
			Payload: sip.CallReject{Status: 503, Reason: sip.EdgeBusy}}},
		{"ivr_node", events.Event{Type: events.NodeEntered, CallID: "c1",
			Payload: ivr.NodeEnter{Node: "menu", Type: "menu", Flow: "support", Version: "3"}}},
		{"ivr_prompt", events.Event{Type: events.PromptPlayed, CallID: "c1",
			Payload: ivr.PromptPlay{Prompt: "welcome", Lang: "vi", File: "vi/welcome", Interrupted: true, DurationMS: 850}}},
		{"ivr_prompt_missing", events.Event{Type: events.PromptPlayed, CallID: "c1",
			Payload: ivr.PromptPlay{Prompt: "holiday", Lang: "en", Missing: true}}},
		{"ivr_digit", events.Event{Type: events.DigitPressed, CallID: "c1",
			Payload: ivr.DigitPress{Digit: "1", Source: "rfc4733", DurationMS: 120}}},
		{"ivr_digit_discarded", events.Event{Type: events.DigitPressed, CallID: "c1",
			Payload: ivr.DigitPress{Digit: "#", Source: "info", Discarded: true}}},
		{"ivr_var", events.Event{Type: events.VarSet, CallID: "c1",
			Payload: ivr.VarSet{Name: "order", Value: "123456"}}},
		{"ivr_handoff", events.Event{Type: events.FlowHandoff, CallID: "c1",
			Payload: ivr.FlowHandoff{Kind: "enqueue", Target: "sales", Node: "to-sales"}}},
		{"registrar_binding", events.Event{Type: "registrar.binding", Agent: "lan",
			Payload: registrar.BindingChange{User: "2001", Contact: "sip:2001@192.0.2.7:5060", Action: "registered",
				ExpiresS: 3600, Source: "192.0.2.7:5060", Contacts: 1}}},
		{"registrar_banned", events.Event{Type: "registrar.banned", Agent: "lan",
			Payload: registrar.Ban{Source: "198.51.100.9", User: "2001", Failures: 10, BanS: 900}}},
		{"registrar_banned_withheld", events.Event{Type: "registrar.banned",
			Payload: registrar.Ban{Source: "198.51.100.9", Failures: 30, Withheld: true}}},
		{"registrar_contact_refused", events.Event{Type: "registrar.contact_refused", Agent: "lan",
			Payload: registrar.Refusal{User: "2001", Contact: "<sip:0090123@evil.example>", Source: "192.0.2.7:5060",
				Reason: "outbound: sip:0090123@evil.example: not allowed"}}},
		{"outbound_dial_refused", events.Event{Type: "outbound.dial_refused", CallID: "c1",
			Payload: outbound.DialRefusal{Reason: outbound.ReasonNotAllowed, Dest: "+4420", Source: "transfer", Detail: "no rule allows it"}}},
		{"outbound_cap_alarm", events.Event{Type: "outbound.cap_alarm", CallID: "c1",
			Payload: outbound.CapAlarm{Cap: outbound.CapDaily, Level: "warn", Count: 80, Limit: 100}}},
		{"queue_joined", events.Event{Type: events.QueueJoined, CallID: "c1", Queue: "sales",
			Payload: queue.Joined{Caller: "+84912345678", Tier: "vip"}}},
		{"queue_left", events.Event{Type: events.QueueLeft, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.Left{Reason: "answered", WaitMS: 12000}}},
		{"queue_left_exit", events.Event{Type: events.QueueLeft, CallID: "c1", Queue: "sales",
			Payload: queue.Left{Exit: "voicemail", Reason: "timeout", WaitMS: 600000}}},
		{"agent_offered", events.Event{Type: events.AgentOffered, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.Offered{Deadline: time.Date(2025, 3, 14, 9, 31, 0, 0, time.UTC), Offer: "o1",
				Strategy: "longest-idle", Tier: "standard"}}},
		{"agent_offer_ended", events.Event{Type: queue.OfferEnded, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.OfferEnd{Offer: "o1", Result: "no-answer"}}},
		{"agent_state", events.Event{Type: events.AgentState, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.AgentChange{Activity: "ringing", Presence: "available"}}},
		{"agent_state_offer_result", events.Event{Type: events.AgentState, Queue: "sales", Agent: "lan",
			Payload: queue.AgentChange{Activity: "idle", OfferResult: "no-answer", Presence: "paused", Reason: "no-answer"}}},
		{"agent_state_wrap_up", events.Event{Type: events.AgentState, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.AgentChange{Activity: "wrap_up", Presence: "available", TalkMS: ptr(int64(0))}}},
		{"agent_state_handled", events.Event{Type: events.AgentState, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.AgentChange{Activity: "idle", HandleMS: ptr(int64(105000)), Presence: "available", TalkMS: ptr(int64(95000))}}},
		{"call_bridged", events.Event{Type: events.CallBridged, CallID: "c1", Queue: "sales", Agent: "lan",
			Payload: queue.Bridged{Offer: "o1", WaitMS: 12000}}},
		{"call_transferred", events.Event{Type: queue.CallTransferred, CallID: "c1", Queue: "technical", Agent: "lan",
			Payload: queue.Transferred{From: "technical", Kind: "queue", ReferredBy: "<sip:2001@192.0.2.7>", Result: "ok",
				Target: "sales"}}},
		{"agent_state_membership", events.Event{Type: events.AgentState, Queue: "sales", Agent: "lan",
			Payload: queue.AgentChange{Activity: "idle", Presence: "available", Queues: map[string]int{"sales": 2, "technical": 0}}}},
		{"agent_state_no_queue", events.Event{Type: events.AgentState, Queue: "sales", Agent: "lan",
			Payload: queue.AgentChange{Activity: "idle", Presence: "logged_out", Queues: map[string]int{}}}},
	}
}

// TestEventsWireGolden pins the event stream's JSON for each publisher's
// events (testdata/events/<name>.golden). Run with -update after an
// intended change and review the diff.
func TestEventsWireGolden(t *testing.T) {
	e := newEnv(t)
	s := e.openStream("")
	cases := goldenEvents()
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	for i, c := range cases {
		c.ev.Time = at.Add(time.Duration(i) * time.Second)
		e.bus.Publish(c.ev)
	}
	for _, c := range cases {
		var data string
		for data == "" {
			b := s.block()
			if strings.HasPrefix(b, ":") {
				continue // heartbeat
			}
			for _, line := range strings.Split(b, "\n") {
				if d, ok := strings.CutPrefix(line, "data: "); ok {
					data = d + "\n"
				}
			}
		}
		golden := filepath.Join("testdata", "events", c.name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("golden file (run with -update to create): %v", err)
		}
		if data != string(want) {
			t.Errorf("%s: the wire changed\n got %s\nwant %s", c.name, data, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
