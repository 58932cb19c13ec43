package callback_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// TestNodeLostClaimRetriedOnce is the database guard a cluster's callback
// failover rests on (docs/cluster.md, "Callbacks in a cluster"): node a
// claims a callback and is dialling it when it dies (its database handle
// goes first, so nothing of its shutdown reaches the store, as with a
// kill -9). Two survivors then recover the dead boot's claims at once (two
// nodes racing for the lead after the old leader's lock was freed): the
// attempt is marked interrupted exactly once, whichever wins, the other's
// conditional update finds it already finished. The next scheduler dials
// it once more (attempt 2), and only once.
func TestNodeLostClaimRetriedOnce(t *testing.T) {
	url := pgtest.Schema(t)
	ctx := context.Background()
	open := func() store.Store {
		db, err := storeopen.Open(ctx, url, store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	cb, first := claimAndDie(t, url)
	// Two survivors recover at once.
	var wg sync.WaitGroup
	recovered := make([][]store.Callback, 2)
	errs := make([]error, 2)
	for i, boot := range []string{"node-b", "node-c"} {
		db := open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			recovered[i], errs[i] = db.(store.Callbacks).RecoverCallbacks(ctx, store.CallbackRecovery{Boot: boot, At: time.Now(), Reason: "node-lost"})
		}()
	}
	wg.Wait()
	n := 0
	for i := range recovered {
		n += len(recovered[i])
	}
	if n != 1 {
		t.Fatalf("the dead node's claim was recovered %d times (errors %v)", n, errs)
	}
	if errs[0] != nil && errs[1] != nil {
		t.Fatalf("both survivors failed: %v", errs)
	}

	redialOnce(t, url, "", cb, first)
}

// claimAndDie: node a claims one callback and is dialling it when it dies.
func claimAndDie(t *testing.T, url string, node ...string) (callback.Callback, *callbacktest.Call) {
	t.Helper()
	ctx := context.Background()
	open := func() store.Store {
		db, err := storeopen.Open(ctx, url, store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}

	// Node a: one callback, claimed and dialling.
	dbA := open()
	offers := make(chan callback.Waiting, 10)
	acdA := callbacktest.NewACD()
	acdA.OnOffer = func(w callback.Waiting) { offers <- w }
	dialA := callbacktest.NewDialer(10)
	sA, err := callback.New(callback.Config{Store: dbA.(store.Callbacks), Queues: crashQueues(), Policy: policy(t), ACD: acdA,
		Dialer: dialA, Limits: config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}, Boot: "node-a",
		Node: strings.Join(node, "")})
	if err != nil {
		t.Fatal(err)
	}
	runA := make(chan error, 1)
	go func() { runA <- sA.Run(ctx) }()
	select {
	case <-sA.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("node a's scheduler not ready")
	}
	cb, err := sA.Request(ctx, callback.Request{Source: store.SourceVirtualHold, Queue: "technical", Number: "+84912300001",
		Caller: "+84912300001", JoinedAt: time.Now().Add(-time.Minute), CallID: "nodelost-1", FromTag: "ft"})
	if err != nil {
		t.Fatal(err)
	}
	takeOffers(t, offers, 1)
	if _, _, err := acdA.DialHead(ctx, sA, "technical", 1); err != nil {
		t.Fatal(err)
	}
	var first *callbacktest.Call
	select {
	case first = <-dialA.Calls:
	case <-time.After(30 * time.Second):
		t.Fatal("node a did not dial")
	}
	// Node a dies: its store first, so its shutdown writes nothing.
	_ = dbA.Close()
	_ = sA.Close()
	<-runA // an error or not: the database was gone

	probe := open()
	row, err := probe.(store.Callbacks).GetCallback(ctx, cb.ID)
	_ = probe.Close()
	if err != nil || row.State == store.CallbackWaiting || len(row.Calls) != 1 || row.Calls[0].Result != "" {
		t.Fatalf("after node a died the claim must still be open: %+v, %v", row, err)
	}

	return cb, first
}

// redialOnce: the new leader's scheduler (recovering with reason, when
// not "") dials the callback once more, attempt 2, and only once.
func redialOnce(t *testing.T, url, reason string, cb callback.Callback, first *callbacktest.Call) {
	t.Helper()
	ctx := context.Background()
	s, acd, dialer, db, offersB := startLeader(t, url, reason)
	takeOffers(t, offersB, 1)
	if _, _, err := acd.DialHead(ctx, s, "technical", 1); err != nil {
		t.Fatal(err)
	}
	var again *callbacktest.Call
	select {
	case again = <-dialer.Calls:
	case <-time.After(30 * time.Second):
		t.Fatal("the interrupted callback was not dialled again")
	}
	if again.Req.CallbackID != cb.ID || again.Req.Attempt != 2 || again.Req.CallID == first.Req.CallID {
		t.Fatalf("the retry: %+v", again.Req)
	}
	again.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
	deadline := time.Now().Add(30 * time.Second)
	var row *store.Callback
	for {
		var err error
		row, err = db.(store.Callbacks).GetCallback(ctx, cb.ID)
		if err == nil && row.State == store.CallbackCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not completed: %+v, %v", row, err)
		}
		time.Sleep(10 * time.Millisecond) // polling the store, bounded
	}
	if len(row.Calls) != 2 || row.Calls[0].Result != store.AttemptInterrupted || row.Calls[0].Reason != "node-lost" ||
		row.Calls[1].Result != store.AttemptCompleted || row.Interrupted != 1 {
		t.Fatalf("attempt rows: %+v (interrupted %d)", row.Calls, row.Interrupted)
	}
	if d := len(dialer.Dialled()); d != 1 {
		t.Fatalf("dialled %d times after the failover, want 1", d)
	}
}

// TestNewLeaderRecoversNodeLost: no survivor raced; the new leader's
// scheduler recovers the dead node's claim at its start, reason node-lost.
func TestNewLeaderRecoversNodeLost(t *testing.T) {
	url := pgtest.Schema(t)
	cb, first := claimAndDie(t, url)
	redialOnce(t, url, "node-lost", cb, first)
}

// startLeader is startScheduler with Config.RecoveryReason.
func startLeader(t *testing.T, url, reason string, node ...string) (*callback.Scheduler, *callbacktest.ACD, *callbacktest.Dialer, store.Store, chan callback.Waiting) {
	t.Helper()
	db, err := storeopen.Open(context.Background(), url, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	offers := make(chan callback.Waiting, 100)
	acd := callbacktest.NewACD()
	acd.OnOffer = func(w callback.Waiting) { offers <- w }
	dialer := callbacktest.NewDialer(100)
	s, err := callback.New(callback.Config{Store: db.(store.Callbacks), Queues: crashQueues(), Policy: policy(t), ACD: acd, Dialer: dialer,
		Limits: config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}, RecoveryReason: reason, Node: strings.Join(node, "")})
	if err != nil {
		t.Fatal(err)
	}
	run := make(chan error, 1)
	go func() { run <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-run; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = db.Close()
	})
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("scheduler not ready")
	}
	return s, acd, dialer, db, offers
}

// TestRecoverNodeLeavesLiveNodes: in a cluster (Config.Node) a start
// recovers only its own node's claims, so the new leader leaves both a
// dead node's claim (not declared lost yet: it may still be up, cut off)
// and a live node's alone; RecoverNode takes the dead one's once it is
// declared lost, once cluster-wide, and the live node's call is untouched.
func TestRecoverNodeLeavesLiveNodes(t *testing.T) {
	url := pgtest.Schema(t)
	ctx := context.Background()
	dead, _ := claimAndDie(t, url, "a")

	// Node c is alive and dialling another callback.
	sC, acdC, dialC, dbC, offersC := startLeader(t, url, "node-lost", "c")
	live, err := sC.Request(ctx, callback.Request{Source: store.SourceVirtualHold, Queue: "technical", Number: "+84912300002",
		Caller: "+84912300002", JoinedAt: time.Now(), CallID: "nodelost-2", FromTag: "ft"})
	if err != nil {
		t.Fatal(err)
	}
	takeOffers(t, offersC, 1)
	if w, _, err := acdC.DialHead(ctx, sC, "technical", 1); err != nil || w.ID != live.ID {
		t.Fatalf("node c dials %d, %v; want %d", w.ID, err, live.ID)
	}
	var liveCall *callbacktest.Call
	select {
	case liveCall = <-dialC.Calls:
	case <-time.After(30 * time.Second):
		t.Fatal("node c did not dial")
	}

	// Node b leads: its start takes neither claim.
	sB, acdB, dialB, _, offersB := startLeader(t, url, "node-lost", "b")
	for _, id := range []int64{dead.ID, live.ID} {
		row, err := dbC.(store.Callbacks).GetCallback(ctx, id)
		if err != nil || row.State != store.CallbackDialling || row.Calls[len(row.Calls)-1].Result != "" {
			t.Fatalf("callback %d after node b's start: %+v, %v", id, row, err)
		}
	}
	if l := acdB.Line("technical"); len(l) != 0 {
		t.Fatalf("node b offered %v", ids(l))
	}

	// Node a is declared lost: b and c both recover it (b leads; c is a
	// would-be leader racing it). One recovery in all.
	var wg sync.WaitGroup
	got := make([]int, 2)
	errs := make([]error, 2)
	for i, s := range []*callback.Scheduler{sB, sC} {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = s.RecoverNode(ctx, "a") }()
	}
	wg.Wait()
	if got[0]+got[1] != 1 || (errs[0] != nil && errs[1] != nil) {
		t.Fatalf("node a's claim recovered %v times (errors %v)", got, errs)
	}
	if _, err := sB.RecoverNode(ctx, "b"); err == nil {
		t.Fatal("a node recovered its own claims as a lost node's")
	}
	// The winner offers it; b dials it (c's fake ACD may have it too, so
	// dial through whichever got it: the store lets one claim win).
	winner, acd, dialer, offers := sB, acdB, dialB, offersB
	if got[1] == 1 {
		winner, acd, dialer, offers = sC, acdC, dialC, offersC
	}
	takeOffers(t, offers, 1)
	if w, _, err := acd.DialHead(ctx, winner, "technical", 2); err != nil || w.ID != dead.ID {
		t.Fatalf("redial %d, %v; want %d", w.ID, err, dead.ID)
	}
	var again *callbacktest.Call
	select {
	case again = <-dialer.Calls:
	case <-time.After(30 * time.Second):
		t.Fatal("the dead node's callback was not dialled again")
	}
	if again.Req.CallbackID != dead.ID || again.Req.Attempt != 2 {
		t.Fatalf("the retry: %+v", again.Req)
	}
	row, err := dbC.(store.Callbacks).GetCallback(ctx, dead.ID)
	if err != nil || len(row.Calls) != 2 || row.Calls[0].Result != store.AttemptInterrupted || row.Calls[0].Reason != "node-lost" ||
		row.Calls[0].ClaimedBy != "a/node-a" || row.Calls[1].Result != "" {
		t.Fatalf("the dead node's callback: %+v, %v", row, err)
	}
	row, err = dbC.(store.Callbacks).GetCallback(ctx, live.ID)
	if err != nil || row.State != store.CallbackDialling || len(row.Calls) != 1 || row.Calls[0].Result != "" {
		t.Fatalf("the live node's call was touched: %+v, %v", row, err)
	}
	again.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
	liveCall.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
}
