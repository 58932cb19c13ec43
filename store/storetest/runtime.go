package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func runtimeOf(t *testing.T, s store.Store) store.Runtime {
	t.Helper()
	rs, ok := s.(store.Runtime)
	if !ok {
		t.Fatalf("%T does not implement store.Runtime", s)
	}
	return rs
}

func testRuntimeBindings(t *testing.T, s store.Store) {
	rs := runtimeOf(t, s)
	b := func(uri string, expires time.Time) store.Binding {
		return store.Binding{URI: uri, Expires: expires, Q: 0.5, Source: "127.0.0.7:5062", Transport: "udp",
			UserAgent: "baresip", CallID: "reg-" + uri, CSeq: 7, Updated: c0}
	}
	alice := store.UserBindings{Username: "alice", Contacts: []store.Binding{
		b("sip:alice@127.0.0.7:5062", c0.Add(time.Hour)), b("sip:alice@127.0.0.8:5060", c0.Add(time.Minute))}}
	bob := store.UserBindings{Username: "bob", Contacts: []store.Binding{b("sip:bob@127.0.0.9:5060", c0.Add(time.Hour))}}
	// Registered through a proxy (RFC 3327): the Path comes back in order.
	bob.Contacts[0].Path = []string{"<sip:10.0.0.5:5060;lr>", "<sip:edge.example;lr;transport=tcp>"}
	must(t, rs.SaveBindings(ctx(t), []store.UserBindings{alice, bob}))
	got, err := rs.Bindings(ctx(t), c0)
	must(t, err)
	if !reflect.DeepEqual(got, []store.UserBindings{alice, bob}) {
		t.Fatalf("bindings = %+v\nwant %+v", got, []store.UserBindings{alice, bob})
	}
	// A REGISTER that removes one contact replaces alice's set; bob
	// unregisters; an expired contact is not returned (and is deleted).
	alice.Contacts = alice.Contacts[1:]
	must(t, rs.SaveBindings(ctx(t), []store.UserBindings{alice, {Username: "bob"}}))
	if got, err = rs.Bindings(ctx(t), c0); err != nil || !reflect.DeepEqual(got, []store.UserBindings{alice}) {
		t.Fatalf("after replace: %+v, %v", got, err)
	}
	if got, err = rs.Bindings(ctx(t), c0.Add(2*time.Minute)); err != nil || len(got) != 0 {
		t.Fatalf("after expiry: %+v, %v", got, err)
	}
	if got, err = rs.Bindings(ctx(t), c0); err != nil || len(got) != 0 {
		t.Fatalf("an expired binding came back: %+v, %v", got, err)
	}
}

func testRuntimeAgents(t *testing.T, s store.Store) {
	rs := runtimeOf(t, s)
	want := []store.AgentState{
		{AgentID: "a1", Presence: "paused", Reason: "lunch", Since: c0, IdleSince: c0.Add(-time.Hour)},
		{AgentID: "a2", Presence: "available", Since: c0.Add(time.Second), Queues: map[string]int{"sales": 0, "technical": 2}},
		// Taken out of every queue at run time: an empty membership, not
		// nil (which would be "as configured").
		{AgentID: "a3", Presence: "logged_out", Since: c0, Queues: map[string]int{}},
	}
	must(t, rs.SaveAgents(ctx(t), want))
	got, err := rs.Agents(ctx(t))
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agents = %+v\nwant %+v", got, want)
	}
	// The latest state wins; membership back to the configured one (nil).
	want[1] = store.AgentState{AgentID: "a2", Presence: "logged_out", Since: c0.Add(time.Minute)}
	must(t, rs.SaveAgents(ctx(t), want[1:2]))
	if got, err = rs.Agents(ctx(t)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after update: %+v, %v\nwant %+v", got, err, want)
	}
}

func testRuntimeQueueRecs(t *testing.T, s store.Store) {
	rs := runtimeOf(t, s)
	recs := []store.QueueRec{
		{ID: "b1-000000000001", Queue: "sales", At: c0.Add(-25 * time.Hour), Kind: store.RecJoined, CallID: "old"},
		{ID: "b1-000000000002", Queue: "sales", At: c0, Kind: store.RecJoined, CallID: "c1"},
		{ID: "b1-000000000003", Queue: "sales", At: c0, Kind: store.RecAnswered, CallID: "c1", Duration: 12345 * time.Microsecond},
		{ID: "b1-000000000004", Queue: "technical", At: c0.Add(time.Second), Kind: store.RecHandled, Duration: 90 * time.Second},
		{ID: "b1-000000000005", Queue: "sales", At: c0.Add(2 * time.Second), Kind: store.RecAgentAnswered, CallID: "c2", Agent: "lan"},
	}
	must(t, rs.AppendQueueRecs(ctx(t), recs))
	must(t, rs.AppendQueueRecs(ctx(t), recs[2:])) // a retried batch: no duplicates
	got, err := rs.QueueRecs(ctx(t), c0.Add(-time.Hour))
	must(t, err)
	if !reflect.DeepEqual(got, recs[1:]) {
		t.Fatalf("recs = %+v\nwant %+v", got, recs[1:])
	}
	if got, err = rs.QueueRecs(ctx(t), c0.Add(-48*time.Hour)); err != nil || len(got) != 4 {
		t.Fatalf("the record before the first since must be pruned: %d recs, %v", len(got), err)
	}
	if err := rs.AppendQueueRecs(ctx(t), []store.QueueRec{{ID: "x", Queue: "sales", At: c0, Kind: "lost"}}); err == nil {
		t.Fatal("an unknown kind was stored")
	}
}
