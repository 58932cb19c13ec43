package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Callback tests run at c0, a Monday morning; they pass every time
// explicitly, as the scheduler does.
var c0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

func callbacks(t *testing.T, s store.Store) store.Callbacks {
	t.Helper()
	cs, ok := s.(store.Callbacks)
	if !ok {
		t.Fatalf("%T does not implement store.Callbacks", s)
	}
	return cs
}

// virtualHold is a request from a caller who waited in technical since
// 10 minutes before c0.
func virtualHold(number, callID string) store.CallbackRequest {
	return store.CallbackRequest{Queue: "technical", Number: number, Source: store.SourceVirtualHold, Tier: store.TierVIP,
		JoinedAt: c0.Add(-10 * time.Minute), ExpiresAt: c0.Add(24 * time.Hour), MaxAttempts: 3, Caller: number,
		CallID: callID, FromTag: "ft-" + callID, Category: "technical", Language: "vi", At: c0}
}

func request(t *testing.T, cs store.Callbacks, r store.CallbackRequest) store.Callback {
	t.Helper()
	cb, err := cs.RequestCallback(ctx(t), r)
	must(t, err)
	return cb
}

func claim(t *testing.T, cs store.Callbacks, cb store.Callback, boot string, at time.Time) store.Callback {
	t.Helper()
	got, err := cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: cb.ID, Version: cb.Version, Boot: boot, At: at,
		CallID: fmt.Sprintf("out-%d-%d", cb.ID, cb.Attempts+1), FromTag: "hl-" + boot, Trunk: "trunk1"})
	must(t, err)
	return got
}

func ticketStory(t *testing.T, s store.Store, ticket int64) []store.Interaction {
	t.Helper()
	ins, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{TicketID: ticket}, store.Page{Limit: 100})
	must(t, err)
	return ins
}

func noteEvent(t *testing.T, in store.Interaction) string {
	t.Helper()
	var d struct {
		Callback struct {
			ID    int64  `json:"id"`
			Event string `json:"event"`
		} `json:"callback"`
	}
	if err := json.Unmarshal(in.Details, &d); err != nil || d.Callback.ID == 0 {
		t.Fatalf("interaction %d details %s: not a callback note (%v)", in.ID, in.Details, err)
	}
	return d.Callback.Event
}

func testCallbackRequest(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	cb := request(t, cs, virtualHold("0912 345 678", "call-1"))
	if cb.ID <= 0 || cb.Number != "+84912345678" || cb.State != store.CallbackWaiting || cb.Version != 1 || cb.Attempts != 0 ||
		cb.Tier != store.TierVIP || !cb.JoinedAt.Equal(c0.Add(-10*time.Minute)) || !cb.NotBefore.Equal(c0) ||
		cb.Mode != store.CallbackCustomerFirst || cb.CustomerID == 0 || cb.TicketID == 0 {
		t.Fatalf("requested: %+v", cb)
	}
	got, err := cs.GetCallback(ctx(t), cb.ID)
	must(t, err)
	if got.Number != cb.Number || !got.JoinedAt.Equal(cb.JoinedAt) || !got.ExpiresAt.Equal(cb.ExpiresAt) || got.CallID != "call-1" ||
		got.FromTag != "ft-call-1" || got.Language != "vi" || got.Version != 1 || len(got.Calls) != 0 || !got.CreatedAt.Equal(c0) {
		t.Fatalf("get = %+v; want %+v", got, cb)
	}
	c, err := s.FindCustomerByPhone(ctx(t), "+84912345678")
	must(t, err)
	tk, err := s.GetTicket(ctx(t), cb.TicketID)
	must(t, err)
	if c.ID != cb.CustomerID || tk.CustomerID != c.ID || tk.Category != "technical" || tk.Status != store.StatusOpen {
		t.Fatalf("customer %+v ticket %+v for %+v", c, tk, cb)
	}
	story := ticketStory(t, s, cb.TicketID)
	if len(story) != 1 || noteEvent(t, story[0]) != "requested" || story[0].Direction != store.DirectionInbound ||
		!strings.Contains(story[0].Summary, "+84912345678") {
		t.Fatalf("ticket story = %+v", story)
	}
	if _, err := cs.GetCallback(ctx(t), cb.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}

	// From the API for a customer with an open ticket in another category:
	// the category decides, as for calls; an explicit ticket wins.
	other := &store.Ticket{CustomerID: c.ID, Subject: "Refund", Category: "billing"}
	must(t, s.CreateTicket(ctx(t), other))
	api := store.CallbackRequest{Queue: "billing", Number: "+84912345678", Source: store.SourceAPI, ExpiresAt: c0.Add(time.Hour),
		MaxAttempts: 2, CustomerID: c.ID, Category: "billing", At: c0}
	byAPI := request(t, cs, api)
	if byAPI.TicketID != other.ID || byAPI.Tier != "" || !byAPI.JoinedAt.Equal(c0) {
		t.Fatalf("api request = %+v; want ticket %d", byAPI, other.ID)
	}
	api.Queue, api.TicketID, api.Category = "sales", cb.TicketID, ""
	if got := request(t, cs, api); got.TicketID != cb.TicketID {
		t.Fatalf("explicit ticket: %+v", got)
	}
	// A caller ID that is not a number (anonymous) is the customer; the
	// number to call is another.
	anon := virtualHold("+84987654321", "call-anon")
	anon.Caller = "anonymous"
	a := request(t, cs, anon)
	if a.CustomerID == cb.CustomerID || a.Number != "+84987654321" {
		t.Fatalf("anonymous caller: %+v", a)
	}
	ac, err := s.GetCustomer(ctx(t), a.CustomerID)
	must(t, err)
	if !strings.Contains(ac.Name, "anonymous") {
		t.Fatalf("anonymous caller's customer = %+v", ac)
	}
}

func testCallbackValidation(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	c := newCustomer(t, s, "+84912000009")
	tk := &store.Ticket{CustomerID: c.ID, Subject: "x"}
	must(t, s.CreateTicket(ctx(t), tk))
	other := newCustomer(t, s, "+84912000010")
	for _, tc := range []struct {
		field string
		edit  func(r *store.CallbackRequest)
	}{
		{"queue", func(r *store.CallbackRequest) { r.Queue = " " }},
		{"number", func(r *store.CallbackRequest) { r.Number = "call me" }},
		{"source", func(r *store.CallbackRequest) { r.Source = "web" }},
		{"mode", func(r *store.CallbackRequest) { r.Mode = "both" }},
		{"tier", func(r *store.CallbackRequest) { r.Tier = "gold" }},
		{"max_attempts", func(r *store.CallbackRequest) { r.MaxAttempts = 0 }},
		{"expires_at", func(r *store.CallbackRequest) { r.ExpiresAt = c0 }},
		{"customer_id", func(r *store.CallbackRequest) { r.CustomerID = 999999 }},
		{"ticket_id", func(r *store.CallbackRequest) { r.TicketID = 999999 }},
		{"ticket_id", func(r *store.CallbackRequest) { r.TicketID, r.CustomerID = tk.ID, other.ID }},
		{"note", func(r *store.CallbackRequest) { r.Note = "bad \x00 byte" }},
	} {
		r := virtualHold("+84912000011", "v")
		tc.edit(&r)
		_, err := cs.RequestCallback(ctx(t), r)
		wantField(t, err, tc.field)
	}
	if cbs, _, err := cs.ListCallbacks(ctx(t), store.CallbackFilter{}, store.Page{}); err != nil || len(cbs) != 0 {
		t.Fatalf("refused requests left %d callbacks (%v)", len(cbs), err)
	}
	_, _, err := cs.ListCallbacks(ctx(t), store.CallbackFilter{State: "lost"}, store.Page{})
	wantField(t, err, "state")
}

func testCallbackDedupe(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	first := request(t, cs, virtualHold("0912345678", "d-1"))
	again := virtualHold("+84 912 345 678", "d-2")
	_, err := cs.RequestCallback(ctx(t), again)
	var dup *store.DuplicateCallbackError
	if !errors.As(err, &dup) || !errors.Is(err, store.ErrConflict) || dup.Existing.ID != first.ID || dup.Existing.Number != first.Number {
		t.Fatalf("duplicate: %v", err)
	}
	other := again
	other.Queue = "sales"
	if cb := request(t, cs, other); cb.ID == first.ID {
		t.Fatal("another queue is another callback")
	}
	// Still one open while it is dialled; a new one once it has ended.
	claimed := claim(t, cs, first, "boot-a", c0)
	if _, err := cs.RequestCallback(ctx(t), again); !errors.As(err, &dup) || dup.Existing.State != store.CallbackDialling {
		t.Fatalf("duplicate while dialling: %v", err)
	}
	_, err = cs.FinishCallback(ctx(t), store.CallbackFinish{ID: first.ID, Boot: "boot-a", Attempt: claimed.Attempts, At: c0.Add(time.Minute),
		Result: store.AttemptCompleted, Agent: "lan", TalkSeconds: 30, Next: store.CallbackCompleted, Outcome: "completed"})
	must(t, err)
	if cb := request(t, cs, again); cb.ID == first.ID || cb.State != store.CallbackWaiting {
		t.Fatalf("after completion: %+v", cb)
	}
}

// testCallbackDedupeRace: requests for the same number from many
// goroutines at once (a double-clicked web form, two nodes): one callback,
// and every other request is told about that one.
func testCallbackDedupeRace(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	const n = 16
	ids := make(chan int64, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := virtualHold("+84912777000", fmt.Sprintf("race-%d", i))
			cb, err := cs.RequestCallback(ctx(t), r)
			var dup *store.DuplicateCallbackError
			switch {
			case err == nil:
				ids <- cb.ID
			case errors.As(err, &dup):
				ids <- dup.Existing.ID
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Errorf("racing request: %v", err)
	}
	seen := map[int64]int{}
	for id := range ids {
		seen[id]++
	}
	if len(seen) != 1 {
		t.Fatalf("racing requests made callbacks %v", seen)
	}
	all, _, err := cs.ListCallbacks(ctx(t), store.CallbackFilter{Number: "+84912777000"}, store.Page{})
	must(t, err)
	cust, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{Phone: "+84912777000"}, store.Page{})
	must(t, err)
	if len(all) != 1 || len(cust) != 1 {
		t.Fatalf("%d callbacks, %d customers for one number", len(all), len(cust))
	}
}

func testCallbackClaim(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	cb := request(t, cs, virtualHold("+84912000101", "cl-1"))
	claimed := claim(t, cs, cb, "boot-a", c0.Add(time.Second))
	if claimed.State != store.CallbackDialling || claimed.Attempts != 1 || claimed.ClaimedBy != "boot-a" || claimed.Version != 2 ||
		len(claimed.Calls) != 1 || claimed.Calls[0].InteractionID == 0 || !claimed.JoinedAt.Equal(cb.JoinedAt) {
		t.Fatalf("claimed: %+v", claimed)
	}
	// The claim is committed with its attempt and the attempt's voice
	// interaction, on the request's ticket, before any dial.
	got, err := cs.GetCallback(ctx(t), cb.ID)
	must(t, err)
	if got.State != store.CallbackDialling || len(got.Calls) != 1 || got.Calls[0].Result != "" || got.Calls[0].EndedAt != nil ||
		!strings.HasPrefix(got.Calls[0].CallID, "out-") {
		t.Fatalf("after claim: %+v", got)
	}
	in, err := s.GetInteraction(ctx(t), got.Calls[0].InteractionID)
	must(t, err)
	if in.TicketID != cb.TicketID || in.Direction != store.DirectionOutbound || in.Voice == nil ||
		in.Voice.CallID != got.Calls[0].CallID || in.Voice.FromTag != "hl-boot-a" || in.Voice.CalledNumber != cb.Number ||
		in.Voice.CallbackAttempts != 1 || in.EndedAt != nil {
		t.Fatalf("attempt interaction = %+v voice %+v", in, in.Voice)
	}
	// No second claim, whoever asks.
	_, err = cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: cb.ID, Boot: "boot-b", At: c0.Add(2 * time.Second), CallID: "x", FromTag: "y"})
	wantConflictField(t, err, "state")

	// Not due yet, expired, a stale version, unknown: refused, nothing written.
	later := virtualHold("+84912000102", "cl-2")
	later.NotBefore = c0.Add(time.Hour)
	l := request(t, cs, later)
	_, err = cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: l.ID, Boot: "boot-a", At: c0, CallID: "x2", FromTag: "y"})
	wantConflictField(t, err, "state")
	_, err = cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: l.ID, Boot: "boot-a", At: l.ExpiresAt, CallID: "x3", FromTag: "y"})
	wantConflictField(t, err, "state")
	_, err = cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: l.ID, Version: l.Version + 1, Boot: "boot-a", At: c0.Add(2 * time.Hour), CallID: "x4", FromTag: "y"})
	wantIs(t, err, store.ErrVersion)
	_, err = cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: 987654, Boot: "boot-a", At: c0, CallID: "x5", FromTag: "y"})
	wantIs(t, err, store.ErrNotFound)
	if got, err := cs.GetCallback(ctx(t), l.ID); err != nil || got.Version != l.Version || len(got.Calls) != 0 {
		t.Fatalf("refused claims changed %+v (%v)", got, err)
	}
	if n := len(ticketStory(t, s, l.TicketID)); n != 1 {
		t.Fatalf("refused claims wrote interactions: %d on the ticket", n)
	}
	ok := claim(t, cs, l, "boot-a", c0.Add(time.Hour))
	if ok.Attempts != 1 {
		t.Fatalf("due claim: %+v", ok)
	}
}

func wantConflictField(t *testing.T, err error, field string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) || ce.Field != field {
		t.Fatalf("err = %v; want a ConflictError on %q", err, field)
	}
}

// testCallbackStory: a request, a failed call, a retry that completes.
// Every step is an interaction on the same ticket as the call it was asked
// from, and the call's own record lands there too.
func testCallbackStory(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	r := virtualHold("+84912000201", "story-call")
	r.Category = "" // the call itself may be logged in another category: the callback's ticket wins
	cb := request(t, cs, r)
	c1 := claim(t, cs, cb, "boot-a", c0)
	retryAt := c0.Add(5 * time.Minute)
	after, err := cs.FinishCallback(ctx(t), store.CallbackFinish{ID: cb.ID, Boot: "boot-a", Attempt: 1, At: c0.Add(30 * time.Second),
		Result: store.AttemptNoAnswer, SIPStatus: 480, Reason: "Temporarily Unavailable", Next: store.CallbackWaiting, NotBefore: retryAt})
	must(t, err)
	if after.State != store.CallbackWaiting || !after.NotBefore.Equal(retryAt) || after.Attempts != 1 || after.ClaimedBy != "" ||
		after.Outcome != string(store.AttemptNoAnswer) || after.Version != c1.Version+1 || !after.JoinedAt.Equal(cb.JoinedAt) {
		t.Fatalf("after no answer: %+v", after)
	}
	if _, err := cs.FinishCallback(ctx(t), store.CallbackFinish{ID: cb.ID, Boot: "boot-a", Attempt: 1, At: c0.Add(31 * time.Second),
		Result: store.AttemptBusy, Next: store.CallbackWaiting, NotBefore: retryAt}); err == nil {
		t.Fatal("an attempt was finished twice")
	}
	c2 := claim(t, cs, after, "boot-a", retryAt)
	answered := retryAt.Add(5 * time.Second)
	conn, err := cs.ConnectCallback(ctx(t), store.CallbackConnect{ID: cb.ID, Boot: "boot-a", Attempt: c2.Attempts, At: answered.Add(3 * time.Second), AnsweredAt: answered})
	must(t, err)
	if conn.State != store.CallbackConnected {
		t.Fatalf("connected: %+v", conn)
	}
	done, err := cs.FinishCallback(ctx(t), store.CallbackFinish{ID: cb.ID, Boot: "boot-a", Attempt: 2, At: retryAt.Add(3 * time.Minute),
		Result: store.AttemptCompleted, SIPStatus: 200, Agent: "lan", TalkSeconds: 150, Next: store.CallbackCompleted, Outcome: "completed"})
	must(t, err)
	if done.State != store.CallbackCompleted || done.Attempts != 2 || done.ClaimedBy != "" {
		t.Fatalf("completed: %+v", done)
	}
	got, err := cs.GetCallback(ctx(t), cb.ID)
	must(t, err)
	if len(got.Calls) != 2 || got.Calls[0].Result != store.AttemptNoAnswer || got.Calls[0].SIPStatus != 480 ||
		got.Calls[1].Result != store.AttemptCompleted || got.Calls[1].Agent != "lan" || got.Calls[1].TalkSeconds != 150 ||
		got.Calls[1].ConfirmedAt == nil || got.Calls[1].AnsweredAt == nil || !got.Calls[1].AnsweredAt.Equal(answered) ||
		got.Calls[1].EndedAt == nil || got.Calls[0].Trunk != "trunk1" {
		t.Fatalf("attempts: %+v", got.Calls)
	}
	// The call it was asked from ends and is logged (in another category):
	// it lands on the callback's ticket.
	call := rec("story-call", "+84912000201", "sales")
	call.Voice.FromTag = "ft-story-call"
	call.Voice.Outcome = store.OutcomeCallbackRequested
	call.StartedAt, call.EndedAt = c0.Add(-12*time.Minute), c0.Add(20*time.Second)
	res := logCall(t, s, call)
	if res.TicketID != cb.TicketID || res.CustomerID != cb.CustomerID {
		t.Fatalf("the call was logged on ticket %d, its callback is on %d", res.TicketID, cb.TicketID)
	}
	story := ticketStory(t, s, cb.TicketID)
	var events []string
	for i := len(story) - 1; i >= 0; i-- { // oldest first
		in := story[i]
		if in.Voice != nil && in.Voice.CallID == "story-call" {
			events = append(events, "call")
			continue
		}
		events = append(events, noteEvent(t, in))
		if noteEvent(t, in) == "attempt" && (in.EndedAt == nil || in.Voice == nil || in.Voice.Outcome == "") {
			t.Fatalf("attempt interaction not ended: %+v", in)
		}
	}
	want := "call requested attempt attempt completed" // by start time: the call began before it asked
	if got := strings.Join(events, " "); got != want {
		t.Fatalf("ticket story = %s; want %s", got, want)
	}
	// The attempt interactions are the outbound calls: logging one again
	// (the call log seeing the same Call-ID and From tag) is a no-op.
	again := rec(got.Calls[1].CallID, "", "")
	again.Direction, again.Voice.FromTag, again.Voice.CalledNumber = store.DirectionOutbound, got.Calls[1].FromTag, "+84912000201"
	if res := logCall(t, s, again); !res.Duplicate || res.InteractionID != got.Calls[1].InteractionID {
		t.Fatalf("the attempt's call logged again: %+v", res)
	}
}

// testCallbackLoggedFirst: a call already in the history when its
// callback is asked for (a record replayed early): the request joins its ticket.
func testCallbackLoggedFirst(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	call := rec("early", "+84912000301", "billing")
	call.Voice.FromTag = "ft-early"
	res := logCall(t, s, call)
	cb := request(t, cs, virtualHold("+84912000301", "early"))
	if cb.TicketID != res.TicketID {
		t.Fatalf("callback on ticket %d, its call on %d", cb.TicketID, res.TicketID)
	}
}

func testCallbackChange(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	cb := request(t, cs, virtualHold("+84912000401", "ch-1"))
	at := c0.Add(time.Minute)
	moved, err := cs.ChangeCallback(ctx(t), store.CallbackChange{ID: cb.ID, Version: cb.Version, At: at, To: store.CallbackWaiting,
		NotBefore: c0.Add(3 * time.Hour), By: "api token helpdesk"})
	must(t, err)
	if moved.Version != cb.Version+1 || !moved.NotBefore.Equal(c0.Add(3*time.Hour)) || !moved.JoinedAt.Equal(cb.JoinedAt) || moved.State != store.CallbackWaiting {
		t.Fatalf("rescheduled: %+v", moved)
	}
	_, err = cs.ChangeCallback(ctx(t), store.CallbackChange{ID: cb.ID, Version: cb.Version, At: at, To: store.CallbackCancelled})
	wantIs(t, err, store.ErrVersion)
	_, err = cs.ChangeCallback(ctx(t), store.CallbackChange{ID: cb.ID, Version: moved.Version, At: at, To: store.CallbackWaiting,
		NotBefore: cb.ExpiresAt.Add(time.Hour)})
	wantField(t, err, "not_before")
	if got, _ := cs.GetCallback(ctx(t), cb.ID); got.Version != moved.Version {
		t.Fatalf("a refused reschedule changed the row: %+v", got)
	}
	gone, err := cs.ChangeCallback(ctx(t), store.CallbackChange{ID: cb.ID, Version: moved.Version, At: at, To: store.CallbackCancelled,
		Outcome: "cancelled by the customer", By: "api token helpdesk"})
	must(t, err)
	if gone.State != store.CallbackCancelled || gone.Outcome != "cancelled by the customer" {
		t.Fatalf("cancelled: %+v", gone)
	}
	_, err = cs.ChangeCallback(ctx(t), store.CallbackChange{ID: cb.ID, At: at, To: store.CallbackCancelled})
	wantConflictField(t, err, "state")
	_, err = cs.ChangeCallback(ctx(t), store.CallbackChange{ID: 424242, At: at, To: store.CallbackCancelled})
	wantIs(t, err, store.ErrNotFound)
	_, err = cs.ChangeCallback(ctx(t), store.CallbackChange{ID: cb.ID, At: at, To: store.CallbackDialling})
	wantField(t, err, "state")
	events := []string{}
	for _, in := range ticketStory(t, s, cb.TicketID) {
		events = append([]string{noteEvent(t, in)}, events...)
	}
	if got := strings.Join(events, " "); got != "requested rescheduled cancelled" {
		t.Fatalf("ticket story = %s", got)
	}

	ex := request(t, cs, virtualHold("+84912000402", "ch-2"))
	expired, err := cs.ChangeCallback(ctx(t), store.CallbackChange{ID: ex.ID, At: ex.ExpiresAt, To: store.CallbackExpired,
		Outcome: "not reached within 24h"})
	must(t, err)
	if expired.State != store.CallbackExpired {
		t.Fatalf("expired: %+v", expired)
	}
	if _, err := cs.ClaimCallback(ctx(t), store.CallbackClaim{ID: ex.ID, Boot: "b", At: c0, CallID: "z", FromTag: "z"}); err == nil {
		t.Fatal("an expired callback was claimed")
	}
}

// testCallbackRecover: a process died with calls in flight. At the next
// start each is marked interrupted and goes back to waiting at its place,
// once; a second crash during the same callback ends it.
func testCallbackRecover(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	a := request(t, cs, virtualHold("+84912000501", "rc-1"))
	b := request(t, cs, virtualHold("+84912000502", "rc-2"))
	mine := request(t, cs, virtualHold("+84912000503", "rc-3"))
	a = claim(t, cs, a, "boot-old", c0)
	b = claim(t, cs, b, "boot-old", c0)
	_, err := cs.ConnectCallback(ctx(t), store.CallbackConnect{ID: b.ID, Boot: "boot-old", Attempt: 1, At: c0.Add(time.Second)})
	must(t, err)
	mine = claim(t, cs, mine, "boot-new", c0)
	restart := c0.Add(time.Minute)
	got, err := cs.RecoverCallbacks(ctx(t), store.CallbackRecovery{Boot: "boot-new", At: restart})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("recovered %d callbacks, want the two of the old boot: %+v", len(got), got)
	}
	for _, cb := range got {
		if cb.State != store.CallbackWaiting || cb.Interrupted != 1 || cb.MaxAttempts != 4 || cb.Attempts != 1 ||
			!cb.NotBefore.Equal(restart) || !cb.JoinedAt.Equal(a.JoinedAt) || cb.ClaimedBy != "" {
			t.Fatalf("recovered: %+v", cb)
		}
		full, err := cs.GetCallback(ctx(t), cb.ID)
		must(t, err)
		if len(full.Calls) != 1 || full.Calls[0].Result != store.AttemptInterrupted || full.Calls[0].EndedAt == nil {
			t.Fatalf("recovered attempt: %+v", full.Calls)
		}
	}
	if m, _ := cs.GetCallback(ctx(t), mine.ID); m.State != store.CallbackDialling || m.ClaimedBy != "boot-new" {
		t.Fatalf("this boot's claim was touched: %+v", m)
	}
	if again, err := cs.RecoverCallbacks(ctx(t), store.CallbackRecovery{Boot: "boot-new", At: restart}); err != nil || len(again) != 0 {
		t.Fatalf("recovery is not idempotent: %+v, %v", again, err)
	}
	// Retried once: claimed again, and another crash.
	ra, err := cs.GetCallback(ctx(t), a.ID)
	must(t, err)
	claim(t, cs, *ra, "boot-new", restart)
	got, err = cs.RecoverCallbacks(ctx(t), store.CallbackRecovery{Boot: "boot-third", At: restart.Add(time.Minute)})
	must(t, err)
	var failed *store.Callback
	for i := range got {
		if got[i].ID == a.ID {
			failed = &got[i]
		}
	}
	if failed == nil || failed.State != store.CallbackFailed || failed.Interrupted != 2 || failed.Outcome == "" {
		t.Fatalf("second crash: %+v", got)
	}
	// A claim whose commit was not known (recovered by id): given back,
	// not counted as a crash.
	got, err = cs.RecoverCallbacks(ctx(t), store.CallbackRecovery{At: restart.Add(2 * time.Minute), IDs: []int64{mine.ID},
		Reason: "claim commit unknown"})
	must(t, err)
	// mine was taken by boot-third's recovery above (another boot's claim): nothing left.
	if len(got) != 0 {
		t.Fatalf("by id: %+v", got)
	}
	c := request(t, cs, virtualHold("+84912000504", "rc-4"))
	c = claim(t, cs, c, "boot-x", restart)
	got, err = cs.RecoverCallbacks(ctx(t), store.CallbackRecovery{At: restart, IDs: []int64{c.ID}, Reason: "claim commit unknown"})
	must(t, err)
	if len(got) != 1 || got[0].State != store.CallbackWaiting || got[0].Interrupted != 0 || got[0].MaxAttempts != c.MaxAttempts+1 {
		t.Fatalf("by id: %+v", got)
	}
	events := []string{}
	for _, in := range ticketStory(t, s, a.TicketID) {
		events = append([]string{noteEvent(t, in)}, events...)
	}
	if got := strings.Join(events, " "); got != "requested attempt attempt failed" {
		t.Fatalf("ticket story of the twice-interrupted callback = %s", got)
	}
}

func testCallbackList(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	var ids []int64
	for i := range 7 {
		r := virtualHold(fmt.Sprintf("+8491200060%d", i), fmt.Sprintf("ls-%d", i))
		if i%2 == 1 {
			r.Queue = "sales"
		}
		r.JoinedAt = c0.Add(-time.Duration(10-i) * time.Minute)
		ids = append(ids, request(t, cs, r).ID)
	}
	first, err := cs.GetCallback(ctx(t), ids[0])
	must(t, err)
	claim(t, cs, *first, "boot", c0)
	_, err = cs.ChangeCallback(ctx(t), store.CallbackChange{ID: ids[2], At: c0, To: store.CallbackCancelled})
	must(t, err)

	var all []store.Callback
	cursor := ""
	for range 10 {
		page, next, err := cs.ListCallbacks(ctx(t), store.CallbackFilter{}, store.Page{Limit: 3, Cursor: cursor})
		must(t, err)
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 7 || all[0].ID != ids[6] || all[6].ID != ids[0] {
		t.Fatalf("paged list: %d items", len(all))
	}
	count := func(f store.CallbackFilter) int {
		t.Helper()
		l, _, err := cs.ListCallbacks(ctx(t), f, store.Page{})
		must(t, err)
		return len(l)
	}
	for _, tc := range []struct {
		f    store.CallbackFilter
		want int
	}{
		{store.CallbackFilter{Queue: "technical"}, 4},
		{store.CallbackFilter{Queue: "sales"}, 3},
		{store.CallbackFilter{State: store.CallbackWaiting}, 5},
		{store.CallbackFilter{State: store.CallbackOpen}, 6},
		{store.CallbackFilter{Queue: "technical", State: store.CallbackDialling}, 1},
		{store.CallbackFilter{State: store.CallbackCancelled}, 1},
		{store.CallbackFilter{Number: "0912000603"}, 1},
		{store.CallbackFilter{CustomerID: first.CustomerID}, 1},
		{store.CallbackFilter{TicketID: first.TicketID}, 1},
	} {
		if got := count(tc.f); got != tc.want {
			t.Errorf("filter %+v: %d callbacks, want %d", tc.f, got, tc.want)
		}
	}
	_, _, err = cs.ListCallbacks(ctx(t), store.CallbackFilter{}, store.Page{Cursor: "garbage"})
	wantField(t, err, "cursor")

	open, err := cs.OpenCallbacks(ctx(t))
	must(t, err)
	if len(open) != 6 {
		t.Fatalf("open = %d", len(open))
	}
	for i := 1; i < len(open); i++ {
		p, c := open[i-1], open[i]
		if p.Queue > c.Queue || p.Queue == c.Queue && p.JoinedAt.After(c.JoinedAt) {
			t.Fatalf("open callbacks out of order at %d: %+v then %+v", i, p, c)
		}
	}
	counts, err := cs.CountCallbacks(ctx(t), c0.Add(-time.Hour))
	must(t, err)
	if len(counts) != 1 || counts[0] != (store.CallbackCount{Queue: "technical", State: store.CallbackCancelled, N: 1}) {
		t.Fatalf("counts = %+v", counts)
	}
	if counts, _ := cs.CountCallbacks(ctx(t), c0.Add(time.Hour)); len(counts) != 0 {
		t.Fatalf("counts since later = %+v", counts)
	}
	// The oldest due waiting callback per queue: in technical ids[0] is
	// dialling and ids[2] cancelled, so ids[4]; in sales ids[1].
	oldest, err := cs.OldestCallbacks(ctx(t), c0)
	must(t, err)
	if len(oldest) != 2 || oldest[0].Queue != "sales" || oldest[0].ID != ids[1] || oldest[1].Queue != "technical" || oldest[1].ID != ids[4] {
		t.Fatalf("oldest = %+v", oldest)
	}
	later := virtualHold("+84912000699", "ls-later")
	later.JoinedAt, later.NotBefore = c0.Add(-time.Hour), c0.Add(time.Hour) // joined first, but not due yet
	request(t, cs, later)
	if again, _ := cs.OldestCallbacks(ctx(t), c0); len(again) != 2 || again[1].ID != ids[4] {
		t.Fatalf("a callback not due yet counted as the oldest: %+v", again)
	}
	if at, _ := cs.OldestCallbacks(ctx(t), c0.Add(2*time.Hour)); len(at) != 2 || at[1].Number != "+84912000699" {
		t.Fatalf("once due: %+v", at)
	}
}

// bounded is a request with the store's bounds (a cluster's node).
func bounded(number, queue, source string, at time.Time, b store.CallbackBounds) store.CallbackRequest {
	r := virtualHold(number, "b-"+number+"-"+queue+"-"+at.Format("150405.000"))
	r.Queue, r.SourceKey, r.At, r.JoinedAt, r.ExpiresAt, r.Bounds = queue, source, at, at, at.Add(24*time.Hour), &b
	return r
}

func wantBound(t *testing.T, err error, bound string, retry time.Duration) {
	t.Helper()
	var be *store.CallbackBoundError
	if !errors.As(err, &be) || !errors.Is(err, store.ErrConflict) || be.Bound != bound || be.RetryAfter != retry {
		t.Fatalf("request past the %s bound: %v (%+v), want the %s bound, retry in %s", bound, err, be, bound, retry)
	}
}

// testCallbackBounds: the bounds count the callbacks created in the
// window, per number (across queues), per source and in all; a refused
// request writes nothing, and the window's oldest leaving frees one.
func testCallbackBounds(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	b := store.CallbackBounds{Window: time.Hour, PerNumber: 2, PerSource: 3, Total: 4}
	request(t, cs, bounded("0912100001", "technical", "api:a", c0, b))
	request(t, cs, bounded("0912100001", "sales", "", c0.Add(time.Minute), b))
	_, err := cs.RequestCallback(ctx(t), bounded("0912100001", "operator", "", c0.Add(2*time.Minute), b))
	wantBound(t, err, "per_number", 58*time.Minute) // the first leaves the window at c0+1h
	request(t, cs, bounded("0912100002", "technical", "api:a", c0.Add(3*time.Minute), b))
	request(t, cs, bounded("0912100003", "technical", "api:a", c0.Add(4*time.Minute), b))
	_, err = cs.RequestCallback(ctx(t), bounded("0912100004", "technical", "api:a", c0.Add(5*time.Minute), b))
	wantBound(t, err, "per_source", 55*time.Minute)
	_, err = cs.RequestCallback(ctx(t), bounded("0912100004", "technical", "api:b", c0.Add(5*time.Minute), b))
	wantBound(t, err, "total", 55*time.Minute)
	// Nothing was written for the refusals: four callbacks.
	all, _, err := cs.ListCallbacks(ctx(t), store.CallbackFilter{}, store.Page{Limit: 100})
	must(t, err)
	if len(all) != 4 {
		t.Fatalf("%d callbacks after four requests and three refusals", len(all))
	}
	// An hour after the first, it no longer counts: one more in all.
	request(t, cs, bounded("0912100005", "technical", "api:b", c0.Add(time.Hour+time.Second), b))
	_, err = cs.RequestCallback(ctx(t), bounded("0912100006", "technical", "api:b", c0.Add(time.Hour+2*time.Second), b))
	wantBound(t, err, "total", time.Minute-2*time.Second) // the second (c0+1m) leaves at c0+1h1m
	// Without bounds nothing is counted.
	r := bounded("0912100006", "technical", "api:b", c0.Add(time.Hour+3*time.Second), b)
	r.Bounds = nil
	request(t, cs, r)
}

// testCallbackBoundsRace: requests for different numbers from many
// goroutines at once (the nodes of a cluster) make exactly Total
// callbacks; the others are refused by the total bound.
func testCallbackBoundsRace(t *testing.T, s store.Store) {
	cs := callbacks(t, s)
	const n, total = 12, 5
	b := store.CallbackBounds{Window: time.Hour, Total: total}
	var made sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for i := range n {
		made.Add(1)
		go func() {
			defer made.Done()
			_, err := cs.RequestCallback(ctx(t), bounded(fmt.Sprintf("09122000%02d", i), "technical", "", c0, b))
			var be *store.CallbackBoundError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				counts["made"]++
			case errors.As(err, &be) && be.Bound == "total":
				counts["refused"]++
			default:
				t.Errorf("racing request: %v", err)
			}
		}()
	}
	made.Wait()
	if counts["made"] != total || counts["refused"] != n-total {
		t.Fatalf("racing requests: %v, want %d made, %d refused", counts, total, n-total)
	}
}
