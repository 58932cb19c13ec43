package api

import (
	"strconv"
	"sync"
	"testing"

	"github.com/hotline-dev/hotline/events"
)

// encodedEvents gives every stream the same message for an event as
// formatEvent, once encoded for all, also for a stream so far behind that
// the event's slot holds a newer one, and for an event without a sequence.
func TestEncodedEventsShared(t *testing.T) {
	var c encodedEvents
	ev := func(seq uint64) events.Event {
		return events.Event{Seq: seq, Type: events.QueueJoined, Queue: "q" + strconv.FormatUint(seq, 10)}
	}
	var wg sync.WaitGroup
	for range 8 { // streams asking for the same events at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); seq <= 3*uint64(len(c.ring)); seq++ {
				if got, want := c.get(ev(seq)), formatEvent(ev(seq)); got != want {
					t.Errorf("seq %d: %q, want %q", seq, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	behind := uint64(5) // its slot now holds 5 + 2×len(ring)
	if got, want := c.get(ev(behind)), formatEvent(ev(behind)); got != want {
		t.Errorf("a stream behind: %q, want %q", got, want)
	}
	if got, want := c.get(ev(3*uint64(len(c.ring)))), formatEvent(ev(3*uint64(len(c.ring)))); got != want {
		t.Errorf("after the miss: %q, want %q", got, want)
	}
	if got, want := c.get(ev(0)), formatEvent(ev(0)); got != want {
		t.Errorf("seq 0: %q, want %q", got, want)
	}
}
