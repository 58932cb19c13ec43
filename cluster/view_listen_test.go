package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// A View whose listening session is ended (pg_terminate_backend; then
// every session of its pool too) listens again: views the leader writes
// after that reach it by notification. Its Poll is an hour, so a view
// that arrives at all came by a notification, or by the one read a
// reopened listener does (a notification may have been missed while it
// was away): of two changes made one after the other once it listens
// again, that read can bring at most one.
func TestViewListenerReconnects(t *testing.T) {
	url := pgtest.Schema(t)
	app := fmt.Sprintf("viewtest%d", time.Now().UnixNano())
	acd := queue.Config{Agents: []config.Agent{{ID: "ann", Queues: map[string]int{"sales": 0}}},
		Queues: map[string]config.Queue{"sales": {RingTimeout: time.Minute, JoinEmpty: true}}} // nobody logged in: callers wait
	n, err := cluster.New(cluster.Config{ID: "n1", DB: openDB(t, url), ACD: acd})
	if err != nil {
		t.Fatal(err)
	}
	v := cluster.NewView(cluster.ViewConfig{DB: openDB(t, url+"&application_name="+app), Poll: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	go func() { done <- n.Run(ctx) }()
	go func() { done <- v.Run(ctx) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		}
	}()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// listening is the pids of the view's LISTENing sessions.
	listening := func() []int32 {
		t.Helper()
		rows, err := c.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%' ORDER BY pid`, app)
		if err != nil {
			t.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	// listensAgain waits for a listening session that is none of old.
	listensAgain := func(old []int32) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			if slices.ContainsFunc(listening(), func(p int32) bool { return !slices.Contains(old, p) }) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the view's listener not open again within 20 s (sessions before: %v)", old)
			}
			time.Sleep(20 * time.Millisecond) // polling the database with a bound
		}
	}
	joined := 0
	// join has a caller join and waits until the view shows them.
	join := func(what string) {
		t.Helper()
		joined++
		call := fmt.Sprintf("c%d", joined)
		if _, err := n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: call, Queue: "sales"}}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			if q, err := v.Queue("sales"); err == nil && q.Waiting == joined {
				return
			}
			if time.Now().After(deadline) {
				q, err := v.Queue("sales")
				t.Fatalf("%s: %s not on the view within 10 s (view %d: %d waiting, %v)", what, call, v.Version(), q.Waiting, err)
			}
			time.Sleep(5 * time.Millisecond) // polling in-memory state with a bound
		}
	}
	listensAgain(nil)
	join("listening")
	for round := range 2 {
		old := listening()
		var k int
		// The listener only, then every session of the view (its pool's too).
		if err := c.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1 AND ($2 OR pid = ANY($3))) x`, app, round == 1, old).Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k < 1 {
			t.Fatalf("round %d: no session of the view ended (listening: %v)", round, old)
		}
		listensAgain(old)
		join(fmt.Sprintf("round %d, first after the reconnect", round))
		join(fmt.Sprintf("round %d, second after the reconnect", round))
	}
}
