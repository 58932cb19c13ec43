package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// TestSyncOutOfOrderCommit: transaction A writes first (the smaller
// transaction id) and commits last; B commits in between. A poller that
// reads after B's commit must not move its cursor past A: once A commits,
// the next poll has A, then nothing is missing. Without the horizon the
// poller would see B, keep B's cursor and never see A.
func TestSyncOutOfOrderCommit(t *testing.T) {
	url := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), url, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &store.Customer{Name: "Order"}
	if err := s.CreateCustomer(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	since := c.CreatedAt

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	txA, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = txA.Rollback(t.Context()) }()
	var idA int64
	if err := txA.QueryRow(t.Context(), `INSERT INTO interactions (customer_id, channel, direction, started_at, created_at)
		VALUES ($1, 'email', 'inbound', now(), now()) RETURNING id`, c.ID).Scan(&idA); err != nil {
		t.Fatal(err)
	}
	b := &store.Interaction{CustomerID: c.ID, Channel: store.ChannelChat, Direction: store.DirectionInbound, StartedAt: time.Now()}
	if err := s.CreateInteraction(t.Context(), b); err != nil { // B: a later id, committed now
		t.Fatal(err)
	}
	page, cur, err := s.ListInteractions(t.Context(), store.InteractionFilter{Since: store.Since{Updated: since}}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Fatalf("while A is open the sync list has %+v: B is past the horizon, it must wait for A", page)
	}
	if err := txA.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		page, cur, err = s.ListInteractions(t.Context(), store.InteractionFilter{}, store.Page{Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range page {
			if seen[i.ID] {
				t.Fatalf("interaction %d twice", i.ID)
			}
			seen[i.ID] = true
		}
		if len(page) == 0 {
			<-time.After(5 * time.Millisecond) // other sessions of the cluster may hold the horizon a moment
		}
	}
	if !seen[idA] || !seen[b.ID] {
		t.Fatalf("after A committed the poller has %v, want A %d and B %d", seen, idA, b.ID)
	}
}
