package e2e

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/sip"
)

// Redirect on no answer: the agent idle longest only rings; after the ring
// timeout Hotline cancels that offer and rings the next agent, who answers.
func TestNoAnswerMovesToNextAgent(t *testing.T) {
	leakCheck(t)
	slow := startRingingPhone(t, time.Minute) // rings, never answers in time
	fast := startAgentPhone(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{
			{ID: "slow", Name: "Slow", URI: "sip:slow@" + slow.srv.Addr().String(), Queues: map[string]int{"technical": 0}},
			{ID: "fast", Name: "Fast", URI: "sip:fast@" + fast.srv.Addr().String(), Queues: map[string]int{"technical": 0}},
		}
		c.Allow.Hosts = []string{"127.0.0.1"}
		q := c.Queues["technical"]
		q.RingTimeout = time.Second
		c.Queues["technical"] = q
	})
	apiPost(t, h, "/api/v1/agents/slow/state", `{"state":"login"}`) // idle longest: offered first
	apiPost(t, h, "/api/v1/agents/fast/state", `{"state":"login"}`)

	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912000003"})
	id := call.ID()
	h.menus(call, "language", "1", "main", "1")

	first := h.waitEvent(20*time.Second, "first offer", func(e events.Event) bool { return e.Type == events.AgentOffered && e.CallID == id })
	if first.Agent != "slow" {
		t.Fatalf("first offer to %q, want slow (idle longest)", first.Agent)
	}
	second := h.waitEvent(10*time.Second, "second offer", func(e events.Event) bool {
		return e.Type == events.AgentOffered && e.CallID == id && e.Agent != "slow"
	})
	if second.Agent != "fast" {
		t.Errorf("second offer to %q, want fast", second.Agent)
	}
	if gap := second.Time.Sub(first.Time); gap < 900*time.Millisecond {
		t.Errorf("next agent rung %v after the first: before the 1 s ring timeout", gap)
	}
	h.waitEvent(10*time.Second, "bridged", func(e events.Event) bool { return e.Type == events.CallBridged && e.CallID == id })
	select {
	case <-fast.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("fast agent never answered")
	}
	select { // the slow phone saw CANCEL (RFC 3261 §9) and freed the call
	case e := <-waitType(slow.events, events.CallEnded):
		if p, _ := e.Payload.(sip.CallEnd); p.Cause != sip.CauseCancelled {
			t.Errorf("slow phone's call ended with %v, want %s", p.Cause, sip.CauseCancelled)
		}
	case <-time.After(5 * time.Second):
		t.Error("slow agent's phone never saw its offer cancelled")
	}
	close(fast.hangup)
	<-call.Done()
	if v := h.interaction(id).Voice; v.Agent != "fast" {
		t.Errorf("record agent = %q, want fast", v.Agent)
	}
	h.shutdown()
}

// waitType delivers the first event of typ from sub.
func waitType(sub *events.Subscription, typ string) <-chan events.Event {
	out := make(chan events.Event, 1)
	go func() {
		for e := range sub.C {
			if e.Type == typ {
				out <- e
				return
			}
		}
	}()
	return out
}
