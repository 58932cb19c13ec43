package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// The leader's side of callbacks (docs/cluster.md, "Callbacks in a
// cluster"): a follower's callback command reaches the leader's Callback
// hook once; work given to Do runs on the leader's Service in its epoch
// (and work for another epoch is dropped); an agent-first callback's offer
// is rung by the leader's own node (no caller's node holds it), and its
// answer comes back to the Service's CallbackHook with the offer.
func TestLeaderCallbacks(t *testing.T) {
	url := pgtest.Schema(t)
	open := func() *postgres.Cluster {
		db, err := postgres.OpenCluster(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	loads := make(chan int64, 4)
	dues := make(chan queue.CallbackDue, 4)
	acd := queue.Config{Agents: []config.Agent{{ID: "an", Queues: map[string]int{"sales": 0}}},
		Queues:    map[string]config.Queue{"sales": {RingTimeout: time.Minute}},
		Callbacks: queue.CallbackHookFunc(func(d queue.CallbackDue) { dues <- d })}
	r1, r2 := make(chanRinger, 4), make(chanRinger, 4)
	n1, err := cluster.New(cluster.Config{ID: "n1", DB: open(), ACD: acd, Ringer: r1, LeadEvery: time.Nanosecond,
		Callback: func(id int64) { loads <- id }})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := cluster.New(cluster.Config{ID: "n2", DB: open(), ACD: acd, Ringer: r2})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*cluster.Node{n1, n2} {
		if err := n.Register(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	step := func(n *cluster.Node) {
		t.Helper()
		if _, err := n.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !n1.Leading(); step(n1) {
		if time.Now().After(deadline) {
			t.Fatal("n1 did not take the lead within 10 s")
		}
	}
	epoch := n1.Epoch()
	if epoch == 0 || n1.OfferPrefix() == "" || n2.Epoch() != 0 {
		t.Fatalf("epochs: leader %d (prefix %q), follower %d", epoch, n1.OfferPrefix(), n2.Epoch())
	}

	if err := n2.Callback(t.Context(), 42); err != nil {
		t.Fatal(err)
	}
	step(n1)
	step(n1)
	select {
	case id := <-loads:
		if id != 42 {
			t.Fatalf("Callback(%d); want 42", id)
		}
	default:
		t.Fatal("the leader's Callback hook was not told of the follower's command")
	}
	select {
	case id := <-loads:
		t.Fatalf("Callback(%d) again", id)
	default:
	}

	ran := 0
	n1.Do(epoch-1, func(*queue.Service) { t.Error("work for another epoch ran") })
	n1.Do(epoch, func(s *queue.Service) {
		ran++
		if err := s.Login("an"); err != nil {
			t.Error(err)
		}
		if err := s.OfferCallback(queue.CallbackEntry{Key: "callback:7", Queue: "sales", JoinedAt: time.Now(),
			AgentFirst: true, Caller: "+84912000001"}); err != nil {
			t.Error(err)
		}
	})
	step(n1) // the work, and the offer to the leader's own outbox
	step(n1) // delivered
	if ran != 1 {
		t.Fatalf("the work ran %d times", ran)
	}
	var o queue.Offer
	select {
	case o = <-r1:
	default:
		t.Fatal("the agent-first callback's offer was not rung by the leader's node")
	}
	if o.Callback != "callback:7" || o.Agent != "an" || !strings.HasPrefix(o.ID, n1.OfferPrefix()) {
		t.Fatalf("offer %+v; want an for callback:7 with the epoch's prefix %q", o, n1.OfferPrefix())
	}
	select {
	case o := <-r2:
		t.Fatalf("the follower rang %+v", o)
	default:
	}
	if err := n1.Answered(t.Context(), o.ID); err != nil {
		t.Fatal(err)
	}
	step(n1)
	select {
	case d := <-dues:
		if d.Key != "callback:7" || !d.AgentFirst || d.Agent != "an" || n1.OfferPrefix()+d.Offer != o.ID {
			t.Fatalf("due %+v; want an's answer to %s", d, o.ID)
		}
	default:
		t.Fatal("the answer did not reach the CallbackHook")
	}
}
