package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// SyncWrites is how many interactions testSyncConcurrent writes; the
// backends' own tests may run it at full size (10,000) outside -short.
var SyncWrites = 500

// testSyncConcurrent: writers add interactions at once, half of them one
// by one (CreateInteraction), half as logged calls in batches (LogCalls,
// which stamps its rows itself on SQLite) (on PostgreSQL
// their transactions commit out of the order their ids were taken) while
// a poller follows ListInteractions with updated_since and the cursor; it
// ends with exactly the set written, each once, and none written before
// updated_since.
func testSyncConcurrent(t *testing.T, s store.Store) {
	SyncConcurrent(t, s, SyncWrites, 4)
}

// SyncConcurrent is testSyncConcurrent with n interactions from writers
// writers.
func SyncConcurrent(t *testing.T, s store.Store, n, writers int) {
	var customers []*store.Customer
	for w := range writers {
		customers = append(customers, newCustomer(t, s, fmt.Sprintf("+8491300%04d", w)))
	}
	old := &store.Interaction{CustomerID: customers[0].ID, Channel: store.ChannelEmail, Direction: store.DirectionInbound,
		StartedAt: time.Now().UTC(), Summary: "before the sync"}
	must(t, s.CreateInteraction(ctx(t), old))
	since := old.CreatedAt.Add(time.Microsecond) // stored to the microsecond

	written := make(chan int64, n)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w%2 == 1 { // logged calls, 10 to a batch
				var batch []store.CallRecord
				flush := func() bool {
					res, err := s.LogCalls(ctx(t), batch)
					if err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return false
					}
					for _, r := range res {
						written <- r.InteractionID
					}
					batch = batch[:0]
					return true
				}
				for k := w; k < n; k += writers {
					// Two callers per writer, so batches also touch tickets.
					batch = append(batch, rec(fmt.Sprintf("sync-%d", k), fmt.Sprintf("+849140%02d%03d", w, k%2), "sync"))
					if len(batch) == 10 && !flush() {
						return
					}
				}
				if len(batch) > 0 {
					flush()
				}
				return
			}
			for k := w; k < n; k += writers {
				i := &store.Interaction{CustomerID: customers[w].ID, Channel: store.ChannelChat, Direction: store.DirectionInbound,
					StartedAt: time.Now().UTC(), Summary: fmt.Sprintf("message %d", k)}
				if err := s.CreateInteraction(ctx(t), i); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				written <- i.ID
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[int64]bool{}
	cursor := ""
	finished := false
	// A liveness bound, not a speed one: under -race on two loaded cores
	// 10,000 SQLite commits take minutes; a poller that gets nothing new
	// for a minute while writes are pending is stuck.
	const stall = time.Minute
	deadline := time.Now().Add(stall)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		f := store.InteractionFilter{}
		if cursor == "" {
			f.Since.Updated = since // the first poll; the cursor keeps it
		}
		page, next, err := s.ListInteractions(ctx(t), f, store.Page{Limit: 200, Cursor: cursor})
		must(t, err)
		if next == "" {
			t.Fatal("a sync page without a cursor")
		}
		cursor = next
		for _, i := range page {
			if seen[i.ID] {
				t.Fatalf("interaction %d came twice", i.ID)
			}
			if i.ID == old.ID {
				t.Fatalf("interaction %d was written before updated_since", i.ID)
			}
			seen[i.ID] = true
		}
		if len(page) > 0 {
			deadline = time.Now().Add(stall)
		}
		if len(page) == 200 {
			continue
		}
		if finished && len(seen) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poller got nothing new for %v: it has %d of %d", stall, len(seen), n)
		}
		select {
		case <-done:
			finished = true
		case <-tick.C:
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(written)
	want := 0
	for id := range written {
		want++
		if !seen[id] {
			t.Errorf("interaction %d was written but never synced", id)
		}
	}
	if want != n || len(seen) != n {
		t.Fatalf("wrote %d (want %d), synced %d", want, n, len(seen))
	}
}

// testSyncOrder: a sync list is in commit order with a cursor on every
// page; a changed row comes again after the cursor; created_since leaves
// out rows created before it; a cursor of another list is refused.
func testSyncOrder(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84913100001")
	since := c.CreatedAt
	var tks []*store.Ticket
	for k := range 3 {
		tk := &store.Ticket{CustomerID: c.ID, Subject: fmt.Sprintf("t%d", k)}
		must(t, s.CreateTicket(ctx(t), tk))
		tks = append(tks, tk)
	}
	all, cur := pollTickets(t, s, store.TicketFilter{Since: store.Since{Updated: since}}, store.Page{Limit: 2}, 2)
	if len(all) != 2 || all[0].ID != tks[0].ID || all[1].ID != tks[1].ID || cur == "" {
		t.Fatalf("first page %+v cursor %q", all, cur)
	}
	rest, cur := pollTickets(t, s, store.TicketFilter{}, store.Page{Limit: 2, Cursor: cur}, 1)
	if len(rest) != 1 || rest[0].ID != tks[2].ID || cur == "" {
		t.Fatalf("second page %+v cursor %q", rest, cur)
	}
	empty, cur2, err := s.ListTickets(ctx(t), store.TicketFilter{}, store.Page{Limit: 2, Cursor: cur})
	must(t, err)
	if len(empty) != 0 || cur2 != cur {
		t.Fatalf("caught up: %+v, cursor %q then %q", empty, cur, cur2)
	}
	// The first ticket changes: it comes again, alone, with its new version.
	tks[0].Status = store.StatusSolved
	before := tks[0].Version
	must(t, s.UpdateTicket(ctx(t), tks[0]))
	if tks[0].Version == before || tks[0].Version == 0 {
		t.Fatalf("version %d after the update, %d before", tks[0].Version, before)
	}
	changed, _ := pollTickets(t, s, store.TicketFilter{}, store.Page{Limit: 2, Cursor: cur}, 1)
	if len(changed) != 1 || changed[0].ID != tks[0].ID || changed[0].Status != store.StatusSolved || changed[0].Version != tks[0].Version {
		t.Fatalf("after the change: %+v", changed)
	}
	// created_since after every ticket: nothing, though one changed since.
	none, _, err := s.ListTickets(ctx(t), store.TicketFilter{Since: store.Since{Created: tks[2].CreatedAt.Add(time.Microsecond)}}, store.Page{})
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("created_since after all: %+v", none)
	}
	// Customers and interactions sync the same way.
	cs, ccur, err := s.ListCustomers(ctx(t), store.CustomerFilter{Since: store.Since{Updated: since}}, store.Page{})
	must(t, err)
	for deadline := time.Now().Add(30 * time.Second); len(cs) == 0 && time.Now().Before(deadline); {
		<-time.After(5 * time.Millisecond)
		cs, ccur, err = s.ListCustomers(ctx(t), store.CustomerFilter{Since: store.Since{Updated: since}}, store.Page{})
		must(t, err)
	}
	if len(cs) != 1 || cs[0].ID != c.ID || ccur == "" {
		t.Fatalf("customers since: %+v %q", cs, ccur)
	}
	// A cursor of the ordinary list is not a sync cursor, nor the other way.
	_, plain, err := s.ListTickets(ctx(t), store.TicketFilter{}, store.Page{Limit: 1})
	must(t, err)
	_, _, err = s.ListTickets(ctx(t), store.TicketFilter{Since: store.Since{Updated: since}}, store.Page{Cursor: plain})
	wantField(t, err, "cursor")
	_, _, err = s.ListTickets(ctx(t), store.TicketFilter{Since: store.Since{Updated: since.Add(time.Hour)}}, store.Page{Cursor: cur})
	wantField(t, err, "updated_since")
	_, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{Cursor: cur})
	wantField(t, err, "cursor")
}

// testIfVersion: an update with IfVersion applies only at that version;
// of many concurrent updates from one version exactly one wins, the others
// get ErrVersion.
func testIfVersion(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84913200001")
	v1 := c.Version
	if v1 == 0 {
		t.Fatal("a new customer has no version")
	}
	got, err := s.GetCustomer(ctx(t), c.ID)
	must(t, err)
	if got.Version != v1 {
		t.Fatalf("read version %d, written %d", got.Version, v1)
	}
	got.Name, got.IfVersion = "Renamed", v1
	must(t, s.UpdateCustomer(ctx(t), got))
	if got.Version == v1 {
		t.Fatal("the version did not change")
	}
	stale := *got
	stale.IfVersion = v1
	wantIs(t, s.UpdateCustomer(ctx(t), &stale), store.ErrVersion)
	wantIs(t, s.UpdateCustomer(ctx(t), &store.Customer{ID: c.ID + 1000, Name: "x", IfVersion: v1}), store.ErrNotFound)

	tk := &store.Ticket{CustomerID: c.ID, Subject: "race"}
	must(t, s.CreateTicket(ctx(t), tk))
	const racers = 12
	var wg sync.WaitGroup
	results := make(chan error, racers)
	for k := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := *tk
			mine.Assignee, mine.IfVersion = fmt.Sprintf("agent-%d", k), tk.Version
			results <- s.UpdateTicket(ctx(t), &mine)
		}()
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrVersion):
		default:
			t.Errorf("racer: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent If-Match updates won, want 1", wins, racers)
	}
}

// pollTickets lists until the page has at least want rows, for up to 30 s:
// on PostgreSQL a committed row joins sync lists once every transaction
// that started before it has finished (in any database of the cluster).
func pollTickets(t *testing.T, s store.Store, f store.TicketFilter, p store.Page, want int) ([]store.Ticket, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, next, err := s.ListTickets(ctx(t), f, p)
		must(t, err)
		if len(out) >= want || time.Now().After(deadline) {
			return out, next
		}
		<-time.After(5 * time.Millisecond)
	}
}
