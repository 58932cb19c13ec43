package webhook_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/webhook"
)

// TestClusterSubscriptionsAndDelivery: two webhook services (two nodes)
// on one PostgreSQL schema, both running. A subscription made through
// node A's API gets node B's events at once, and B's API lists it; both
// nodes deliver the one line concurrently, and the receiver still gets
// every event once, in the order written; a change of URL on A moves B's
// next delivery; a delete on A stops B writing for it.
func TestClusterSubscriptionsAndDelivery(t *testing.T) {
	url := pgtest.Schema(t)
	open := func() store.Webhooks {
		s, err := postgres.Open(t.Context(), url, store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, _ := start(t, open(), webhook.Config{Delivery: fast(), Boot: "node-a"})
	b, _ := start(t, open(), webhook.Config{Delivery: fast(), Boot: "node-b"})
	rc := newReceiver(t, "")

	sub, _, err := a.Create(t.Context(), rc.url(), secret, []string{"call.started"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Subscription(t.Context(), sub.ID); !ok {
		t.Fatalf("node B's API does not show %s, made on node A", sub.ID)
	}
	ev := func(i int) webhook.Event {
		return webhook.Event{ID: fmt.Sprintf("ev-%03d", i), Type: "call.started", Created: time.Now().UTC(),
			CallID: fmt.Sprintf("call-%03d", i), Data: json.RawMessage(`{}`)}
	}
	// Written alternately on the two nodes, one at a time: the line's
	// order is this order, and each node's write wakes its deliverer.
	const n = 200
	for i := range n {
		node := a
		if i%2 == 1 {
			node = b
		}
		if err := node.Enqueue(t.Context(), ev(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.waitFor(n, 60*time.Second)
	for i, e := range got[:n] {
		if e.ID != ev(i).ID {
			t.Fatalf("event %d is %s, want %s: the line's order broke across nodes: %v", i, e.ID, ev(i).ID, types(got[max(0, i-3):min(len(got), i+3)]))
		}
	}
	rc.mu.Lock()
	dups, bad := rc.dups, rc.bad
	rc.mu.Unlock()
	if dups != 0 || bad != 0 {
		t.Errorf("%d duplicate and %d unverified deliveries: two nodes sent one line's rows", dups, bad)
	}
	// The counts follow the receiver's answer: wait for them.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sa, sb := a.Stats().Delivered, b.Stats().Delivered
		if sa+sb == n {
			t.Logf("delivered %d by node A, %d by node B", sa, sb)
			break
		}
		if sa+sb > n || time.Now().After(deadline) {
			t.Fatalf("delivered %d by A and %d by B, want %d in all", sa, sb, n)
		}
	}

	// A new URL, set on A, is where B's next event goes.
	rc2 := newReceiver(t, "")
	if _, err := a.Update(t.Context(), sub.ID, rc2.url(), "", []string{"call.started"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Enqueue(t.Context(), ev(n)); err != nil {
		t.Fatal(err)
	}
	if got := rc2.waitFor(1, 30*time.Second); got[0].ID != ev(n).ID {
		t.Errorf("after the update the new URL got %v", types(got))
	}
	if len(rc.events()) != n {
		t.Errorf("the old URL got %d events, want %d", len(rc.events()), n)
	}

	// Deleted on A: B writes nothing more for it, and does not list it.
	if err := a.Delete(t.Context(), sub.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Enqueue(t.Context(), ev(n+1)); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Subscription(t.Context(), sub.ID); ok {
		t.Errorf("node B still shows %s, deleted on node A", sub.ID)
	}
	ds, _, err := b.Deliveries(t.Context(), store.WebhookFilter{Subscription: sub.ID}, store.Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 1 && ds[0].EventID == ev(n+1).ID {
		t.Errorf("node B wrote a delivery of %s for %s after its delete on node A", ds[0].EventID, sub.ID)
	}
}
