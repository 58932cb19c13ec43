package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

type chanRinger chan queue.Offer

func (r chanRinger) Ring(o queue.Offer)         { r <- o }
func (r chanRinger) Cancel(queue.Offer, string) {}

// Two nodes under Node.Run (real time, LISTEN/NOTIFY wake-ups): a caller
// on node 2 is offered an agent logged in through node 1 and answers;
// the leader stops; the other node takes over with the agent still on
// that call, and when it ends the agent takes the next caller.
func TestRunFailover(t *testing.T) {
	url := pgtest.Schema(t)
	acd := queue.Config{Agents: []config.Agent{{ID: "an", Queues: map[string]int{"sales": 0}}},
		Queues: map[string]config.Queue{"sales": {RingTimeout: time.Minute}}}
	type run struct {
		n      *cluster.Node
		ring   chanRinger
		cancel context.CancelFunc
		done   chan error
	}
	start := func(id string) *run {
		db, err := postgres.OpenCluster(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		r := &run{ring: make(chanRinger, 8), done: make(chan error, 1)}
		if r.n, err = cluster.New(cluster.Config{ID: id, DB: db, ACD: acd, Ringer: r.ring}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		r.cancel = cancel
		go func() { r.done <- r.n.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-r.done })
		return r
	}
	leaderIs := func(want string) {
		t.Helper()
		c, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		deadline := time.Now().Add(10 * time.Second)
		for {
			var node string
			if err := c.QueryRow(t.Context(), `SELECT node FROM acd_leader`).Scan(&node); err != nil {
				t.Fatal(err)
			}
			if node == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("leader %q after 10 s; want %q", node, want)
			}
			time.Sleep(20 * time.Millisecond) // polling the database with a bound, not synchronising
		}
	}
	offered := func(r *run, call string) queue.Offer {
		t.Helper()
		select {
		case o := <-r.ring:
			if o.CallID != call || o.Agent != "an" {
				t.Fatalf("offer %+v; want an for %s", o, call)
			}
			return o
		case <-time.After(10 * time.Second):
			t.Fatalf("no offer for %s within 10 s", call)
		}
		return queue.Offer{}
	}
	ctx := t.Context()
	n1 := start("n1")
	leaderIs("n1")
	n2 := start("n2")
	if err := n1.n.SetState(ctx, "an", "login", ""); err != nil {
		t.Fatal(err)
	}
	p1, err := n2.n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: "c1", Queue: "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	o := offered(n2, "c1")
	if err := n2.n.Answered(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p1.Done():
		if out := p1.Outcome(); out.Reason != queue.ReasonAnswered || out.Agent != "an" {
			t.Fatalf("outcome %+v; want answered by an", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome for c1 within 10 s")
	}

	n1.cancel()
	if err := <-n1.done; err != nil {
		t.Fatalf("n1 Run = %v", err)
	}
	n1.done <- nil // for the cleanup
	leaderIs("n2")
	if _, err := n2.n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: "c2", Queue: "sales"}}); err != nil {
		t.Fatal(err)
	}
	// The commit that takes c2 in would also hold its offer, were the
	// agent free: the new leader must have adopted an's call with c1.
	q, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; {
		var entries, offers int
		if err := q.QueryRow(ctx, `SELECT (SELECT count(*) FROM acd_entries WHERE call_id = 'c2'), (SELECT count(*) FROM acd_offers)`).Scan(&entries, &offers); err != nil {
			t.Fatal(err)
		}
		if entries == 1 {
			if offers != 0 {
				t.Fatal("c2 offered while the agent is still on c1")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("c2 not in the queue within 10 s")
		}
		time.Sleep(20 * time.Millisecond) // polling the database with a bound
	}
	if err := n2.n.Hangup(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	offered(n2, "c2")
	select {
	case o := <-n2.ring:
		t.Fatalf("unexpected offer %+v", o)
	default:
	}
}

// A node declared lost (its heartbeat expired, the leader removed its
// calls) learns it at its next heartbeat: Run returns ErrNodeLost.
func TestRunNodeLost(t *testing.T) {
	url := pgtest.Schema(t)
	db, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := cluster.New(cluster.Config{ID: "n1", DB: db, Heartbeat: 20 * time.Millisecond,
		ACD: queue.Config{Queues: map[string]config.Queue{"sales": {}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(t.Context()) }()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; {
		tag, err := c.Exec(t.Context(), `UPDATE acd_nodes SET lost = TRUE WHERE id = 'n1'`)
		if err != nil {
			t.Fatal(err)
		}
		if tag.RowsAffected() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("n1 not registered within 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling the database with a bound
	}
	select {
	case err := <-done:
		if !errors.Is(err, postgres.ErrNodeLost) {
			t.Fatalf("Run = %v; want ErrNodeLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still serving 10 s after the node was declared lost")
	}
}

// A node cut off from the database for NodeExpiry stops: the leader
// takes its callers out of the queues after that long.
func TestRunCutOff(t *testing.T) {
	url := pgtest.Schema(t)
	db, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cluster.New(cluster.Config{ID: "n1", DB: db, Heartbeat: 20 * time.Millisecond, NodeExpiry: 200 * time.Millisecond,
		ACD: queue.Config{Queues: map[string]config.Queue{"sales": {}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan error, 1)
	go func() { done <- n.Run(t.Context()) }()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; { // Run is serving once a heartbeat came
		var beat bool
		err := c.QueryRow(t.Context(), `SELECT coalesce((SELECT last_seen > started FROM acd_nodes WHERE id = 'n1'), false)`).Scan(&beat)
		if err != nil {
			t.Fatal(err)
		}
		if beat {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat within 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling the database with a bound
	}
	// Every heartbeat fails from now on, as in a partition.
	if _, err := c.Exec(t.Context(), `ALTER TABLE acd_nodes RENAME TO acd_nodes_away`); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, postgres.ErrNodeLost) {
			t.Fatalf("Run = %v; want ErrNodeLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still serving 10 s after the database went away")
	}
}

// The node that leads when another is declared lost hears its ID once the
// declaration is committed (NodeLost: the callback scheduler takes the dead
// node's claimed calls then).
func TestNodeLostHook(t *testing.T) {
	url := pgtest.Schema(t)
	open := func() *postgres.Cluster {
		db, err := postgres.OpenCluster(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	lost := make(chan string, 4)
	leading := make(chan bool, 4)
	acd := queue.Config{Queues: map[string]config.Queue{"sales": {}}}
	n1, err := cluster.New(cluster.Config{ID: "n1", DB: open(), ACD: acd, NodeExpiry: 300 * time.Millisecond,
		LeadEvery: time.Nanosecond, ExpiryEvery: time.Nanosecond, NodeLost: func(node string) { lost <- node },
		Leading: func(l bool) { leading <- l }})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := cluster.New(cluster.Config{ID: "n2", DB: open(), ACD: acd})
	if err != nil {
		t.Fatal(err)
	}
	if err := n1.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n2.Register(t.Context()); err != nil { // and never heartbeats again
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := n1.Heartbeat(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := n1.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		select {
		case node := <-lost:
			if node != "n2" {
				t.Fatalf("NodeLost(%q); want n2", node)
			}
			for range 5 { // acted on once: the item is gone
				if _, err := n1.Step(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case node := <-lost:
				t.Fatalf("NodeLost(%q) again", node)
			default:
			}
			if l := <-leading; !l {
				t.Fatal("Leading(false) before Leading(true)")
			}
			n1.StepDown()
			if l := <-leading; l {
				t.Fatal("StepDown told Leading(true)")
			}
			// The next leader hears of the lost node again at its takeover.
			lost3 := make(chan string, 4)
			n3, err := cluster.New(cluster.Config{ID: "n3", DB: open(), ACD: acd, LeadEvery: time.Nanosecond,
				NodeLost: func(node string) { lost3 <- node }})
			if err != nil {
				t.Fatal(err)
			}
			if err := n3.Register(t.Context()); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); !n3.Leading(); {
				if _, err := n3.Step(t.Context()); err != nil {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatal("n3 did not take the lead within 10 s")
				}
			}
			select {
			case node := <-lost3:
				if node != "n2" {
					t.Fatalf("n3: NodeLost(%q); want n2", node)
				}
			default:
				t.Fatal("n3 took the lead without hearing of lost n2")
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("n2 not declared lost within 10 s")
		}
		time.Sleep(20 * time.Millisecond) // stepping the leader with a bound
	}
}
