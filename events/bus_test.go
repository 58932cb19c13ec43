package events

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

func TestPublishDeliversInOrderWithSeq(t *testing.T) {
	b := NewBus()
	s := b.Subscribe(8)
	defer s.Close()
	b.Publish(Event{Type: CallStarted, CallID: "a"})
	b.Publish(Event{Type: CallEnded, CallID: "a"})
	e1, e2 := <-s.C, <-s.C
	if e1.Type != CallStarted || e2.Type != CallEnded || e1.Seq+1 != e2.Seq || e1.Time.IsZero() {
		t.Fatalf("got %+v then %+v", e1, e2)
	}
}

func TestSlowSubscriberDropsInsteadOfBlocking(t *testing.T) {
	b := NewBus()
	slow := b.Subscribe(1)
	fast := b.Subscribe(10)
	defer slow.Close()
	defer fast.Close()
	for i := 0; i < 5; i++ {
		b.Publish(Event{Type: DigitPressed})
	}
	if got := len(fast.C); got != 5 {
		t.Errorf("fast subscriber has %d events, want 5", got)
	}
	if got := b.Dropped(); got != 4 {
		t.Errorf("Dropped = %d, want 4", got)
	}
}

func TestCloseIsIdempotentAndConcurrentWithPublish(t *testing.T) {
	b := NewBus()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				b.Publish(Event{Type: NodeEntered})
			}
		}()
	}
	for i := 0; i < 50; i++ {
		s := b.Subscribe(4)
		s.Close()
		s.Close()
		if _, ok := <-s.C; ok {
			// drain whatever arrived before Close; the channel must end closed
			for range s.C {
			}
		}
	}
	wg.Wait()
	var nilBus *Bus
	nilBus.Publish(Event{Type: CallEnded}) // components built without a bus must not crash
}

// TestPayloadOnTheWire: a typed payload is sent as "data"; no payload, no
// "data".
func TestPayloadOnTheWire(t *testing.T) {
	type change struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	b, err := json.Marshal(Event{Seq: 7, Type: "callback.waiting", Queue: "sales", Payload: change{ID: 3, State: "waiting"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"seq":7,"time":"0001-01-01T00:00:00Z","type":"callback.waiting","queue":"sales","data":{"id":3,"state":"waiting"}}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, err = json.Marshal(Event{Seq: 8, Type: "queue.joined", Queue: "sales"})
	if err != nil || string(b) != `{"seq":8,"time":"0001-01-01T00:00:00Z","type":"queue.joined","queue":"sales"}` {
		t.Fatalf("no payload: %s %v", b, err)
	}
}

// An observer sees every event before Publish returns, even when a
// subscription is full, and none after stop.
func TestObserve(t *testing.T) {
	b := NewBus()
	full := b.Subscribe(1)
	defer full.Close()
	var seen []string
	stop := b.Observe(func(e Event) { seen = append(seen, e.Type) })
	for _, typ := range []string{"a", "b", "c"} {
		b.Publish(Event{Type: typ})
		if seen[len(seen)-1] != typ {
			t.Fatalf("after Publish(%s) the observer saw %v", typ, seen)
		}
	}
	if b.Dropped() != 2 {
		t.Errorf("dropped %d, want 2 (the full subscription's)", b.Dropped())
	}
	stop()
	b.Publish(Event{Type: "d"})
	if len(seen) != 3 {
		t.Errorf("observer saw %v after stop", seen)
	}
}

// Another node's event reaches SubscribeAll only, keeps its origin and
// gets this bus's next Seq; this node's own events carry its name.
func TestPublishRemoteOnlyForSubscribeAll(t *testing.T) {
	b := NewBus()
	b.SetNode("a")
	local, all := b.Subscribe(4), b.SubscribeAll(4)
	defer local.Close()
	defer all.Close()
	var observed []Event
	stop := b.Observe(func(e Event) { observed = append(observed, e) })
	defer stop()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b.Publish(Event{Type: CallStarted, CallID: "c1"})
	b.PublishRemote(Event{Type: QueueJoined, CallID: "c2", Time: at, Origin: "b", OriginSeq: 41})
	b.Publish(Event{Type: CallEnded, CallID: "c1"})

	for _, want := range []Event{{Seq: 1, Type: CallStarted, Origin: "a", OriginSeq: 1}, {Seq: 3, Type: CallEnded, Origin: "a", OriginSeq: 3}} {
		got := <-local.C
		if got.Seq != want.Seq || got.Type != want.Type || got.Origin != want.Origin || got.OriginSeq != want.OriginSeq {
			t.Fatalf("local subscription got %+v; want %+v", got, want)
		}
	}
	for _, want := range []Event{{Seq: 1, Origin: "a", OriginSeq: 1}, {Seq: 2, Origin: "b", OriginSeq: 41}, {Seq: 3, Origin: "a", OriginSeq: 3}} {
		got := <-all.C
		if got.Seq != want.Seq || got.Origin != want.Origin || got.OriginSeq != want.OriginSeq {
			t.Fatalf("SubscribeAll got %+v; want %+v", got, want)
		}
		if got.Origin == "b" && !got.Time.Equal(at) {
			t.Fatalf("remote event's time %v; want its origin's %v", got.Time, at)
		}
	}
	if len(observed) != 2 || observed[0].Origin != "a" || observed[1].Type != CallEnded {
		t.Fatalf("observer saw %+v; want this node's two events only", observed)
	}
	select {
	case e := <-local.C:
		t.Fatalf("local subscription got a remote event %+v", e)
	default:
	}
}

// ObserveAll sees the other nodes' events too; Observe does not.
func TestObserveAllSeesRemote(t *testing.T) {
	b := NewBus()
	var own, all []string
	defer b.Observe(func(e Event) { own = append(own, e.CallID) })()
	defer b.ObserveAll(func(e Event) { all = append(all, e.CallID) })()
	b.Publish(Event{Type: CallStarted, CallID: "local"})
	b.PublishRemote(Event{Type: CallStarted, CallID: "remote", Origin: "b", OriginSeq: 1})
	if len(own) != 1 || own[0] != "local" {
		t.Errorf("Observe saw %v; want [local]", own)
	}
	if len(all) != 2 || all[0] != "local" || all[1] != "remote" {
		t.Errorf("ObserveAll saw %v; want [local remote]", all)
	}
}
