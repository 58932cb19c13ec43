package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

// OptionsFactory opens a fresh, empty store with o (DefaultCountry "VN"
// unless o sets it); the suite closes it.
type OptionsFactory func(t *testing.T, o store.Options) store.Store

// RunOutbox runs the conformance tests of store.Options.Outbox: the
// webhook deliveries of ticket, interaction and call writes are stored in
// the write's transaction, or not at all.
func RunOutbox(t *testing.T, open OptionsFactory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, o *recOutbox)
	}{
		{"Writes", testOutboxWrites},
		{"RolledBack", testOutboxRolledBack},
		{"Calls", testOutboxCalls},
		{"ConcurrentUpdatesInOrder", testOutboxConcurrentUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &recOutbox{}
			s := open(t, store.Options{DefaultCountry: "VN", Outbox: o})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s, o)
		})
	}
}

// recOutbox is a small Outbox: a subscription "file" of its own that
// wants everything, plus the API's by their Events; one event per change
// (a call: call.ended, then interaction.created), body {"kind","id",
// "subject"}. It counts Committed.
type recOutbox struct {
	mu        sync.Mutex
	committed int
	calls     int // Committed calls
	fail      error
}

func (o *recOutbox) Emit(c store.Change, subs []store.WebhookSubscription) ([]store.WebhookDelivery, error) {
	o.mu.Lock()
	fail := o.fail
	o.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	type ev struct {
		typ, id, subject string
	}
	var evs []ev
	switch c.Kind {
	case store.ChangeTicketCreated, store.ChangeTicketUpdated:
		evs = []ev{{string(c.Kind), fmt.Sprintf("%s_%d_%d", c.Kind, c.Ticket.ID, c.Ticket.Version), c.Ticket.Subject}}
	case store.ChangeInteractionCreated:
		evs = []ev{{string(c.Kind), fmt.Sprintf("interaction_%d", c.Interaction.ID), c.Interaction.Summary}}
	case store.ChangeCallLogged:
		evs = []ev{{"call.ended", fmt.Sprintf("call_%d", c.Result.InteractionID), c.Call.Voice.CallID},
			{"interaction.created", fmt.Sprintf("interaction_%d", c.Result.InteractionID), c.Call.Voice.CallID}}
	default:
		return nil, fmt.Errorf("unknown change %q", c.Kind)
	}
	all := append([]store.WebhookSubscription{{ID: "file"}}, subs...)
	var ds []store.WebhookDelivery
	for _, e := range evs {
		body, _ := json.Marshal(map[string]string{"type": e.typ, "id": e.id, "subject": e.subject})
		for _, w := range all {
			if len(w.Events) == 0 || slices.Contains(w.Events, e.typ) {
				ds = append(ds, store.WebhookDelivery{Subscription: w.ID, EventID: e.id, EventType: e.typ, Body: body})
			}
		}
	}
	return ds, nil
}

func (o *recOutbox) Committed(n int) {
	o.mu.Lock()
	o.committed += n
	o.calls++
	o.mu.Unlock()
}

func (o *recOutbox) counts() (rows, calls int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.committed, o.calls
}

// outboxRows is the whole outbox, oldest first, as "subscription type
// subject".
func outboxRows(t *testing.T, s store.Store) []string {
	t.Helper()
	ws := webhooksOf(t, s)
	var all []store.WebhookDelivery
	p := store.Page{Limit: 100}
	for {
		ds, next, err := ws.ListWebhookDeliveries(ctx(t), store.WebhookFilter{}, p)
		must(t, err)
		all = append(all, ds...)
		if next == "" {
			break
		}
		p.Cursor = next
	}
	slices.Reverse(all)
	out := make([]string, len(all))
	for i, d := range all {
		var b map[string]string
		must(t, json.Unmarshal(d.Body, &b))
		if b["id"] != d.EventID || b["type"] != d.EventType || d.State != store.WebhookPending {
			t.Fatalf("delivery %+v: body %s", d, d.Body)
		}
		out = append(out[:i], d.Subscription+" "+d.EventType+" "+b["subject"])
	}
	return out
}

func wantRows(t *testing.T, s store.Store, o *recOutbox, want []string) {
	t.Helper()
	got := outboxRows(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("outbox:\n got %q\nwant %q", got, want)
	}
	if n, _ := o.counts(); n != len(want) {
		t.Fatalf("Committed reported %d rows; the outbox has %d", n, len(want))
	}
}

// testOutboxWrites: each write adds its events for the subscriptions that
// want them, the API's read in the write's transaction (one created just
// before counts, one deleted does not).
func testOutboxWrites(t *testing.T, s store.Store, o *recOutbox) {
	ws := webhooksOf(t, s)
	must(t, ws.CreateWebhook(ctx(t), &store.WebhookSubscription{ID: "wh_t", URL: "https://desk.example/t", Secret: "s3cret-s3cret-s3cret-s3cret-s3cret",
		Events: []string{"ticket.created", "ticket.updated"}}))
	c := newCustomer(t, s, "+84913300001")
	wantRows(t, s, o, nil) // a customer makes no event
	tk := &store.Ticket{CustomerID: c.ID, Subject: "first"}
	must(t, s.CreateTicket(ctx(t), tk))
	want := []string{"file ticket.created first", "wh_t ticket.created first"}
	wantRows(t, s, o, want)

	must(t, ws.CreateWebhook(ctx(t), &store.WebhookSubscription{ID: "wh_all", URL: "https://desk.example/all", Secret: "s3cret-s3cret-s3cret-s3cret-s3cret"}))
	tk.Subject = "second"
	must(t, s.UpdateTicket(ctx(t), tk))
	want = append(want, "file ticket.updated second", "wh_all ticket.updated second", "wh_t ticket.updated second")
	wantRows(t, s, o, want)

	must(t, ws.DeleteWebhook(ctx(t), "wh_t"))
	want = slices.DeleteFunc(want, func(r string) bool { return r[:4] == "wh_t" }) // its pending rows go with it
	in := &store.Interaction{CustomerID: c.ID, TicketID: tk.ID, Channel: store.ChannelEmail, Summary: "mail", StartedAt: c0}
	must(t, s.CreateInteraction(ctx(t), in))
	want = append(want, "file interaction.created mail", "wh_all interaction.created mail")
	got := outboxRows(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("outbox:\n got %q\nwant %q", got, want)
	}
}

// testOutboxRolledBack: a write that fails stores no event, one whose
// Outbox fails is not stored either (they commit together or not at all).
func testOutboxRolledBack(t *testing.T, s store.Store, o *recOutbox) {
	c := newCustomer(t, s, "+84913300002")
	wantField(t, s.CreateTicket(ctx(t), &store.Ticket{CustomerID: c.ID + 1000, Subject: "nobody's"}), "customer_id")
	tk := &store.Ticket{CustomerID: c.ID, Subject: "kept"}
	must(t, s.CreateTicket(ctx(t), tk))
	stale := *tk
	tk.Subject = "changed"
	must(t, s.UpdateTicket(ctx(t), tk))
	stale.Subject, stale.IfVersion = "stale", stale.Version
	wantIs(t, s.UpdateTicket(ctx(t), &stale), store.ErrVersion)
	want := []string{"file ticket.created kept", "file ticket.updated changed"}
	wantRows(t, s, o, want)
	_, calls := o.counts()
	if calls != 2 {
		t.Fatalf("Committed called %d times; want 2 (the two writes that committed)", calls)
	}

	boom := errors.New("outbox down")
	o.mu.Lock()
	o.fail = boom
	o.mu.Unlock()
	if err := s.CreateTicket(ctx(t), &store.Ticket{CustomerID: c.ID, Subject: "lost"}); !errors.Is(err, boom) {
		t.Fatalf("create with a failing outbox: %v, want it to fail with the outbox's error", err)
	}
	if _, err := s.LogCall(ctx(t), rec("ob-fail", "0913300002", "")); !errors.Is(err, boom) {
		t.Fatalf("log call with a failing outbox: %v", err)
	}
	ts, _, err := s.ListTickets(ctx(t), store.TicketFilter{CustomerID: c.ID}, store.Page{})
	must(t, err)
	if len(ts) != 1 {
		t.Fatalf("tickets after the failed writes: %d, want 1 (rolled back with their events)", len(ts))
	}
	wantRows(t, s, o, want)
}

// testOutboxCalls: a logged call's events in order, a batch's in record
// order, and a duplicate (a replayed spool) makes none.
func testOutboxCalls(t *testing.T, s store.Store, o *recOutbox) {
	logCall(t, s, rec("ob-1", "0913300003", "billing"))
	want := []string{"file call.ended ob-1", "file interaction.created ob-1"}
	wantRows(t, s, o, want)
	if res := logCall(t, s, rec("ob-1", "0913300003", "billing")); !res.Duplicate {
		t.Fatalf("second log: %+v, want Duplicate", res)
	}
	wantRows(t, s, o, want)
	res, err := s.LogCalls(ctx(t), []store.CallRecord{rec("ob-2", "0913300004", ""), rec("ob-1", "0913300003", "billing"), rec("ob-3", "0913300003", "")})
	must(t, err)
	if !res[1].Duplicate || res[0].Duplicate || res[2].Duplicate {
		t.Fatalf("batch: %+v", res)
	}
	want = append(want, "file call.ended ob-2", "file interaction.created ob-2", "file call.ended ob-3", "file interaction.created ob-3")
	wantRows(t, s, o, want)
}

// testOutboxConcurrentUpdates: concurrent updates of one ticket add their
// ticket.updated rows in the order they committed: the newest row is the
// ticket as it ended up.
func testOutboxConcurrentUpdates(t *testing.T, s store.Store, o *recOutbox) {
	c := newCustomer(t, s, "+84913300005")
	tk := &store.Ticket{CustomerID: c.ID, Subject: "start"}
	must(t, s.CreateTicket(ctx(t), tk))
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				mine := *tk
				mine.Subject = fmt.Sprintf("w%d-%d", w, i)
				errs <- s.UpdateTicket(ctx(t), &mine)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := s.GetTicket(ctx(t), tk.ID)
	must(t, err)
	rows := outboxRows(t, s)
	if len(rows) != 1+writers*each {
		t.Fatalf("outbox rows: %d, want %d", len(rows), 1+writers*each)
	}
	if last := rows[len(rows)-1]; last != "file ticket.updated "+got.Subject {
		t.Fatalf("newest outbox row %q; the ticket ended as %q", last, got.Subject)
	}
}
