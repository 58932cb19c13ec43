package api

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
)

// The grant table's bounds: the newest maxHandled calls per agent, newest
// first; a caller forgotten at call.ended; a bridge without a known caller
// grants nothing; grants age out after wrapUpGrace.
func TestWrapUpsBounds(t *testing.T) {
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	w := newWrapUps(func() time.Time { return now })
	for i := range maxHandled + 4 {
		id := "c" + strconv.Itoa(i)
		w.observe(events.Event{Type: events.QueueJoined, CallID: id, Payload: queue.Joined{Caller: "09" + strconv.Itoa(i)}})
		w.observe(events.Event{Type: events.CallBridged, CallID: id, Agent: "a"})
		w.observe(events.Event{Type: events.CallEnded, CallID: id})
	}
	got := w.handled("a")
	if len(got) != maxHandled || got[0] != "09"+strconv.Itoa(maxHandled+3) || got[maxHandled-1] != "094" {
		t.Fatalf("handled = %v, want the newest %d, newest first", got, maxHandled)
	}
	if len(w.callers) != 0 {
		t.Errorf("callers of ended calls kept: %v", w.callers)
	}
	w.observe(events.Event{Type: events.CallBridged, CallID: "unknown", Agent: "b"})
	w.observe(events.Event{Type: events.QueueJoined, CallID: "x", Payload: "not a queue.Joined"})
	if got := w.handled("b"); len(got) != 0 || len(w.callers) != 0 {
		t.Errorf("handled(b) = %v, callers %v: nothing should be granted", got, w.callers)
	}
	now = now.Add(wrapUpGrace + time.Second)
	if got := w.handled("a"); len(got) != 0 {
		t.Errorf("after the grace: %v", got)
	}
}

// In a cluster the caller's queue.joined is the leader's and call.bridged
// the caller node's: relayed events (PublishRemote, a json.RawMessage
// payload) grant too, through Bus.ObserveAll, and each event is seen once.
func TestWrapUpsFromRemoteEvents(t *testing.T) {
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	w := newWrapUps(func() time.Time { return now })
	bus := events.NewBus()
	bus.SetNode("b")
	defer bus.ObserveAll(w.observe)()
	bus.PublishRemote(events.Event{Type: events.QueueJoined, CallID: "c1", Origin: "leader", OriginSeq: 7,
		Payload: json.RawMessage(`{"caller":"0612345678","tier":"standard"}`)})
	bus.PublishRemote(events.Event{Type: events.CallBridged, CallID: "c1", Agent: "a", Origin: "a", OriginSeq: 9})
	if got := w.handled("a"); len(got) != 1 || got[0] != "0612345678" {
		t.Fatalf("handled(a) = %v; want the remote caller once", got)
	}
	bus.PublishRemote(events.Event{Type: events.QueueJoined, CallID: "c2", Payload: json.RawMessage(`not json`)})
	bus.PublishRemote(events.Event{Type: events.CallBridged, CallID: "c2", Agent: "a"})
	if got := w.handled("a"); len(got) != 1 {
		t.Fatalf("a malformed remote payload granted: %v", got)
	}
	bus.PublishRemote(events.Event{Type: events.CallEnded, CallID: "c1"})
	if len(w.callers) != 0 {
		t.Errorf("remote call.ended did not forget the caller: %v", w.callers)
	}
}
