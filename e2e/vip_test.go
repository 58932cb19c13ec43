package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// Two callers wait in the technical queue with no agent logged in; the one
// who called second is a VIP in the ticket history (created over the API as
// an email/chat system would). When the agent logs in, the VIP is offered
// first. The standard caller then hangs up while waiting: abandoned_queue.
func TestVIPOvertakesAndAbandonIsRecorded(t *testing.T) {
	leakCheck(t)
	agent := startAgentPhone(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", URI: "sip:lan@" + agent.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
		q := c.Queues["technical"]
		q.JoinEmpty = true // wait even though nobody is logged in yet
		c.Queues["technical"] = q
	})
	apiPost(t, h, "/api/v1/customers", `{"name":"Chị Mai","phones":["0912000001"],"tier":"vip"}`)

	toQueue := func(from string) *sip.OutboundCall {
		_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: from})
		h.menus(call, "language", "1", "main", "1")
		h.waitEvent(20*time.Second, "queue.joined", func(e events.Event) bool {
			return e.Type == events.QueueJoined && e.CallID == call.ID()
		})
		return call
	}
	standard := toQueue("0912000002")
	vip := toQueue("0912000001")

	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	offer := h.waitEvent(10*time.Second, "agent.offered", func(e events.Event) bool { return e.Type == events.AgentOffered })
	if offer.CallID != vip.ID() {
		t.Errorf("first offer went to %s, want the VIP caller %s (standard caller %s joined earlier)", offer.CallID, vip.ID(), standard.ID())
	}
	h.waitEvent(10*time.Second, "VIP bridged", func(e events.Event) bool { return e.Type == events.CallBridged && e.CallID == vip.ID() })

	// The standard caller gives up while the agent is busy.
	must(t, standard.Hangup(context.Background()))
	it := h.interaction(standard.ID())
	if it.Voice.Outcome != store.OutcomeAbandonedQueue || it.Voice.Queue != "technical" || it.Voice.HangupSide != "caller" {
		t.Errorf("standard caller record: outcome %q queue %q side %q", it.Voice.Outcome, it.Voice.Queue, it.Voice.HangupSide)
	}

	close(agent.hangup)
	<-vip.Done()
	if v := h.interaction(vip.ID()).Voice; v.Agent != "lan" || v.Outcome != store.OutcomeCompleted {
		t.Errorf("VIP record: agent %q outcome %q", v.Agent, v.Outcome)
	}
	h.shutdown()
}
