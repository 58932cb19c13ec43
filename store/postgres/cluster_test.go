package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

func openCluster(t *testing.T) (*postgres.Cluster, string) {
	t.Helper()
	url := pgtest.Schema(t)
	c, err := postgres.OpenCluster(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, url
}

// Heartbeats: a node seen now is not expired; aged, it is; declared lost
// by a leader's commit, its heartbeat fails until it registers again.
func TestClusterNodes(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	if err := c.Register(ctx, "a", "10.0.0.1:5060"); err != nil {
		t.Fatal(err)
	}
	if err := c.Heartbeat(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ids, err := c.Expired(ctx, 10*time.Second); err != nil || len(ids) != 0 {
		t.Fatalf("Expired = %v, %v; want none", ids, err)
	}
	exec(t, url, `UPDATE acd_nodes SET last_seen = now() - interval '1 minute' WHERE id = 'a'`)
	if ids, err := c.Expired(ctx, 10*time.Second); err != nil || len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("Expired = %v, %v; want [a]", ids, err)
	}
	l, err := c.TryLead(ctx, "b")
	if err != nil || l == nil {
		t.Fatalf("TryLead = %v, %v", l, err)
	}
	defer l.Close()
	if err := l.Commit(ctx, &postgres.Batch{LostNodes: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Heartbeat(ctx, "a"); !errors.Is(err, postgres.ErrNodeLost) {
		t.Fatalf("Heartbeat of a lost node = %v; want ErrNodeLost", err)
	}
	if err := c.Register(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Heartbeat(ctx, "a"); err != nil {
		t.Fatalf("Heartbeat after Register = %v", err)
	}
}

// One leader at a time; each takeover has a higher epoch; the old
// leader's commit is refused once a new one took over; commands are
// consumed once, with the snapshot and the outbox in the same commit.
func TestClusterLeaderFencing(t *testing.T) {
	c, _ := openCluster(t)
	ctx := t.Context()
	l1, err := c.TryLead(ctx, "a")
	if err != nil || l1 == nil {
		t.Fatalf("TryLead = %v, %v", l1, err)
	}
	if l2, err := c.TryLead(ctx, "b"); err != nil || l2 != nil {
		t.Fatalf("second TryLead = %v, %v; want nil, nil (lock held)", l2, err)
	}
	for _, k := range []string{"join", "leave"} {
		if _, err := c.Send(ctx, "b", k, []byte(`{"call_id":"c1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	cmds, err := c.Commands(ctx, 10, nil)
	if err != nil || len(cmds) != 2 || cmds[0].Kind != "join" || cmds[1].Kind != "leave" || cmds[0].ID >= cmds[1].ID {
		t.Fatalf("Commands = %+v, %v", cmds, err)
	}
	// A commit in flight consumes the join: the next read leaves it out.
	if next, err := c.Commands(ctx, 10, []int64{cmds[0].ID}); err != nil || len(next) != 1 || next[0].ID != cmds[1].ID {
		t.Fatalf("Commands skipping the join = %+v, %v; want the leave alone", next, err)
	}
	// The commit is one implicit transaction: a statement that fails
	// late in it (a body with a NUL byte, which no TEXT column takes)
	// undoes the ones before.
	bad := &postgres.Batch{Consumed: []int64{cmds[0].ID}, Out: []postgres.OutItem{{Node: "b", Kind: "ring", Body: []byte("{\"n\":\"\x00\"}")}}}
	if err := l1.Commit(ctx, bad); err == nil || errors.Is(err, postgres.ErrFenced) {
		t.Fatalf("Commit of a bad body = %v; want a refusal", err)
	}
	if again, err := c.Commands(ctx, 10, nil); err != nil || len(again) != 2 {
		t.Fatalf("after a failed commit Commands = %+v, %v; want both still there", again, err)
	}
	placed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := &postgres.Batch{Consumed: []int64{cmds[0].ID},
		Entries: []postgres.SnapEntry{{CallID: "c1", Queue: "q", Node: "b", Placed: placed, Seq: 1, Body: []byte(`{}`), State: []byte(`{"joined": "x"}`)}},
		Agents:  []postgres.SnapAgent{{AgentID: "ag", Presence: "available", State: []byte(`{"misses": 2}`)}, {AgentID: "old", Presence: "paused"}},
		Recs: []store.QueueRec{{ID: "r1", Queue: "q", At: placed, Kind: store.RecJoined, CallID: "c1"},
			{ID: "r0", Queue: "q", At: placed.Add(-48 * time.Hour), Kind: store.RecJoined, CallID: "c0"},
			{ID: "r2", Queue: "q", At: placed, Kind: store.RecAgentAnswered, CallID: "c1", Agent: "ag", Duration: 1500 * time.Microsecond}},
		Offers: []postgres.SnapOffer{{OfferID: "1.o2", Node: "b", Body: []byte(`{}`)}},
		Out:    []postgres.OutItem{{Node: "b", Kind: "ring", Body: []byte(`{"n":1}`)}, {Node: "b", Kind: "ring", Body: []byte(`{"n":2}`)}, {Node: "a", Kind: "event", Body: []byte(`{}`)}}}
	if err := l1.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if cmds, _ := c.Commands(ctx, 10, nil); len(cmds) != 1 || cmds[0].Kind != "leave" {
		t.Fatalf("after commit Commands = %+v; want the leave alone", cmds)
	}
	out, err := c.Outbox(ctx, "b", 10)
	if err != nil || len(out) != 2 || string(out[0].Body) != `{"n":1}` || out[0].ID >= out[1].ID {
		t.Fatalf("Outbox(b) = %+v, %v", out, err)
	}
	if err := c.Ack(ctx, "b", out[0].ID); err != nil {
		t.Fatal(err)
	}
	if out, _ := c.Outbox(ctx, "b", 10); len(out) != 1 {
		t.Fatalf("after Ack Outbox(b) = %+v; want one left", out)
	}

	// The leader crashes: its socket closes, the server frees the lock.
	l1.Kill()
	killed := time.Now()
	var l2 *postgres.Leader
	deadline := time.Now().Add(10 * time.Second)
	for l2 == nil && time.Now().Before(deadline) {
		if l2, err = c.TryLead(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	if l2 == nil {
		t.Fatal("lock not freed 10 s after the leader's socket closed")
	}
	defer l2.Close()
	t.Logf("lock taken over %s after the leader's socket closed", time.Since(killed).Round(time.Microsecond))
	if l2.Epoch != l1.Epoch+1 {
		t.Fatalf("new epoch %d after %d", l2.Epoch, l1.Epoch)
	}
	snap, err := l2.Load(ctx, placed.Add(-time.Hour))
	if err != nil || len(snap.Entries) != 1 || !snap.Entries[0].Placed.Equal(placed) || len(snap.Agents) != 2 || len(snap.Offers) != 1 {
		t.Fatalf("Load = %+v, %v", snap, err)
	}
	// The resume state comes back byte for byte as written (TEXT, 0022),
	// NULL as nil; records from since on, in (at, id) order.
	if string(snap.Entries[0].State) != `{"joined": "x"}` || string(snap.Agents[0].State) != `{"misses": 2}` || snap.Agents[1].State != nil {
		t.Fatalf("Load states: entry %s, agents %s, %s", snap.Entries[0].State, snap.Agents[0].State, snap.Agents[1].State)
	}
	if len(snap.Recs) != 2 || snap.Recs[0].ID != "r1" || snap.Recs[1].Agent != "ag" || snap.Recs[1].Duration != 1500*time.Microsecond ||
		!snap.Recs[0].At.Equal(placed) || snap.Recs[1].Kind != store.RecAgentAnswered {
		t.Fatalf("Load records = %+v; want r1, r2", snap.Recs)
	}
	// A stale leader (same session alive, epoch superseded) is fenced.
	stale := *l2
	stale.Epoch--
	if err := stale.Commit(ctx, &postgres.Batch{DelEntries: []string{"c1"}}); !errors.Is(err, postgres.ErrFenced) {
		t.Fatalf("stale Commit = %v; want ErrFenced", err)
	}
	if snap, _ := l2.Load(ctx, placed.Add(-time.Hour)); len(snap.Entries) != 1 {
		t.Fatal("a fenced commit changed the snapshot")
	}
}

// A commit with outbox items notifies the nodes they are for; a command
// notifies the leader's channel. Channels are database-wide: another
// schema's notifications do not reach this cluster's listener.
func TestClusterNotify(t *testing.T) {
	c, _ := openCluster(t)
	other, _ := openCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ln, err := c.Listen(ctx, postgres.ChanCommands, postgres.ChanOutbox)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := other.Send(ctx, "a", "join", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, "a", "join", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if ch, _, err := ln.Wait(ctx); err != nil || ch != postgres.ChanCommands {
		t.Fatalf("Wait = %q, %v", ch, err)
	}
	if ol, err := other.TryLead(ctx, "x"); err != nil || ol == nil {
		t.Fatal(ol, err)
	} else {
		defer ol.Close()
		if err := ol.Commit(ctx, &postgres.Batch{Out: []postgres.OutItem{{Node: "n9", Kind: "ring", Body: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := c.TryLead(ctx, "a")
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	defer l.Close()
	if err := l.Commit(ctx, &postgres.Batch{Out: []postgres.OutItem{{Node: "n2", Kind: "ring", Body: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if ch, node, err := ln.Wait(ctx); err != nil || ch != postgres.ChanOutbox || node != "n2" {
		t.Fatalf("Wait = %q %q, %v; want the outbox channel for n2 (not the other schema's n9)", ch, node, err)
	}
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Advisory locks are database-wide: the leader lock is keyed by schema,
// so clusters in two schemas of one database each have a leader.
func TestClusterLeaderPerSchema(t *testing.T) {
	a, _ := openCluster(t)
	b, _ := openCluster(t)
	la, err := a.TryLead(t.Context(), "a")
	if err != nil || la == nil {
		t.Fatalf("TryLead in schema a = %v, %v", la, err)
	}
	defer la.Close()
	lb, err := b.TryLead(t.Context(), "b")
	if err != nil || lb == nil {
		t.Fatalf("TryLead in schema b = %v, %v; want its own lock", lb, err)
	}
	defer lb.Close()
}

// A leader whose session is open but which stopped committing is
// deposed: its session ends, the lock is free, its next commit fails.
func TestClusterDepose(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	l1, err := c.TryLead(ctx, "a")
	if err != nil || l1 == nil {
		t.Fatalf("TryLead = %v, %v", l1, err)
	}
	defer l1.Close()
	if err := l1.Commit(ctx, &postgres.Batch{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Depose(ctx, time.Hour); err != nil || ok {
		t.Fatalf("Depose of a leader that just committed = %v, %v; want false", ok, err)
	}
	exec(t, url, `UPDATE acd_leader SET beat = now() - interval '1 minute'`)
	if ok, err := c.Depose(ctx, 10*time.Second); err != nil || !ok {
		t.Fatalf("Depose of a stale leader = %v, %v; want true", ok, err)
	}
	var l2 *postgres.Leader
	for deadline := time.Now().Add(10 * time.Second); l2 == nil && time.Now().Before(deadline); {
		if l2, err = c.TryLead(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	if l2 == nil {
		t.Fatal("lock not free 10 s after the stale leader was deposed")
	}
	defer l2.Close()
	if err := l1.Commit(ctx, &postgres.Batch{}); err == nil {
		t.Fatal("the deposed leader still commits")
	}
}

// A batch of commands records its token in the same statement: a node
// whose answer was lost reads it back to know whether the batch is in.
func TestClusterSentToken(t *testing.T) {
	c, _ := openCluster(t)
	ctx := t.Context()
	if err := c.Register(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Sent(ctx, "a"); err != nil || tok != 0 {
		t.Fatalf("Sent before any batch = %d, %v; want 0", tok, err)
	}
	if err := c.SendMany(ctx, "a", 41, []string{"join", "leave"}, [][]byte{[]byte(`{"n":1}`), []byte(`{"n":2}`)}); err != nil {
		t.Fatal(err)
	}
	// A batch that fails (a body with a NUL byte, which no TEXT column
	// takes) leaves the token as it was.
	if err := c.SendMany(ctx, "a", 42, []string{"join"}, [][]byte{[]byte("{\"n\":\"\x00\"}")}); err == nil {
		t.Fatal("SendMany of a bad body succeeded")
	}
	if tok, err := c.Sent(ctx, "a"); err != nil || tok != 41 {
		t.Fatalf("Sent = %d, %v; want 41 (the batch that committed)", tok, err)
	}
	if cmds, err := c.Commands(ctx, 10, nil); err != nil || len(cmds) != 2 || cmds[0].Kind != "join" || cmds[1].Kind != "leave" {
		t.Fatalf("Commands = %+v, %v; want the first batch, in order", cmds, err)
	}
}

// A queue's row is merged: a commit without the answers keeps the last
// ones written, and the next leader loads what was merged. A leader's Beat
// moves the beat Depose looks at, and is fenced like a commit.
func TestClusterQueuesMergedAndBeat(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	l1, err := c.TryLead(ctx, "a")
	if err != nil || l1 == nil {
		t.Fatalf("TryLead = %v, %v", l1, err)
	}
	for _, state := range []string{`{"round_robin":"a1","answers":[{"t":100,"n":2}]}`, `{"round_robin":"a2"}`} {
		if err := l1.Commit(ctx, &postgres.Batch{Queues: []postgres.SnapQueue{{Queue: "q", State: []byte(state)}}}); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, url, `UPDATE acd_leader SET beat = now() - interval '1 minute'`)
	if err := l1.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Depose(ctx, 10*time.Second); err != nil || ok {
		t.Fatalf("Depose right after a Beat = %v, %v; want false", ok, err)
	}
	l1.Close()
	var l2 *postgres.Leader
	for deadline := time.Now().Add(10 * time.Second); l2 == nil && time.Now().Before(deadline); {
		if l2, err = c.TryLead(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	if l2 == nil {
		t.Fatal("lock not free 10 s after the leader closed")
	}
	defer l2.Close()
	snap, err := l2.Load(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if len(snap.Queues) != 1 || snap.Queues[0].Queue != "q" || json.Unmarshal(snap.Queues[0].State, &got) != nil ||
		got["round_robin"] != "a2" || fmt.Sprint(got["answers"]) != "[map[n:2 t:100]]" {
		t.Fatalf("queues loaded %+v (%v); want q at a2 with the first commit's answers", snap.Queues, got)
	}
	exec(t, url, `UPDATE acd_leader SET epoch = epoch + 1`)
	if err := l2.Beat(ctx); !errors.Is(err, postgres.ErrFenced) {
		t.Fatalf("Beat of a superseded epoch = %v; want ErrFenced", err)
	}
}

// A takeover's records: the leaders' rows (acd_recs, one per commit; a
// batch sent twice is stored once) merged with queue_recs' (a single
// node's, and leaders' from before migration 0023) in (at, id) order,
// those before since left out and a row wholly before it deleted.
func TestClusterLeaderRecs(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(ctx, `INSERT INTO queue_recs (id, queue, at, kind, call_id, duration_us, agent) VALUES
		('old-1', 'q', $1, 'joined', 'c0', 0, ''), ('old-0', 'q', $2, 'joined', 'cx', 0, '')`, at.Add(time.Second), at.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, err := c.TryLead(ctx, "a")
	if err != nil || l == nil {
		t.Fatalf("TryLead = %v, %v", l, err)
	}
	defer l.Close()
	batch := []store.QueueRec{{ID: "e1-1", Queue: "q", At: at, Kind: store.RecJoined, CallID: "c1"},
		{ID: "e1-2", Queue: "q", At: at.Add(2 * time.Second), Kind: store.RecAnswered, CallID: "c1", Duration: time.Second}}
	stale := []store.QueueRec{{ID: "e1-0", Queue: "q", At: at.Add(-47 * time.Hour), Kind: store.RecJoined, CallID: "cy"}}
	for _, b := range []*postgres.Batch{{Recs: stale}, {Recs: batch}, {Recs: batch}} {
		if err := l.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := l.Load(ctx, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range snap.Recs {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "e1-1,old-1,e1-2" || snap.Recs[2].Duration != time.Second || !snap.Recs[0].At.Equal(at) {
		t.Fatalf("Load records = %s (%+v); want e1-1,old-1,e1-2", got, snap.Recs)
	}
	var rows int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM acd_recs`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("acd_recs rows after Load = %d, %v; want the one batch (the stale row deleted, the repeat not stored)", rows, err)
	}
}

// A single node after a cluster (cluster.enabled turned off): the store's
// QueueRecs, which the node restores its figures from, returns the
// leaders' records (acd_recs) with its own (queue_recs), in (at, id)
// order, those before since left out and a row wholly before it deleted.
func TestQueueRecsAfterCluster(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	l, err := c.TryLead(ctx, "a")
	if err != nil || l == nil {
		t.Fatalf("TryLead = %v, %v", l, err)
	}
	for _, b := range []*postgres.Batch{
		{Recs: []store.QueueRec{{ID: "e1-0", Queue: "q", At: at.Add(-47 * time.Hour), Kind: store.RecJoined, CallID: "cy"}}},
		{Recs: []store.QueueRec{{ID: "e1-1", Queue: "q", At: at, Kind: store.RecJoined, CallID: "c1"},
			{ID: "e1-2", Queue: "q", At: at.Add(2 * time.Second), Kind: store.RecAnswered, CallID: "c1", Duration: time.Second, Agent: "ann"}}},
	} {
		if err := l.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	s, err := postgres.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AppendQueueRecs(ctx, []store.QueueRec{{ID: "n-1", Queue: "q", At: at.Add(time.Second), Kind: store.RecJoined, CallID: "c2"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueueRecs(ctx, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if g := strings.Join(ids, ","); g != "e1-1,n-1,e1-2" || got[2].Duration != time.Second || got[2].Agent != "ann" || !got[0].At.Equal(at) {
		t.Fatalf("QueueRecs = %s (%+v); want e1-1,n-1,e1-2", g, got)
	}
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var rows int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM acd_recs`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("acd_recs rows after QueueRecs = %d, %v; want 1 (the stale one deleted)", rows, err)
	}
}

// With BeatEvery, a commit writes acd_leader's beat only when it is older
// than that (migration 0024), and it is fenced all the same when it only
// locks the row.
func TestClusterCommitBeatEvery(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	l, err := c.TryLead(ctx, "a")
	if err != nil || l == nil {
		t.Fatalf("TryLead = %v, %v", l, err)
	}
	defer l.Close()
	l.BeatEvery = time.Hour
	beatAge := func() time.Duration {
		t.Helper()
		pc, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close(context.Background())
		var secs float64
		if err := pc.QueryRow(ctx, `SELECT extract(epoch FROM now() - beat)::float8 FROM acd_leader WHERE id = 1`).Scan(&secs); err != nil {
			t.Fatal(err)
		}
		return time.Duration(secs * float64(time.Second))
	}
	exec(t, url, `UPDATE acd_leader SET beat = now() - interval '1 minute'`)
	if err := l.Commit(ctx, &postgres.Batch{DelEntries: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if age := beatAge(); age < time.Minute {
		t.Fatalf("beat %s old after a commit with a beat younger than BeatEvery; want it left at 1 min", age)
	}
	exec(t, url, `UPDATE acd_leader SET beat = now() - interval '2 hours'`)
	if err := l.Commit(ctx, &postgres.Batch{DelEntries: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if age := beatAge(); age > time.Minute {
		t.Fatalf("beat %s old after a commit with a beat older than BeatEvery; want it written", age)
	}
	exec(t, url, `UPDATE acd_leader SET epoch = epoch + 1, beat = now()`)
	if err := l.Commit(ctx, &postgres.Batch{DelEntries: []string{"x"}}); !errors.Is(err, postgres.ErrFenced) {
		t.Fatalf("Commit of a superseded epoch with a fresh beat = %v; want ErrFenced", err)
	}
}

// TestClusterFenceOneArgument: a leader still on the previous binary during
// a rolling upgrade calls acd_fence(epoch); it must keep fencing (and beat)
// as before, or that leader stops committing until it is deposed.
func TestClusterFenceOneArgument(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	l, err := c.TryLead(ctx, "old")
	if err != nil || l == nil {
		t.Fatalf("TryLead = %v, %v", l, err)
	}
	defer l.Close()
	pc, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	exec(t, url, `UPDATE acd_leader SET beat = now() - interval '1 minute'`)
	var got int64
	if err := pc.QueryRow(ctx, `SELECT acd_fence($1)`, l.Epoch).Scan(&got); err != nil || got != l.Epoch {
		t.Fatalf("acd_fence(%d) = %d, %v", l.Epoch, got, err)
	}
	var secs float64
	if err := pc.QueryRow(ctx, `SELECT extract(epoch FROM now() - beat)::float8 FROM acd_leader WHERE id = 1`).Scan(&secs); err != nil || secs > 30 {
		t.Fatalf("beat %.0f s old after the one-argument fence (%v); want it written", secs, err)
	}
	if _, err := pc.Exec(ctx, `SELECT acd_fence($1)`, l.Epoch+1); err == nil || !strings.Contains(err.Error(), "epoch") {
		t.Fatalf("acd_fence of a wrong epoch = %v; want the epoch error", err)
	}
}

// A beat aside (on the pool) is what keeps a leader whose lock's connection
// waits inside one long statement from being deposed: it writes the beat
// while Load is blocked, and it is fenced by the epoch and by the lock, so
// a superseded leader, or one whose lock's session is gone, writes nothing.
func TestClusterBeatAside(t *testing.T) {
	c, url := openCluster(t)
	ctx := t.Context()
	l1, err := c.TryLead(ctx, "a")
	if err != nil || l1 == nil {
		t.Fatalf("TryLead = %v, %v", l1, err)
	}
	defer l1.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	stale := func() bool {
		t.Helper()
		var old bool
		if err := conn.QueryRow(ctx, `SELECT beat < now() - interval '30 seconds' FROM acd_leader WHERE id = 1`).Scan(&old); err != nil {
			t.Fatal(err)
		}
		return old
	}

	// The lock's connection waits on a table lock inside Load.
	release := pgtest.HoldTable(t, url, "acd_entries")
	loaded := make(chan error, 1)
	go func() { _, err := l1.Load(ctx, time.Now().Add(-time.Hour)); loaded <- err }()
	pgtest.WaitLeaderWaits(t, url, "acd_entries")
	exec(t, url, `UPDATE acd_leader SET beat = now() - interval '1 minute'`)
	if err := l1.BeatAside(ctx); err != nil {
		t.Fatalf("BeatAside while Load waits = %v", err)
	}
	if ok, err := c.Depose(ctx, 10*time.Second); err != nil || ok {
		t.Fatalf("Depose right after a beat aside = %v, %v; want false", ok, err)
	}
	release()
	if err := <-loaded; err != nil {
		t.Fatalf("Load after the table lock's release = %v", err)
	}

	exec(t, url, `UPDATE acd_leader SET epoch = epoch + 1, beat = now() - interval '1 minute'`)
	if err := l1.BeatAside(ctx); !errors.Is(err, postgres.ErrFenced) || !stale() {
		t.Fatalf("BeatAside of a superseded epoch = %v (beat stale %v); want ErrFenced, nothing written", err, stale())
	}
	exec(t, url, `UPDATE acd_leader SET epoch = epoch - 1`)

	// The epoch is l1's again, but its session is gone (and with it the lock).
	l1.Kill()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var held bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND objid = hashtext(current_schema())::oid AND objsubid = 2)`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed leader's lock still held after 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling the server's view with a bound
	}
	if err := l1.BeatAside(ctx); !errors.Is(err, postgres.ErrFenced) || !stale() {
		t.Fatalf("BeatAside of a leader whose session is gone = %v (beat stale %v); want ErrFenced, nothing written", err, stale())
	}
}
