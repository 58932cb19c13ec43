package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// toolPorts is this package's block of ports for the private PostgreSQL
// (internal/testports lists every package's range).
var toolPorts = testports.New(17100, 17199)

// outageNode is a node under Run for the outage tests.
type outageNode struct {
	n    *cluster.Node
	ring chanRinger
	done chan error
}

func startOutageNode(t *testing.T, url, id string, cfg cluster.Config) *outageNode {
	t.Helper()
	db, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	r := &outageNode{ring: make(chanRinger, 16), done: make(chan error, 1)}
	cfg.ID, cfg.DB, cfg.Ringer = id, db, r.ring
	if cfg.ACD.Queues == nil {
		cfg.ACD = queue.Config{Agents: []config.Agent{{ID: "an", Queues: map[string]int{"sales": 0}}},
			Queues: map[string]config.Queue{"sales": {RingTimeout: time.Minute}}}
	}
	if r.n, err = cluster.New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { r.done <- r.n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		db.Close()
	})
	return r
}

// route joins call on node r, waits for its offer to agent an, answers it,
// hangs up: the cluster decides.
func route(t *testing.T, r *outageNode, call string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	p, err := r.n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: call, Queue: "sales"}})
	if err != nil {
		t.Fatalf("join %s: %v", call, err)
	}
	var o queue.Offer
	select {
	case o = <-r.ring:
	case <-ctx.Done():
		t.Fatalf("no offer for %s within %s", call, within)
	}
	if err := r.n.Answered(ctx, o.ID); err != nil {
		t.Fatalf("answer %s: %v", call, err)
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatalf("no outcome for %s within %s", call, within)
	}
	if out := p.Outcome(); out.Reason != queue.ReasonAnswered {
		t.Fatalf("%s: outcome %+v", call, out)
	}
	if err := r.n.Hangup(ctx, call); err != nil {
		t.Fatalf("hang up %s: %v", call, err)
	}
}

// listeners waits until count sessions of application app LISTEN (each
// node's Run has one, opened again after it failed).
func listeners(t *testing.T, url, app string, count int) {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for deadline := time.Now().Add(20 * time.Second); ; {
		var n int
		if err := c.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
			app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= count {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of %s listening after 20 s; want %d", n, app, count)
		}
		time.Sleep(20 * time.Millisecond) // polling the database with a bound
	}
}

// serving fails unless every node's Run is still serving and none is
// marked lost.
func serving(t *testing.T, url string, nodes ...*outageNode) {
	t.Helper()
	for _, r := range nodes {
		select {
		case err := <-r.done:
			t.Fatalf("%s: Run = %v; want it serving", r.n.ID(), err)
		default:
		}
	}
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var lost int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM acd_nodes WHERE lost`).Scan(&lost); err != nil || lost != 0 {
		t.Fatalf("%d nodes lost (%v); want none", lost, err)
	}
}

// A database restart shorter than the node timeout stops no node: a
// caller who joins while the database is down keeps the place (the
// command is sent again once it is back) and is routed; the listeners
// are opened again; nobody is declared lost. (TestRunCutOff: a node cut
// off for the node timeout stops, as before.)
func TestRunRidesOutRestart(t *testing.T) {
	pg := pgtest.StartCluster(t, toolPorts)
	app := "outage"
	url := pg.URL() + "&application_name=" + app
	cfg := cluster.Config{NodeExpiry: 8 * time.Second, Heartbeat: 500 * time.Millisecond, LeadEvery: 100 * time.Millisecond}
	n1 := startOutageNode(t, url, "n1", cfg)
	n2 := startOutageNode(t, url, "n2", cfg)
	if err := n1.n.SetState(t.Context(), "an", "login", ""); err != nil {
		t.Fatal(err)
	}
	route(t, n2, "c1", 10*time.Second)
	listeners(t, url, app, 2)

	pg.Stop()
	routed := make(chan struct{})
	go func() { defer close(routed); route(t, n2, "c2", 30*time.Second) }() // joins while the database is down
	time.Sleep(2 * time.Second)                                             // the outage's length, not a synchronisation
	pg.Start()
	<-routed
	if t.Failed() {
		return
	}
	route(t, n1, "c3", 10*time.Second)
	listeners(t, url, app, 2)
	serving(t, url, n1, n2)
}

// Sessions cut by the server (pg_terminate_backend of every session of
// both nodes: the pools', the listeners', the leader's lock) stop no node:
// the leader steps down and a node takes the lead again, the listeners are
// opened again, and callers are routed.
func TestRunRidesOutKilledSessions(t *testing.T) {
	app := fmt.Sprintf("killed%d", time.Now().UnixNano())
	url := pgtest.Schema(t) + "&application_name=" + app
	cfg := cluster.Config{NodeExpiry: 10 * time.Second, Heartbeat: 500 * time.Millisecond, LeadEvery: 100 * time.Millisecond}
	n1 := startOutageNode(t, url, "n1", cfg)
	n2 := startOutageNode(t, url, "n2", cfg)
	if err := n1.n.SetState(t.Context(), "an", "login", ""); err != nil {
		t.Fatal(err)
	}
	route(t, n2, "c0", 10*time.Second)
	for round := range 3 {
		listeners(t, url, app, 2)
		if k := terminateBackends(t, url, app, false); k < 3 {
			t.Fatalf("round %d: %d sessions ended; want the listeners and the leader's lock at least", round, k)
		}
		route(t, n2, fmt.Sprintf("c%d-2", round), 20*time.Second)
		route(t, n1, fmt.Sprintf("c%d-1", round), 20*time.Second)
	}
	listeners(t, url, app, 2)
	serving(t, url, n1, n2)
}
