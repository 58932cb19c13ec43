package cluster_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// TestPick: the node for a callback's call is the least loaded (its
// heartbeat's calls plus the calls given to it and not over) that does
// not drain; the leader first on equal load, then the others in turn
// after the last pick; "" when every node drains.
func TestPick(t *testing.T) {
	nodes := func(ns ...postgres.NodeLoad) []postgres.NodeLoad { return ns }
	n := func(id string, calls int, draining bool) postgres.NodeLoad {
		return postgres.NodeLoad{ID: id, Calls: calls, Draining: draining}
	}
	for _, c := range []struct {
		name     string
		nodes    []postgres.NodeLoad
		inFlight map[string]int
		self     string
		last     string
		want     string
	}{
		{"least calls", nodes(n("a", 3, false), n("b", 1, false), n("c", 2, false)), nil, "a", "", "b"},
		{"in flight counts", nodes(n("a", 3, false), n("b", 1, false), n("c", 2, false)), map[string]int{"b": 2}, "a", "", "c"},
		{"draining skipped", nodes(n("a", 3, false), n("b", 0, true), n("c", 2, false)), nil, "a", "", "c"},
		{"leader first on a tie", nodes(n("a", 1, false), n("b", 1, false), n("c", 1, false)), nil, "b", "c", "b"},
		{"then in turn after last", nodes(n("a", 0, false), n("b", 0, false), n("c", 0, false)), map[string]int{"a": 1}, "a", "a", "b"},
		{"in turn wraps", nodes(n("a", 0, false), n("b", 0, false), n("c", 0, false)), map[string]int{"a": 1}, "a", "c", "b"},
		{"wraps to the first", nodes(n("a", 1, false), n("b", 0, false), n("c", 0, false)), nil, "a", "c", "b"},
		{"wraps past self", nodes(n("a", 0, false), n("b", 0, false), n("c", 0, false)), map[string]int{"c": 1}, "c", "b", "a"},
		{"all draining", nodes(n("a", 0, true), n("b", 0, true)), nil, "a", "", ""},
		{"none live", nil, nil, "a", "", ""},
	} {
		if got := cluster.Pick(c.nodes, c.inFlight, c.self, c.last); got != c.want {
			t.Errorf("%s: Pick = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestDialsLostNode: once a node was declared lost (Dials.Lost, after its
// claims were recovered), a call picked for it before that is not sent:
// Place answers ErrNodeLost at once, so the caller recovers the claim made
// since; and a wait for a call on a node that is then lost ends.
func TestDialsLostNode(t *testing.T) {
	n, err := cluster.New(cluster.Config{ID: "n1", DB: openCluster(t, pgtest.Schema(t))})
	if err != nil {
		t.Fatal(err)
	}
	d := cluster.NewDials(n, 1)
	waited := make(chan bool, 1)
	go func() {
		ok, err := d.Place(t.Context(), "n3", 7, json.RawMessage(`{}`))
		if err != nil {
			t.Errorf("Place on a live node: %v", err)
		}
		waited <- ok
	}()
	// Lost before Place registered its wait would fail it fast instead:
	// wait for the wait first.
	for deadline := time.Now().Add(10 * time.Second); !d.Waiting(7); {
		if time.Now().After(deadline) {
			t.Fatal("Place did not wait")
		}
		time.Sleep(time.Millisecond) // polling, bounded
	}
	d.Lost("n3")
	select {
	case ok := <-waited:
		if !ok {
			t.Fatal("the wait for n3's call ended as if the term had")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait for a lost node's call did not end")
	}
	if _, err := d.Place(t.Context(), "n3", 8, json.RawMessage(`{}`)); !errors.Is(err, postgres.ErrNodeLost) {
		t.Fatalf("Place on a lost node: %v, want ErrNodeLost", err)
	}
}
