package cluster_test

import (
	"testing"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/store/postgres"
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
