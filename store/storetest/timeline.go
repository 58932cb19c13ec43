package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func testTimeline(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84912000001")
	other := newCustomer(t, s, "+84912000002")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	chans := []string{store.ChannelEmail, store.ChannelChat, store.ChannelVoice, store.ChannelSMS, store.ChannelSocial}
	var want []int64
	for i := range 12 {
		// Two interactions share each timestamp: the id breaks the tie.
		i := &store.Interaction{CustomerID: c.ID, Channel: chans[i%len(chans)], StartedAt: base.Add(time.Duration(i/2) * time.Hour)}
		if i.Channel == store.ChannelVoice {
			i.Voice = &store.VoiceDetails{CallID: "call-" + time.Duration(i.StartedAt.Unix()).String() + "-" + string(rune('a'+len(want)))}
		}
		must(t, s.CreateInteraction(ctx(t), i))
		want = append([]int64{i.ID}, want...)
	}
	must(t, s.CreateInteraction(ctx(t), &store.Interaction{CustomerID: other.ID, Channel: store.ChannelEmail, StartedAt: base.Add(time.Hour)}))
	var got []int64
	var last time.Time
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("timeline pagination does not end")
		}
		page, next, err := s.Timeline(ctx(t), c.ID, store.Page{Limit: 5, Cursor: cur})
		must(t, err)
		for _, in := range page {
			if in.CustomerID != c.ID {
				t.Fatalf("interaction %d of customer %d in timeline of %d", in.ID, in.CustomerID, c.ID)
			}
			if !last.IsZero() && in.StartedAt.After(last) {
				t.Fatalf("timeline not newest first: %v after %v", in.StartedAt, last)
			}
			last = in.StartedAt
			got = append(got, in.ID)
		}
		if next == "" {
			break
		}
		cur = next
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timeline ids %v; want %v", got, want)
	}
	// A cursor survives writes: newer rows do not shift the next page.
	first, next, err := s.Timeline(ctx(t), c.ID, store.Page{Limit: 4})
	must(t, err)
	must(t, s.CreateInteraction(ctx(t), &store.Interaction{CustomerID: c.ID, Channel: store.ChannelChat, StartedAt: base.Add(100 * time.Hour)}))
	second, _, err := s.Timeline(ctx(t), c.ID, store.Page{Limit: 4, Cursor: next})
	must(t, err)
	if len(first) != 4 || len(second) != 4 || second[0].ID != want[4] {
		t.Fatalf("page after insert starts at %d; want %d", second[0].ID, want[4])
	}
	_, _, err = s.Timeline(ctx(t), other.ID+c.ID+100, store.Page{})
	wantIs(t, err, store.ErrNotFound)
}

func testCursorErrors(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "")
	for range 3 {
		must(t, s.CreateTicket(ctx(t), &store.Ticket{CustomerID: c.ID, Subject: "s"}))
	}
	_, tcur, err := s.ListTickets(ctx(t), store.TicketFilter{}, store.Page{Limit: 1})
	must(t, err)
	if tcur == "" {
		t.Fatal("no cursor with more rows left")
	}
	for _, bad := range []string{"!!!", "bm9wZQ", "dDox", "x" + tcur} {
		_, _, err := s.ListTickets(ctx(t), store.TicketFilter{}, store.Page{Cursor: bad})
		wantField(t, err, "cursor")
	}
	// A cursor from one list is refused by another.
	_, _, err = s.Timeline(ctx(t), c.ID, store.Page{Cursor: tcur})
	wantField(t, err, "cursor")
	_, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{Cursor: tcur})
	wantField(t, err, "cursor")
}
