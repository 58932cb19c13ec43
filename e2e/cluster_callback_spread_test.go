package e2e

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/testcall"
)

// Callbacks dialled by any live node (docs/cluster.md, "Callbacks in a
// cluster"): the leader (a) carries a caller in its IVR, so its heartbeat
// reports one call and node b, idle, is the least loaded. The leader's
// scheduler assigns the callback's call to b: b's process places the
// INVITE (the customer's RTP comes from b's media ports, the attempt is
// claimed "b/dial/..."), the customer confirms and rejoins the queue
// through b, and agent x (registered through b) hears the customer.
// Completed by x, one call. Ports as in cluster_callback_test.go.
func TestClusterCallbackPlacedByFollower(t *testing.T) {
	cl := callbackCluster(t, cbSetup{agent: true, listen: []float64{660}})
	url, line, phone, a, b := cl.url, cl.line, cl.phone, cl.a, cl.b
	ctx := within(t, 90*time.Second)

	// A caller in a's IVR (the e2e flow's menus, about 35 s with a 1 at
	// 7 s), until a's heartbeat says so.
	held := make(chan error, 1)
	go func() {
		_, err := testcall.Run(ctx, testcall.Options{URI: "sip:200@" + a.sipAddr("udp"), From: "0281234567",
			Digits: mustSchedule(t, "1@7s"), Duration: 45 * time.Second}, io.Discard)
		held <- err
	}()
	waitNodeCalls(t, url, map[string]int{"a": 1, "b": 0}, 10*time.Second)

	cb := requestCallback(t, a, "0912 345 678", "technical")
	inv := line.NextInvite(t, within(t, 30*time.Second))
	call := line.NextCall(t, within(t, 10*time.Second))
	greeting := listenFor(25)
	call.Media().SetAudioSink(greeting.sink)
	select {
	case <-greeting.heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the customer heard no greeting")
	}
	// The customer's media is b's: its RTP comes from b's port range.
	if peer := call.Media().Stats().RemoteAddr; !inRange(peer, 23000, 25998) {
		t.Errorf("the customer's RTP comes from %s, want node b's ports 23000-25998", peer)
	}
	call.Press(t, within(t, 5*time.Second), '1')
	xCall := phone.NextCall(t, within(t, 20*time.Second)) // rung by b, through b's registration
	xCall.Heard(t, within(t, 10*time.Second), 660, "x hears the customer")
	b.callbackEvent(cb.ID, callback.EventConnected, 20*time.Second) // published by the node that placed the call
	call.Hangup(t, within(t, 5*time.Second))
	xCall.WaitEnded(t, within(t, 10*time.Second), "x's leg after the customer hung up")
	a.callbackEvent(cb.ID, callback.EventCompleted, 30*time.Second)

	done := getCallback(t, a, cb.ID)
	if done.Status != callback.Status(store.CallbackCompleted) || len(done.Calls) != 1 {
		t.Fatalf("callback: status %s calls %+v, want completed after one call", done.Status, done.Calls)
	}
	c := done.Calls[0]
	if c.Result != store.AttemptCompleted || c.Agent != "x" || c.CallID != inv.CallID || !strings.HasPrefix(c.ClaimedBy, "b/dial/") {
		t.Errorf("the call: %+v; want completed by x, Call-ID %s, claimed for node b (b/dial/...)", c, inv.CallID)
	}
	noMoreInvites(t, line)
	if err := <-held; err != nil {
		t.Errorf("the caller in a's IVR: %v", err)
	}
}

// waitNodeCalls polls acd_nodes until each node's heartbeat reports want
// calls (bounded by d).
func waitNodeCalls(t *testing.T, url string, want map[string]int, d time.Duration) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	must(t, err)
	defer conn.Close(context.Background())
	got := map[string]int{}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		rows, err := conn.Query(t.Context(), `SELECT id, calls FROM acd_nodes`)
		must(t, err)
		ok := true
		for rows.Next() {
			var id string
			var n int
			must(t, rows.Scan(&id, &n))
			got[id] = n
		}
		rows.Close()
		for id, n := range want {
			if got[id] != n {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the database, bounded by d
	}
	t.Fatalf("node calls %v after %s, want %v", got, d, want)
}

func inRange(ap netip.AddrPort, lo, hi uint16) bool { return ap.Port() >= lo && ap.Port() <= hi }
