package api_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
)

// stepACD is an ACD whose agents' views the test sets, step by step, as
// the real one would show them through a call.
type stepACD struct {
	api.ACD
	mu     sync.Mutex
	agents map[string]queue.AgentInfo
}

func (d *stepACD) set(a queue.AgentInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.agents[a.ID] = a
}

func (d *stepACD) Agent(id string) (queue.AgentInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := d.agents[id]; ok {
		return a, nil
	}
	return queue.AgentInfo{ID: id, Presence: queue.Available, Activity: queue.Idle}, nil
}

// The window between the agent's hang-up and the call's interaction in
// the ticket history: the wrap-up must be accepted all through it. The
// test drives the order of what happens — the call events on the bus,
// what the ACD shows, when the call log writes the call — and checks the
// wrap-up after each step. Nothing runs in the background: the bus hands
// each event to the API before Publish returns.
func TestWrapUpRightAfterHangUp(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_B", agentBPassword)
	clk := newClock()
	acd := &stepACD{agents: map[string]queue.AgentInfo{}}
	e := newEnv(t, withAgentToken, func(c *api.Config) { c.ACD = acd; c.Now = clk.now })
	hoa := e.customer(map[string]any{"name": "Hoa", "phones": []string{"+84281234567"}})
	ticket := e.ticket(map[string]any{"customer_id": hoa.ID, "subject": "broken bottles"})
	agentA := e.signIn(map[string]string{"username": "ua", "password": agentAPassword})
	agentB := e.signIn(map[string]string{"username": "ub", "password": agentBPassword})
	path := "/api/v1/tickets/" + strconv.FormatInt(ticket.ID, 10) + "/notes"
	n := 0
	wrapUp := func(b *browser) int {
		n++
		return b.change("POST", path, map[string]any{"note": "note " + strconv.Itoa(n), "category": "breakage"}).status
	}
	want := func(step string, b *browser, status int) {
		t.Helper()
		if got := wrapUp(b); got != status {
			t.Fatalf("%s: wrap-up by %s: %d, want %d", step, b.who.Name, got, status)
		}
	}
	byToken := func(step string, status int) {
		t.Helper()
		r := e.do("POST", path, agentToken, map[string]any{"note": "by token"})
		if r.status != status {
			t.Fatalf("%s: wrap-up by agent a's token: %d, want %d: %s", step, r.status, status, r.body)
		}
	}
	const call = "c1@pbx"
	caller := "0281234567" // national, as the trunk sends it

	want("before any call", agentA, 403)
	e.bus.Publish(events.Event{Type: events.QueueJoined, CallID: call, Queue: "q", Payload: queue.Joined{Caller: caller, Tier: store.TierStandard}})
	want("the caller waits, nobody answered", agentA, 403)
	// Agent a answers; b did not.
	e.bus.Publish(events.Event{Type: events.CallBridged, CallID: call, Queue: "q", Agent: "a", Payload: queue.Bridged{Offer: "o1"}})
	acd.set(queue.AgentInfo{ID: "a", Presence: queue.Available, Activity: queue.OnCall, CallID: call, Caller: caller})
	want("on the call", agentA, 201)
	want("on the call: not b's", agentB, 403)
	// The caller hangs up: wrap-up time (the ACD still names the caller).
	e.bus.Publish(events.Event{Type: events.CallEnded, CallID: call})
	acd.set(queue.AgentInfo{ID: "a", Presence: queue.Available, Activity: queue.WrapUp, CallID: call, Caller: caller})
	want("wrap-up time, call not logged", agentA, 201)
	byToken("wrap-up time, call not logged", 201)
	// Wrap-up time over (or wrap_up: 0s): the ACD forgot the caller, the
	// call log has not written the call yet. This was the 403.
	acd.set(queue.AgentInfo{ID: "a", Presence: queue.Available, Activity: queue.Idle})
	clk.add(5 * time.Minute)
	want("idle, call not logged", agentA, 201)
	byToken("idle, call not logged", 201)
	want("idle, call not logged: still not b's", agentB, 403)
	// Long after, the grant has lapsed; without the logged call the
	// right is gone.
	clk.add(time.Hour)
	want("an hour later, call never logged", agentA, 403)
	// The call log writes the call: the stored interaction is the right
	// from now on, however late.
	logged := &store.Interaction{CustomerID: hoa.ID, TicketID: ticket.ID, Channel: store.ChannelVoice, Direction: store.DirectionInbound,
		StartedAt: clk.now(), Voice: &store.VoiceDetails{CallID: call, FromTag: "f1", Agent: "a", Queue: "q", Outcome: store.OutcomeCompleted}}
	if err := e.store.CreateInteraction(t.Context(), logged); err != nil {
		t.Fatal(err)
	}
	want("logged", agentA, 201)
	want("logged: still not b's", agentB, 403)
}

// The grant is for the caller's customer: a call from someone else does
// not open this ticket, and a second call of the agent keeps the first's.
func TestWrapUpGrantIsTheCallersCustomer(t *testing.T) {
	acd := &stepACD{agents: map[string]queue.AgentInfo{}}
	e := newEnv(t, withAgentToken, func(c *api.Config) { c.ACD = acd })
	hoa := e.customer(map[string]any{"name": "Hoa", "phones": []string{"+84281234567"}})
	minh := e.customer(map[string]any{"name": "Minh", "phones": []string{"+84287654321"}})
	hoaTicket := e.ticket(map[string]any{"customer_id": hoa.ID, "subject": "broken bottles"})
	minhTicket := e.ticket(map[string]any{"customer_id": minh.ID, "subject": "refund"})
	path := func(id int64) string { return "/api/v1/tickets/" + strconv.FormatInt(id, 10) + "/notes" }
	note := func(id int64) int { return e.do("POST", path(id), agentToken, map[string]any{"note": "x"}).status }
	answered := func(call, caller string) {
		e.bus.Publish(events.Event{Type: events.QueueJoined, CallID: call, Queue: "q", Payload: queue.Joined{Caller: caller}})
		e.bus.Publish(events.Event{Type: events.CallBridged, CallID: call, Queue: "q", Agent: "a"})
		e.bus.Publish(events.Event{Type: events.CallEnded, CallID: call})
	}
	answered("c1", "0281234567")
	if got := note(minhTicket.ID); got != 403 {
		t.Fatalf("Minh's ticket after Hoa's call: %d", got)
	}
	answered("c2", "+84287654321")
	if a, b := note(hoaTicket.ID), note(minhTicket.ID); a != 201 || b != 201 {
		t.Fatalf("after calls from both: Hoa's %d, Minh's %d", a, b)
	}
}
