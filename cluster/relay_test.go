package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// Events published on node a reach node b's event stream (SubscribeAll)
// once each, in a's order, with a as their origin and a's sequence; a
// body too large for a notification goes by reference to a row. b's
// metrics-style subscribers (Subscribe, Observe) never see them, and a
// does not get its own events back. A third node sees both others'.
func TestRelayEventsEveryNode(t *testing.T) {
	url := pgtest.Schema(t)
	type relayRun struct {
		bus   *events.Bus
		r     *cluster.Relay
		all   *events.Subscription
		local *events.Subscription
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 3)
	start := func(id string) *relayRun {
		bus := events.NewBus()
		r := cluster.NewRelay(cluster.RelayConfig{Node: id, DB: openDB(t, url), Bus: bus})
		rr := &relayRun{bus: bus, r: r, all: bus.SubscribeAll(1024), local: bus.Subscribe(1024)}
		go func() { done <- r.Run(ctx) }()
		select {
		case <-r.Ready():
		case <-time.After(10 * time.Second):
			t.Fatalf("relay %s not ready within 10 s", id)
		}
		return rr
	}
	a, b, c := start("a"), start("b"), start("c")
	defer func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("relay Run = %v", err)
			}
		}
	}()
	observed := 0
	stop := b.bus.Observe(func(events.Event) { observed++ })
	defer stop()

	big := strings.Repeat("x", postgres.MaxInlineEvent+100)
	const n = 50
	for i := 1; i <= n; i++ {
		e := events.Event{Type: events.QueueJoined, CallID: fmt.Sprintf("c%d", i), Queue: "sales",
			Payload: map[string]int64{"id": 1<<60 + int64(i)}} // beyond a float64's precision
		if i == 7 || i == 8 {
			e.Payload = map[string]string{"note": big} // by reference
		}
		a.bus.Publish(e)
	}
	c.bus.Publish(events.Event{Type: events.CallStarted, CallID: "from-c"})
	a.bus.Publish(events.Event{Type: events.CallEnded, CallID: "last"}) // after it, nothing more from a

	next := func(s *events.Subscription, who string) events.Event {
		t.Helper()
		select {
		case e := <-s.C:
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no event within 10 s", who)
		}
		return events.Event{}
	}
	var fromA []events.Event
	sawC := false
	var lastSeq uint64
	for len(fromA) < n+1 || !sawC {
		e := next(b.all, "b")
		if e.Seq <= lastSeq {
			t.Fatalf("b's stream seq %d after %d", e.Seq, lastSeq)
		}
		lastSeq = e.Seq
		switch e.Origin {
		case "a":
			fromA = append(fromA, e)
		case "c":
			if e.CallID != "from-c" || sawC {
				t.Fatalf("from c: %+v", e)
			}
			sawC = true
		default:
			t.Fatalf("b's stream: event of origin %q: %+v", e.Origin, e)
		}
	}
	for i, e := range fromA[:n] {
		if e.OriginSeq != uint64(i+1) || e.CallID != fmt.Sprintf("c%d", i+1) || e.Type != events.QueueJoined || e.Queue != "sales" {
			t.Fatalf("event %d from a on b: %+v", i+1, e)
		}
		raw, _ := e.Payload.(json.RawMessage)
		if i+1 != 7 && i+1 != 8 && string(raw) != fmt.Sprintf(`{"id":%d}`, 1<<60+int64(i+1)) {
			t.Fatalf("event %d's payload on b: %s", i+1, raw)
		}
		if i+1 == 7 || i+1 == 8 {
			raw, _ := e.Payload.(json.RawMessage)
			if string(raw) != `{"note":"`+big+`"}` {
				t.Fatalf("large event %d arrived without its payload (%d bytes)", i+1, len(raw))
			}
		}
	}
	if e := fromA[n]; e.CallID != "last" || e.OriginSeq != n+1 {
		t.Fatalf("last event from a on b: %+v", e)
	}
	// Order per origin holds, so nothing from a can still be on its way:
	// a duplicate would have come before "last".
	select {
	case e := <-b.all.C:
		t.Fatalf("b's stream: one event too many %+v", e)
	default:
	}
	select {
	case e := <-b.local.C:
		t.Fatalf("b's local subscription got %+v: another node's event", e)
	default:
	}
	if observed != 0 {
		t.Fatalf("b's observer saw %d other nodes' events", observed)
	}

	// a's stream: its own events once (local), c's once (remote).
	own, fromC := 0, 0
	for own < n+1 || fromC < 1 {
		e := next(a.all, "a")
		switch e.Origin {
		case "a":
			own++
		case "c":
			fromC++
		default:
			t.Fatalf("a's stream: %+v", e)
		}
	}
	// c heard from a too; it sends a marker that reaches a after anything
	// c relayed, so a hears no echo of its own events through c.
	c.bus.Publish(events.Event{Type: events.CallEnded, CallID: "marker"})
	for {
		e := next(a.all, "a")
		if e.Origin == "a" {
			t.Fatalf("a got its own event back: %+v", e)
		}
		if e.CallID == "marker" {
			break
		}
	}
	for got := 0; got < n+1; {
		if e := next(c.all, "c"); e.Origin == "a" {
			got++
		}
	}

	// The two large events went by reference to stored rows.
	pc, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var stored int
	if err := pc.QueryRow(ctx, `SELECT count(*) FROM acd_events WHERE node = 'a'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 2 {
		t.Fatalf("%d stored events of a; want the 2 large ones", stored)
	}
	if e := next(b.all, "b"); e.CallID != "marker" {
		t.Fatalf("b's stream: %+v; want c's marker", e)
	}
	if sent, got, dropped := b.r.Counts(); sent != 0 || got != n+3 || dropped != 0 { // a's n+1, c's two
		t.Fatalf("b's counts: sent %d, received %d, dropped %d", sent, got, dropped)
	}
}

// terminateBackends ends every session of the application name app (a
// test's own connections, on the shared server) and reports how many; with
// listeners, only the LISTENing ones.
func terminateBackends(t *testing.T, url, app string, listeners bool) int {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	err = c.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid() AND (NOT $2 OR query LIKE 'LISTEN%')) x`, app, listeners).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A relay whose connections are killed (the server restarted, a proxy
// dropped them) listens again and relays both ways: what was published
// while it was away is missed, as documented, but nothing after it, and
// the order holds.
func TestRelayReconnects(t *testing.T) {
	app := fmt.Sprintf("relaytest%d", time.Now().UnixNano())
	url := pgtest.Schema(t) + "&application_name=" + app
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	type relayRun struct {
		id  string
		bus *events.Bus
		r   *cluster.Relay
		all *events.Subscription
	}
	start := func(id string) *relayRun {
		bus := events.NewBus()
		r := cluster.NewRelay(cluster.RelayConfig{Node: id, DB: openDB(t, url), Bus: bus})
		go func() { done <- r.Run(ctx) }()
		select {
		case <-r.Ready():
		case <-time.After(10 * time.Second):
			t.Fatalf("relay %s not ready within 10 s", id)
		}
		return &relayRun{id: id, bus: bus, r: r, all: bus.SubscribeAll(4096)}
	}
	a, b := start("a"), start("b")
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("relay Run = %v", err)
			}
		}
	}()
	// reaches sends probes from one relay until the other hears one (its
	// listener is back), then a numbered run that must arrive whole and
	// in order.
	reaches := func(from, to *relayRun, round string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for probe, heard := 0, false; !heard; probe++ {
			from.bus.Publish(events.Event{Type: events.CallStarted, CallID: fmt.Sprintf("%s-probe-%d", round, probe)})
			wait := time.After(100 * time.Millisecond)
		drain:
			for !heard {
				select {
				case e := <-to.all.C:
					heard = strings.HasPrefix(e.CallID, round+"-probe-")
				case <-wait:
					break drain
				}
			}
			if !heard && time.Now().After(deadline) {
				t.Fatalf("%s: relay never heard the other node again within 20 s", round)
			}
		}
		const n = 20
		for i := range n {
			from.bus.Publish(events.Event{Type: events.QueueJoined, CallID: fmt.Sprintf("%s-%d", round, i)})
		}
		for i := 0; i < n; {
			select {
			case e := <-to.all.C:
				if strings.Contains(e.CallID, "-probe-") || e.Origin != from.id {
					continue // a late probe, or the receiver's own events
				}
				if want := fmt.Sprintf("%s-%d", round, i); e.CallID != want {
					t.Fatalf("%s: event %q; want %q (lost or out of order)", round, e.CallID, want)
				}
				i++
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: event %d of %d not relayed within 10 s", round, i, n)
			}
		}
	}
	reaches(a, b, "before")
	for round := range 2 {
		// Listeners only, then every connection (the pools' too).
		if k := terminateBackends(t, url, app, round == 0); k < 2 {
			t.Fatalf("round %d: %d sessions ended; want the two relays' listeners at least", round, k)
		}
		reaches(a, b, fmt.Sprintf("a-to-b-%d", round))
		reaches(b, a, fmt.Sprintf("b-to-a-%d", round))
	}
}
