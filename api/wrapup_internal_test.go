package api

import (
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
