package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// Run-time membership goes to the leader as a command: an agent added to
// a queue through a node takes its waiting caller; the answered outcome
// names the offer by the id the Ringer was given (epoch-prefixed), which
// is how the caller's node takes the agent's leg; a removed agent is
// offered no more callers of that queue.
func TestRunMembershipAndOutcomeOffer(t *testing.T) {
	url := pgtest.Schema(t)
	db, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	ring := make(chanRinger, 8)
	n, err := cluster.New(cluster.Config{ID: "n1", DB: db, Ringer: ring, ACD: queue.Config{
		Agents: []config.Agent{{ID: "an", Queues: map[string]int{"other": 0}}},
		Queues: map[string]config.Queue{"sales": {RingTimeout: time.Minute, JoinEmpty: true}, "other": {}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.SetState(ctx, "an", "login", ""))
	p, err := n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: "c1", Queue: "sales"}})
	must(err)
	select {
	case o := <-ring:
		t.Fatalf("offered %+v before an is a member of sales", o)
	case <-time.After(300 * time.Millisecond): // a negative: nothing may arrive in this window
	}
	must(n.SetMember(ctx, "an", "sales", 1))
	var o queue.Offer
	select {
	case o = <-ring:
	case <-time.After(10 * time.Second):
		t.Fatal("an, added to sales, was not offered c1 within 10 s")
	}
	if o.CallID != "c1" || o.Agent != "an" {
		t.Fatalf("offer %+v, want an for c1", o)
	}
	must(n.Answered(ctx, o.ID))
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome for c1 within 10 s")
	}
	if out := p.Outcome(); out.Reason != queue.ReasonAnswered || out.Offer != o.ID {
		t.Fatalf("outcome %+v, want answered with offer %q (the Ringer's id)", out, o.ID)
	}
	must(n.Hangup(ctx, "c1"))
	must(n.RemoveMember(ctx, "an", "sales"))
	_, err = n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: "c2", Queue: "sales"}})
	must(err)
	select {
	case o := <-ring:
		t.Fatalf("offered %+v after an left sales", o)
	case <-time.After(500 * time.Millisecond): // a negative: nothing may arrive in this window
	}
}
