package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func newCustomer(t *testing.T, s store.Store, phone string) *store.Customer {
	t.Helper()
	c := &store.Customer{Name: "Customer " + phone}
	if phone != "" {
		c.Phones = []string{phone}
	}
	must(t, s.CreateCustomer(ctx(t), c))
	return c
}

func testTicketCRUD(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84912000001")
	tk := &store.Ticket{CustomerID: c.ID, Subject: "Đơn hàng chưa tới", Category: " Shipping ", Tags: []string{"email", "email", "late"}, Channel: store.ChannelEmail}
	must(t, s.CreateTicket(ctx(t), tk))
	if tk.ID <= 0 || tk.Status != store.StatusOpen || tk.Priority != "normal" || tk.Category != "shipping" || !reflect.DeepEqual(tk.Tags, []string{"email", "late"}) {
		t.Fatalf("after create: %+v", tk)
	}
	got, err := s.GetTicket(ctx(t), tk.ID)
	must(t, err)
	if !reflect.DeepEqual(got, tk) {
		t.Fatalf("get = %+v; want %+v", got, tk)
	}
	got.Status, got.Assignee, got.Priority = store.StatusSolved, "agent-7", "high"
	must(t, s.UpdateTicket(ctx(t), got))
	again, err := s.GetTicket(ctx(t), tk.ID)
	must(t, err)
	if again.Status != store.StatusSolved || again.Assignee != "agent-7" || again.Priority != "high" || !again.CreatedAt.Equal(tk.CreatedAt) {
		t.Fatalf("after update: %+v", again)
	}
	for _, tc := range []struct {
		tk    store.Ticket
		field string
	}{
		{store.Ticket{Subject: "x"}, "customer_id"},
		{store.Ticket{CustomerID: c.ID}, "subject"},
		{store.Ticket{CustomerID: c.ID, Subject: "x", Status: "lost"}, "status"},
		{store.Ticket{CustomerID: c.ID, Subject: "x", Priority: "p1"}, "priority"},
		{store.Ticket{CustomerID: c.ID, Subject: "x", Channel: "fax"}, "channel"},
		{store.Ticket{CustomerID: c.ID + 999, Subject: "x"}, "customer_id"},
		{store.Ticket{CustomerID: c.ID, Subject: "x", Tags: []string{""}}, "tags[0]"},
	} {
		bad := tc.tk
		wantField(t, s.CreateTicket(ctx(t), &bad), tc.field)
	}
	_, err = s.GetTicket(ctx(t), tk.ID+999)
	wantIs(t, err, store.ErrNotFound)
	wantIs(t, s.UpdateTicket(ctx(t), &store.Ticket{ID: tk.ID + 999, CustomerID: c.ID, Subject: "x"}), store.ErrNotFound)
}

func testTicketList(t *testing.T, s store.Store) {
	a := newCustomer(t, s, "+84912000001")
	b := newCustomer(t, s, "+84912000002")
	var aIDs []int64
	for i := range 5 {
		tk := &store.Ticket{CustomerID: a.ID, Subject: fmt.Sprint("t", i), Category: []string{"technical", "sales"}[i%2]}
		must(t, s.CreateTicket(ctx(t), tk))
		aIDs = append([]int64{tk.ID}, aIDs...) // newest first
	}
	must(t, s.CreateTicket(ctx(t), &store.Ticket{CustomerID: b.ID, Subject: "b", Status: store.StatusPending}))
	var seen []int64
	cur := ""
	for range 10 {
		ts, next, err := s.ListTickets(ctx(t), store.TicketFilter{CustomerID: a.ID}, store.Page{Limit: 2, Cursor: cur})
		must(t, err)
		for _, tk := range ts {
			seen = append(seen, tk.ID)
		}
		if cur = next; cur == "" {
			break
		}
	}
	if !reflect.DeepEqual(seen, aIDs) {
		t.Fatalf("paged %v; want %v", seen, aIDs)
	}
	tech, _, err := s.ListTickets(ctx(t), store.TicketFilter{CustomerID: a.ID, Category: "Technical"}, store.Page{})
	must(t, err)
	if len(tech) != 3 {
		t.Fatalf("%d technical tickets; want 3", len(tech))
	}
	pend, _, err := s.ListTickets(ctx(t), store.TicketFilter{Status: store.StatusPending}, store.Page{})
	must(t, err)
	if len(pend) != 1 || pend[0].CustomerID != b.ID {
		t.Fatalf("pending = %+v", pend)
	}
	none, next, err := s.ListTickets(ctx(t), store.TicketFilter{CustomerID: a.ID + b.ID + 100}, store.Page{})
	must(t, err)
	if none == nil || len(none) != 0 || next != "" {
		t.Fatalf("empty list = %#v, %q; want [] and no cursor", none, next)
	}
}

func testInteractionCRUD(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84912000001")
	other := newCustomer(t, s, "+84912000002")
	tk := &store.Ticket{CustomerID: c.ID, Subject: "s"}
	must(t, s.CreateTicket(ctx(t), tk))
	start := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	end := start.Add(90 * time.Second)
	in := &store.Interaction{CustomerID: c.ID, TicketID: tk.ID, Channel: store.ChannelChat, StartedAt: start, EndedAt: &end,
		Summary: "chat", Body: "xin chào", Details: json.RawMessage(`{"thread": "42"}`)}
	must(t, s.CreateInteraction(ctx(t), in))
	got, err := s.GetInteraction(ctx(t), in.ID)
	must(t, err)
	if !got.StartedAt.Equal(start.Truncate(time.Microsecond)) || got.EndedAt == nil || !got.EndedAt.Equal(end.Truncate(time.Microsecond)) ||
		got.Body != "xin chào" || got.Direction != store.DirectionInbound || got.TicketID != tk.ID || got.Voice != nil {
		t.Fatalf("get = %+v", got)
	}
	var d map[string]string
	if err := json.Unmarshal(got.Details, &d); err != nil || d["thread"] != "42" {
		t.Fatalf("details = %s (%v)", got.Details, err)
	}
	v := &store.VoiceDetails{CallID: "abc@host", CallerNumber: "+84912000001", CalledNumber: "1900", FlowName: "support", FlowVersion: "v3",
		Path:  []store.IVRStep{{Node: "welcome", Type: "play", At: start.UTC()}, {Node: "main", Type: "menu", At: start.Add(5 * time.Second).UTC(), Digits: "1"}},
		Queue: "technical", WaitSeconds: 12.5, Agent: "a1", TalkSeconds: 60, Outcome: store.OutcomeCompleted, HangupCause: "normal", HangupSide: "caller",
		CallbackAttempts: 1, PacketsLost: 3, JitterMillis: 4.5, FromTag: "9fxced76sl", Legs: transferLegs(), Recordings: []store.Recording{}}
	call := &store.Interaction{CustomerID: c.ID, Channel: store.ChannelVoice, StartedAt: start, Voice: v}
	must(t, s.CreateInteraction(ctx(t), call))
	gotCall, err := s.GetInteraction(ctx(t), call.ID)
	must(t, err)
	if !reflect.DeepEqual(gotCall.Voice, v) || gotCall.TicketID != 0 || gotCall.EndedAt != nil {
		t.Fatalf("voice = %+v; want %+v", gotCall.Voice, v)
	}
	dup := &store.Interaction{CustomerID: c.ID, Channel: store.ChannelVoice, Voice: &store.VoiceDetails{CallID: "abc@host", FromTag: "9fxced76sl"}}
	wantIs(t, s.CreateInteraction(ctx(t), dup), store.ErrConflict)
	for _, tc := range []struct {
		i     store.Interaction
		field string
	}{
		{store.Interaction{Channel: store.ChannelEmail}, "customer_id"},
		{store.Interaction{CustomerID: c.ID, Channel: "pigeon"}, "channel"},
		{store.Interaction{CustomerID: c.ID, Channel: store.ChannelEmail, Direction: "up"}, "direction"},
		{store.Interaction{CustomerID: c.ID, Channel: store.ChannelEmail, StartedAt: end, EndedAt: &start}, "ended_at"},
		{store.Interaction{CustomerID: c.ID, Channel: store.ChannelEmail, Details: json.RawMessage(`{`)}, "details"},
		{store.Interaction{CustomerID: c.ID, Channel: store.ChannelEmail, Voice: &store.VoiceDetails{CallID: "x"}}, "voice"},
		{store.Interaction{CustomerID: c.ID, Channel: store.ChannelVoice, Voice: &store.VoiceDetails{}}, "voice.call_id"},
		{store.Interaction{CustomerID: c.ID, Channel: store.ChannelVoice, Voice: &store.VoiceDetails{CallID: "y", Outcome: "meh"}}, "voice.outcome"},
		{store.Interaction{CustomerID: other.ID, TicketID: tk.ID, Channel: store.ChannelEmail}, "ticket_id"},
		{store.Interaction{CustomerID: c.ID, TicketID: tk.ID + 999, Channel: store.ChannelEmail}, "ticket_id"},
		{store.Interaction{CustomerID: c.ID + 999, Channel: store.ChannelEmail}, "customer_id"},
	} {
		bad := tc.i
		wantField(t, s.CreateInteraction(ctx(t), &bad), tc.field)
	}
	_, err = s.GetInteraction(ctx(t), call.ID+999)
	wantIs(t, err, store.ErrNotFound)
	byTicket, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{TicketID: tk.ID}, store.Page{})
	must(t, err)
	if len(byTicket) != 1 || byTicket[0].ID != in.ID {
		t.Fatalf("by ticket = %+v", byTicket)
	}
	voice, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{})
	must(t, err)
	if len(voice) != 1 || voice[0].Voice == nil {
		t.Fatalf("voice list = %+v", voice)
	}
}
