package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

var t0 = time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)

func rec(callID, caller, category string) store.CallRecord {
	return store.CallRecord{StartedAt: t0, EndedAt: t0.Add(2 * time.Minute), Direction: store.DirectionInbound, Category: category,
		Voice: store.VoiceDetails{CallID: callID, CallerNumber: caller, CalledNumber: "1900", FlowName: "support", Outcome: store.OutcomeCompleted,
			Path: []store.IVRStep{{Node: "main", Type: "menu", At: t0, Digits: "1"}}}}
}

func logCall(t *testing.T, s store.Store, r store.CallRecord) store.LogResult {
	t.Helper()
	res, err := s.LogCall(ctx(t), r)
	must(t, err)
	return res
}

func testLogCallNew(t *testing.T, s store.Store) {
	res := logCall(t, s, rec("c1", "0912 345 678", "technical"))
	if !res.NewCustomer || !res.NewTicket || res.Duplicate || res.InteractionID == 0 {
		t.Fatalf("result = %+v", res)
	}
	c, err := s.FindCustomerByPhone(ctx(t), "+84912345678")
	must(t, err)
	if c.ID != res.CustomerID || c.Tier != store.TierNew {
		t.Fatalf("customer = %+v; result %+v", c, res)
	}
	tk, err := s.GetTicket(ctx(t), res.TicketID)
	must(t, err)
	if tk.Category != "technical" || tk.Status != store.StatusOpen || tk.Channel != store.ChannelVoice || tk.Subject != "Call from +84912345678 — technical" {
		t.Fatalf("ticket = %+v", tk)
	}
	in, err := s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if in.Voice == nil || in.Voice.CallID != "c1" || in.TicketID != tk.ID || in.Channel != store.ChannelVoice ||
		in.EndedAt == nil || len(in.Voice.Path) != 1 || in.Voice.Path[0].Digits != "1" {
		t.Fatalf("interaction = %+v voice %+v", in, in.Voice)
	}
	r := rec("c2", "+84 90 111 2222", "")
	r.Subject = "Hỏi về đơn hàng"
	r.Tags = []string{"ivr"}
	res = logCall(t, s, r)
	tk, err = s.GetTicket(ctx(t), res.TicketID)
	must(t, err)
	if tk.Category != "general" || tk.Subject != "Hỏi về đơn hàng" || len(tk.Tags) != 1 {
		t.Fatalf("ticket = %+v", tk)
	}
}

func testLogCallExisting(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84912345678")
	for i, caller := range []string{"0912345678", "+84912345678", "0084 912 345 678", "tel:+84-912-345-678"} {
		res := logCall(t, s, rec(fmt.Sprint("call-", i), caller, "billing"))
		if res.CustomerID != c.ID || res.NewCustomer {
			t.Fatalf("caller %q: result %+v; want customer %d", caller, res, c.ID)
		}
	}
}

func testLogCallTicketRule(t *testing.T, s store.Store) {
	first := logCall(t, s, rec("a", "0912345678", "Technical"))
	same := logCall(t, s, rec("b", "0912345678", "technical"))
	if same.TicketID != first.TicketID || same.NewTicket {
		t.Fatalf("same category: ticket %d (new %v); want %d", same.TicketID, same.NewTicket, first.TicketID)
	}
	other := logCall(t, s, rec("c", "0912345678", "sales"))
	if other.TicketID == first.TicketID || !other.NewTicket {
		t.Fatalf("other category reused ticket %d", other.TicketID)
	}
	// Pending still counts as open; solved does not.
	tk, err := s.GetTicket(ctx(t), first.TicketID)
	must(t, err)
	tk.Status = store.StatusPending
	must(t, s.UpdateTicket(ctx(t), tk))
	pend := logCall(t, s, rec("d", "0912345678", "technical"))
	if pend.TicketID != first.TicketID {
		t.Fatalf("pending ticket not reused: %+v", pend)
	}
	tk.Status = store.StatusSolved
	must(t, s.UpdateTicket(ctx(t), tk))
	solved := logCall(t, s, rec("e", "0912345678", "technical"))
	if solved.TicketID == first.TicketID || !solved.NewTicket {
		t.Fatalf("solved ticket reused: %+v", solved)
	}
	// Another customer's open ticket in the category is not theirs.
	stranger := logCall(t, s, rec("f", "0987654321", "technical"))
	if stranger.TicketID == solved.TicketID || stranger.CustomerID == solved.CustomerID {
		t.Fatalf("stranger attached to %+v", stranger)
	}
	ins, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{TicketID: first.TicketID}, store.Page{})
	must(t, err)
	if len(ins) != 3 {
		t.Fatalf("%d interactions on the first ticket; want 3", len(ins))
	}
}

func testLogCallIdempotent(t *testing.T, s store.Store) {
	first := logCall(t, s, rec("dup@host", "0912345678", "technical"))
	r := rec("dup@host", "0987654321", "sales") // different data, same Call-ID
	second := logCall(t, s, r)
	if !second.Duplicate || second.InteractionID != first.InteractionID || second.CustomerID != first.CustomerID ||
		second.TicketID != first.TicketID || second.NewCustomer || second.NewTicket {
		t.Fatalf("second = %+v; first %+v", second, first)
	}
	if _, err := s.FindCustomerByPhone(ctx(t), "0987654321"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a duplicate created a customer: %v", err)
	}
	all, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{}, store.Page{})
	must(t, err)
	if len(all) != 1 {
		t.Fatalf("%d interactions; want 1", len(all))
	}
}

func testLogCallAnonymous(t *testing.T, s store.Store) {
	a := logCall(t, s, rec("x1", "anonymous", ""))
	b := logCall(t, s, rec("x2", "Anonymous", ""))
	empty := logCall(t, s, rec("x3", "", ""))
	if !a.NewCustomer || b.CustomerID != a.CustomerID || empty.CustomerID != a.CustomerID || b.TicketID != a.TicketID {
		t.Fatalf("anonymous callers: %+v %+v %+v", a, b, empty)
	}
	c, err := s.GetCustomer(ctx(t), a.CustomerID)
	must(t, err)
	if len(c.Phones) != 0 || c.Attributes["caller_raw"] != "anonymous" {
		t.Fatalf("anonymous customer = %+v", c)
	}
	sipUser := logCall(t, s, rec("x4", "alice", ""))
	if sipUser.CustomerID == a.CustomerID {
		t.Fatal("a named SIP caller was merged into anonymous")
	}
}

func testLogCallsBatch(t *testing.T, s store.Store) {
	rs := []store.CallRecord{rec("b1", "0912000001", "a"), rec("b2", "0912000001", "a"), rec("b1", "0912000001", "a"), rec("b3", "0912000002", "b")}
	res, err := s.LogCalls(ctx(t), rs)
	must(t, err)
	if len(res) != 4 || res[0].Duplicate || res[1].Duplicate || !res[2].Duplicate || res[2].InteractionID != res[0].InteractionID ||
		res[1].TicketID != res[0].TicketID || res[3].CustomerID == res[0].CustomerID {
		t.Fatalf("batch results %+v", res)
	}
	if res[1].NewCustomer || res[1].CustomerID != res[0].CustomerID {
		t.Fatalf("second call of a caller in one batch made a new customer: %+v", res)
	}
	// A batch with a bad record writes nothing and names the record.
	bad := []store.CallRecord{rec("b4", "0912000003", ""), rec("", "0912000003", "")}
	_, err = s.LogCalls(ctx(t), bad)
	wantField(t, err, "records[1].voice.call_id")
	if _, err := s.FindCustomerByPhone(ctx(t), "0912000003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed batch left a customer: %v", err)
	}
	empty, err := s.LogCalls(ctx(t), nil)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty batch = %v, %v", empty, err)
	}
}

func testLogCallValidation(t *testing.T, s store.Store) {
	r := rec("v1", "0912345678", "")
	r.Direction = "sideways"
	_, err := s.LogCall(ctx(t), r)
	wantField(t, err, "direction")
	r = rec("v2", "0912345678", "")
	r.EndedAt = r.StartedAt.Add(-time.Second)
	_, err = s.LogCall(ctx(t), r)
	wantField(t, err, "ended_at")
	r = rec("v3", "0912345678", strings.Repeat("x", 2000))
	_, err = s.LogCall(ctx(t), r)
	wantField(t, err, "category")
	r = rec("  ", "0912345678", "")
	_, err = s.LogCall(ctx(t), r)
	wantField(t, err, "voice.call_id")
}
