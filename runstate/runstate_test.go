package runstate

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// flaky is a store.Runtime that fails while down is set.
type flaky struct {
	store.Runtime
	down bool
}

var errDown = errors.New("down")

func (f *flaky) SaveAgents(ctx context.Context, as []store.AgentState) error {
	if f.down {
		return errDown
	}
	return f.Runtime.SaveAgents(ctx, as)
}

func (f *flaky) AppendQueueRecs(ctx context.Context, rs []store.QueueRec) error {
	if f.down {
		return errDown
	}
	return f.Runtime.AppendQueueRecs(ctx, rs)
}

func TestWriterKeepsStateWhileTheDatabaseIsDown(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &flaky{Runtime: db, down: true}
	w := New(Config{Store: f, Boot: "b1", MaxPending: 3})
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	w.SaveAgent(store.AgentState{AgentID: "a1", Presence: "available", Since: at})
	w.SaveAgent(store.AgentState{AgentID: "a1", Presence: "paused", Reason: "lunch", Since: at}) // the last one wins
	for i := range 4 {
		w.Rec(store.QueueRec{Queue: "q", At: at.Add(time.Duration(i) * time.Second), Kind: store.RecJoined})
	}
	if err := w.Flush(t.Context()); !errors.Is(err, errDown) {
		t.Fatalf("flush while down: %v", err)
	}
	f.down = false
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	as, err := db.Agents(t.Context())
	if err != nil || len(as) != 1 || as[0].Presence != "paused" || as[0].Reason != "lunch" {
		t.Fatalf("agents = %+v, %v", as, err)
	}
	recs, err := db.QueueRecs(t.Context(), at.Add(-time.Hour))
	if err != nil || len(recs) != 3 || !recs[0].At.Equal(at.Add(time.Second)) {
		t.Fatalf("recs = %+v, %v; want the last 3 (MaxPending) of 4", recs, err)
	}
	if recs[0].ID != "b1-000000000002" {
		t.Errorf("record id %q", recs[0].ID)
	}
}

// With BindingsAtOnce a registration is written at once, not at the next
// Interval (an hour here): other nodes of a cluster read it from the store.
func TestBindingsAtOnce(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := New(Config{Store: db, Boot: "b1", Interval: time.Hour, BindingsAtOnce: true})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	exp := time.Now().Add(time.Hour)
	w.SaveBindings(store.UserBindings{Username: "lan", Contacts: []store.Binding{{URI: "sip:lan@127.0.0.1:5070", Expires: exp, Updated: time.Now()}}})
	for deadline := time.Now().Add(5 * time.Second); ; {
		bs, err := db.Bindings(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) == 1 && bs[0].Username == "lan" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("binding not written within 5 s with Interval 1h: %+v", bs)
		}
		time.Sleep(10 * time.Millisecond) // polling the store, bounded
	}
}
