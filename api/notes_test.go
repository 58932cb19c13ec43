package api_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
)

// deskACD is an ACD whose agent a is being offered a call from ringing
// (and b is idle): what the wrap-up rule reads.
type deskACD struct {
	api.ACD
	ringing string
}

func (d deskACD) Agent(id string) (queue.AgentInfo, error) {
	a := queue.AgentInfo{ID: id}
	if id == "a" && d.ringing != "" {
		a.Offer = &queue.Offer{CallID: "call-1", Agent: "a", Caller: d.ringing}
		a.CallID = "call-1"
	}
	return a, nil
}

func TestTicketNotes(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_B", agentBPassword)
	e := newEnv(t, withAgents, func(c *api.Config) { c.ACD = deskACD{ACD: newACD(t), ringing: "0281234567"} })
	caller := e.customer(map[string]any{"name": "Lan", "phones": []string{"0281234567"}})
	other := e.customer(map[string]any{"name": "Minh", "phones": []string{"0287654321"}})
	callerTicket := e.ticket(map[string]any{"customer_id": caller.ID, "subject": "parcel late"})
	otherTicket := e.ticket(map[string]any{"customer_id": other.ID, "subject": "refund"})
	// A call agent b answered, logged on the other customer's ticket.
	handled := &store.Interaction{CustomerID: other.ID, TicketID: otherTicket.ID, Channel: store.ChannelVoice,
		Voice: &store.VoiceDetails{CallID: "old@host", FromTag: "t1", Outcome: store.OutcomeCompleted,
			Legs: []store.CallLeg{{Queue: "q", Agent: "b", End: store.LegHangup, EndedBy: store.SideCaller}}}}
	if err := e.store.CreateInteraction(t.Context(), handled); err != nil {
		t.Fatal(err)
	}
	agentA := e.signIn(map[string]string{"username": "ua", "password": agentAPassword})
	agentB := e.signIn(map[string]string{"username": "ub", "password": agentBPassword})
	read := e.signIn(map[string]string{"token": readToken})
	write := e.signIn(map[string]string{"token": writeToken})
	path := func(id int64) string { return "/api/v1/tickets/" + strconv.FormatInt(id, 10) + "/notes" }
	note := map[string]any{"note": "wants a refund\nsecond line", "category": "billing"}
	tests := []struct {
		name   string
		b      *browser
		path   string
		body   any
		status int
	}{
		{"agent handling the caller notes their ticket", agentA, path(callerTicket.ID), note, 201},
		{"agent cannot note an unrelated ticket", agentA, path(otherTicket.ID), note, 403},
		{"agent who handled a logged call notes its ticket", agentB, path(otherTicket.ID), map[string]any{"note": "called back"}, 201},
		{"agent not on the call cannot", agentB, path(callerTicket.ID), note, 403},
		{"agent still cannot patch tickets", agentA, "/api/v1/tickets/" + strconv.FormatInt(callerTicket.ID, 10), map[string]any{"category": "x"}, 403},
		{"read session cannot", read, path(callerTicket.ID), note, 403},
		{"write session notes any ticket", write, path(otherTicket.ID), map[string]any{"category": "refunds"}, 201},
		{"empty body", write, path(otherTicket.ID), map[string]any{}, 422},
		{"unknown field", write, path(otherTicket.ID), map[string]any{"status": "closed"}, 400},
		{"no such ticket", write, path(99999), note, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.b.change("POST", tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
	// The note is on the ticket, and the category changed.
	got, err := e.store.GetTicket(t.Context(), callerTicket.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Category != "billing" {
		t.Errorf("category %q, want billing", got.Category)
	}
	items, _, err := e.store.ListInteractions(t.Context(), store.InteractionFilter{TicketID: callerTicket.ID}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Body != "wants a refund\nsecond line" || items[0].Summary != "Note (agent a): wants a refund" {
		t.Fatalf("notes on the ticket: %+v", items)
	}
	var d map[string]string
	if err := json.Unmarshal(items[0].Details, &d); err != nil || d["kind"] != "note" || d["author"] != "agent a" {
		t.Errorf("details %s (%v)", items[0].Details, err)
	}
	// Bearer tokens behave as before: write may note, read may not.
	if r := e.do("POST", path(callerTicket.ID), writeToken, map[string]any{"note": "by the mail bridge"}); r.status != 201 {
		t.Errorf("write token: %d %s", r.status, r.body)
	}
	if r := e.do("POST", path(callerTicket.ID), readToken, map[string]any{"note": "x"}); r.status != 403 {
		t.Errorf("read token: %d %s", r.status, r.body)
	}
}
