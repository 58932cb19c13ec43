package e2e

import (
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// A restart as a supervisor sees it (issue 11, "State that survives"),
// with real calls, on both stores. Before: agent x's phone registers,
// x, y and z log in, z pauses for lunch, a caller in technical is answered
// by y (still on that call when the server stops), y is taken out of
// technical and x (a sales agent by configuration) put in through the
// API, and a caller gives up waiting. A new server on the same database
// then shows the same agents (y free again, z paused for lunch), the same
// "today" and calls today, and offers the next technical caller to x's
// phone — without it registering again — which answers and is bridged;
// y, logged in and free, is never offered it.
func TestRestartKeepsFloorMembershipAndRegistration(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { restartFloor(t, "sqlite:"+filepath.Join(t.TempDir(), "hotline.db")) })
	t.Run("postgres", func(t *testing.T) { restartFloor(t, pgtest.Schema(t)) })
}

// agentView is what GET /api/v1/agents says of one agent.
type agentView struct {
	ID         string         `json:"id"`
	Presence   string         `json:"presence"`
	Reason     string         `json:"reason"`
	Activity   string         `json:"activity"`
	Queues     map[string]int `json:"queues"`
	CallsToday int            `json:"calls_today"`
	StateSince time.Time      `json:"state_since"`
	Misses     int            `json:"misses"`
	Answered   int            `json:"answered"`
}

// queueToday is the part of GET /api/v1/queues/{name} a restart must keep.
type queueToday struct {
	Windows []struct {
		Joined    int `json:"joined"`
		Answered  int `json:"answered"`
		Abandoned int `json:"abandoned"`
		Exited    int `json:"exited"`
	} `json:"windows"`
	Members []struct {
		Agent   string `json:"agent"`
		Penalty int    `json:"penalty"`
	} `json:"members"`
}

func restartFloor(t *testing.T, dbURL string) {
	leakCheck(t)
	// Both phones live across the restart, as desk phones do.
	phoneX := phonetest.New(t, 30000, 30498, 440, 1000)
	phoneY := phonetest.New(t, 30500, 30998, 550)
	cfg := func(c *config.Config) {
		c.Database.URL = dbURL
		c.Agents = []config.Agent{
			{ID: "x", Name: "Xuan", Username: "x", Password: "pw-x", Queues: map[string]int{"sales": 0}},
			{ID: "y", Name: "Yen", URI: phoneY.URI("y"), Queues: map[string]int{"technical": 0}},
			{ID: "z", Name: "Zung", URI: "sip:z@127.0.0.1:9", Queues: map[string]int{"technical": 0}},
		}
		c.Allow.Hosts = []string{"127.0.0.1"}
		c.SIP.DrainTime = time.Second // the stop cuts y's call with A short
		q := c.Queues["technical"]
		q.WrapUp = time.Minute // and y enters a wrap-up that the restart must not keep
		c.Queues["technical"] = q
	}
	h := start(t, cfg)
	ctx := within(t, 60*time.Second)
	status, err := phoneX.Register(ctx, h.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x: %d", status)
	}
	for _, s := range []struct{ agent, body string }{
		{"x", `{"state":"login"}`}, {"y", `{"state":"login"}`}, {"z", `{"state":"login"}`},
		{"z", `{"state":"pause","reason":"lunch"}`},
	} {
		if code, _, body := apiDo(t, h, "POST", "/api/v1/agents/"+s.agent+"/state", s.body); code != 200 {
			t.Fatalf("%s %s: %d %s", s.agent, s.body, code, body)
		}
	}

	// Answered: the first caller in technical reaches y.
	_, a, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0911000001"})
	h.waitEvent(10*time.Second, "caller A bridged to y", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == a.ID() && e.Agent == "y"
	})
	yCall := phoneY.NextCall(t, within(t, 5*time.Second))
	// y stays on the call with A until the server stops.

	// Membership through the API: y out of technical, x in.
	if code, _, body := apiDo(t, h, "DELETE", "/api/v1/queues/technical/members/y", ""); code != 204 {
		t.Fatalf("DELETE y from technical: %d %s", code, body)
	}
	if code, _, body := apiDo(t, h, "PUT", "/api/v1/queues/technical/members/x", `{"penalty":2}`); code != 201 {
		t.Fatalf("PUT x into technical: %d %s", code, body)
	}

	// Abandoned: x is in technical but pausing makes nobody free; the
	// caller hangs up while waiting.
	if code, _, body := apiDo(t, h, "POST", "/api/v1/agents/x/state", `{"state":"pause","reason":"coffee"}`); code != 200 {
		t.Fatalf("pause x: %d %s", code, body)
	}
	_, b, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0911000002"})
	h.waitEvent(10*time.Second, "caller B waiting", func(e events.Event) bool {
		return e.Type == events.QueueJoined && e.CallID == b.ID()
	})
	must(t, b.Hangup(ctx))
	h.waitEvent(10*time.Second, "caller B abandoned", func(e events.Event) bool {
		return e.Type == events.QueueLeft && e.CallID == b.ID() && payload[queue.Left](e).Reason == queue.ReasonAbandoned
	})
	if code, _, body := apiDo(t, h, "POST", "/api/v1/agents/x/state", `{"state":"ready"}`); code != 200 {
		t.Fatalf("x ready: %d %s", code, body)
	}

	agentsBefore := agentsByID(t, h)
	var techBefore queueToday
	apiGetJSON(t, h, "/api/v1/queues/technical", &techBefore)
	if y := agentsBefore["y"]; y.Activity != "on_call" || y.CallsToday != 1 {
		t.Fatalf("y before the restart: %+v, want on the call with A", y)
	}
	if w := techBefore.Windows[1]; w.Joined != 2 || w.Answered != 1 || w.Abandoned != 1 {
		t.Fatalf("technical today before the restart: %+v", w)
	}
	h.shutdown() // the drain time ends A's call: BYE to both sides
	yCall.WaitEnded(t, within(t, 5*time.Second), "y's leg after the stop")
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("caller A not hung up by the stop")
	}

	// What the first run left for x's phone: its own address, as source
	// and contact, an hour to live.
	func() {
		st, err := storeopen.Open(t.Context(), dbURL, store.Options{})
		must(t, err)
		defer st.Close()
		bs, err := st.(store.Runtime).Bindings(t.Context(), time.Now())
		must(t, err)
		if len(bs) != 1 || len(bs[0].Contacts) != 1 || bs[0].Contacts[0].Source != phoneX.Addr() ||
			bs[0].Contacts[0].URI != phoneX.URI("x") || time.Until(bs[0].Contacts[0].Expires) < 50*time.Minute {
			t.Fatalf("saved bindings %+v, want x's phone at %s for an hour", bs, phoneX.Addr())
		}
	}()

	h2 := start(t, cfg)
	agentsAfter := agentsByID(t, h2)
	want := map[string][3]string{ // presence, reason, activity
		"x": {"available", "", "idle"},
		"y": {"available", "", "idle"}, // its call (and wrap-up) did not survive: free, not on a call forever
		"z": {"paused", "lunch", "idle"},
	}
	for id, w := range want {
		got := agentsAfter[id]
		if got.Presence != w[0] || got.Reason != w[1] || got.Activity != w[2] {
			t.Errorf("%s after the restart: %+v, want presence %s reason %q activity %s", id, got, w[0], w[1], w[2])
		}
		if before := agentsBefore[id]; got.CallsToday != before.CallsToday || !maps.Equal(got.Queues, before.Queues) {
			t.Errorf("%s after the restart: calls today %d queues %v, before %d %v", id, got.CallsToday, got.Queues, before.CallsToday, before.Queues)
		}
	}
	// z has been paused for lunch since before the restart; y's time as
	// available starts again (what it was doing did not survive), and
	// "answered" counts since this start.
	if z, was := agentsAfter["z"], agentsBefore["z"]; !z.StateSince.Equal(was.StateSince.Truncate(time.Microsecond)) { // the database keeps µs
		t.Errorf("z paused since %v after the restart, %v before", z.StateSince, was.StateSince)
	}
	if y := agentsAfter["y"]; !y.StateSince.After(agentsBefore["y"].StateSince) || y.Answered != 0 {
		t.Errorf("y after the restart: state since %v (before %v), answered %d", y.StateSince, agentsBefore["y"].StateSince, y.Answered)
	}
	if q := agentsAfter["x"].Queues; q["technical"] != 2 || q["sales"] != 0 || len(q) != 2 {
		t.Errorf("x's queues after the restart: %v, want sales and technical (penalty 2)", q)
	}
	if q := agentsAfter["y"].Queues; len(q) != 0 {
		t.Errorf("y's queues after the restart: %v, want none", q)
	}
	var techAfter queueToday
	apiGetJSON(t, h2, "/api/v1/queues/technical", &techAfter)
	if techAfter.Windows[1] != techBefore.Windows[1] {
		t.Errorf("technical today after the restart: %+v, before %+v", techAfter.Windows[1], techBefore.Windows[1])
	}

	// The next caller in technical goes to x's phone, on the binding
	// restored from the database (the phone did not register again).
	// Without it the offer to x is made but no phone rings: say so first.
	restored := -1.0
	replaced := map[string]string{} // agent → its restored queues, where they replace the configured ones
	for _, l := range h2.logs.all() {
		switch l["msg"] {
		case "live state restored":
			restored, _ = l["registrations"].(float64)
		case "queue membership restored from a run-time change; it replaces the configured one":
			replaced[str(l["agent"])] = str(l["queues"])
		}
	}
	if want := map[string]string{"x": "map[sales:0 technical:2]", "y": "map[]"}; !maps.Equal(replaced, want) {
		t.Errorf("membership restore log lines: %v, want %v", replaced, want)
	}
	if restored != 1 {
		t.Fatalf("registrations restored at start: %v, want 1 (x's phone)", restored)
	}
	_, c, _ := dial(t, h2, "sip:300@"+h2.sipAddr("udp"), sip.DialOptions{From: "0911000003"})
	offered := h2.waitEvent(10*time.Second, "caller C offered", func(e events.Event) bool {
		return e.Type == events.AgentOffered && e.CallID == c.ID()
	})
	if offered.Agent != "x" {
		t.Fatalf("caller C offered to %q, want x (added to technical before the restart)", offered.Agent)
	}
	h2.waitEvent(10*time.Second, "caller C bridged to x", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == c.ID() && e.Agent == "x"
	})
	xCall := phoneX.NextCall(t, within(t, 5*time.Second))
	if u := xCall.Invite().User; u != "x" {
		t.Errorf("x's phone was called as %q, want its registered contact's user x", u)
	}
	talkThenHangUp(t, ctx, c, xCall, "caller C and x's phone")

	for _, e := range h2.seen {
		if e.Type == events.AgentOffered && e.Agent == "y" {
			t.Errorf("y was offered %s after leaving technical", e.CallID)
		}
	}
	for drained := false; !drained; {
		select {
		case inv := <-phoneY.Invites():
			if inv.CallID != yCall.Invite().CallID {
				t.Errorf("y's phone was called again: %+v", inv)
			}
		default:
			drained = true
		}
	}
	// x never registered again: no binding changed in the second run.
	for _, e := range h2.seen {
		if e.Type == registrar.EventBinding {
			t.Errorf("a binding changed in the second run: %+v", e)
		}
	}
	h2.shutdown()
}

func agentsByID(t *testing.T, h *harness) map[string]agentView {
	t.Helper()
	var list struct {
		Items []agentView `json:"items"`
	}
	apiGetJSON(t, h, "/api/v1/agents", &list)
	m := map[string]agentView{}
	for _, a := range list.Items {
		m[a.ID] = a
	}
	return m
}

// The edges of a restart a supervisor meets: a phone's binding that
// expired while the server was down does not come back (and is deleted),
// and an agent given a run-time membership and then removed from the
// configuration is named in one warning; the rest starts as usual.
func TestRestartEdges(t *testing.T) {
	leakCheck(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "hotline.db")
	phoneX := phonetest.New(t, 30000, 30498, 440)
	agents := []config.Agent{
		{ID: "x", Name: "Xuan", Username: "x", Password: "pw-x", Queues: map[string]int{"technical": 0}},
		{ID: "gone", Name: "Gone", URI: "sip:gone@127.0.0.1:9", Queues: map[string]int{"sales": 0}},
	}
	cfg := func(c *config.Config) {
		c.Database.URL = db
		c.Agents = agents
		c.Allow.Hosts = []string{"127.0.0.1"}
	}
	h := start(t, cfg)
	status, err := siptest.Register(within(t, 10*time.Second), h.sipAddr("udp"), "x", "pw-x", "<"+phoneX.URI("x")+">")
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x: %d", status)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/agents/x/state", `{"state":"login"}`},
		{"POST", "/api/v1/agents/gone/state", `{"state":"login"}`},
		{"PUT", "/api/v1/queues/technical/members/gone", ""},
	} {
		if code, _, body := apiDo(t, h, r.method, r.path, r.body); code/100 != 2 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, code, body)
		}
	}
	h.shutdown()

	// While the server is down, x's binding runs out: the database holds
	// what the registrar wrote, with its expiry moved into the past (as
	// if the outage had outlasted it).
	func() {
		st, err := storeopen.Open(t.Context(), db, store.Options{})
		must(t, err)
		defer st.Close()
		rt := st.(store.Runtime)
		bs, err := rt.Bindings(t.Context(), time.Now())
		must(t, err)
		if len(bs) != 1 || bs[0].Username != "x" || len(bs[0].Contacts) != 1 {
			t.Fatalf("bindings saved by the first run: %+v", bs)
		}
		bs[0].Contacts[0].Expires = time.Now().Add(-time.Second)
		must(t, rt.SaveBindings(t.Context(), bs))
	}()

	agents = agents[:1] // gone leaves the configuration
	h2 := start(t, cfg)
	var restored, warned map[string]any
	for _, l := range h2.logs.all() {
		switch l["msg"] {
		case "live state restored":
			restored = l
		case "saved state of an agent no longer configured is ignored":
			warned = l
		}
	}
	if restored == nil || restored["registrations"] != 0.0 || restored["agents"] != 2.0 {
		t.Errorf("restore log line: %v, want no registration (expired) and both saved agents read", restored)
	}
	if warned == nil || warned["agent"] != "gone" || warned["presence"] != "available" || warned["queues"] != "map[sales:0 technical:0]" {
		t.Errorf("warning for the agent no longer configured: %v", warned)
	}
	if a := agentsByID(t, h2); len(a) != 1 || a["x"].Presence != "available" {
		t.Errorf("agents after the restart: %+v, want x alone, available", a)
	}
	var tech queueToday
	apiGetJSON(t, h2, "/api/v1/queues/technical", &tech)
	if len(tech.Members) != 1 || tech.Members[0].Agent != "x" {
		t.Errorf("technical's members after the restart: %+v, want x alone", tech.Members)
	}
	h2.shutdown()

	// The expired row was deleted, not just skipped.
	st, err := storeopen.Open(t.Context(), db, store.Options{})
	must(t, err)
	defer st.Close()
	bs, err := st.(store.Runtime).Bindings(t.Context(), time.Now().Add(-time.Hour))
	must(t, err)
	if len(bs) != 0 {
		t.Errorf("bindings left in the database: %+v", bs)
	}
}

// A stop while an agent's phone rings: the caller is hung up at the end of
// the drain and the offer cancelled, which is no miss of the agent's (with
// max_misses 1 a miss would pause it for no-answer, and that pause would
// survive); after the restart it is available and idle.
func TestRestartWhileRinging(t *testing.T) {
	leakCheck(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "hotline.db")
	phone := phonetest.New(t, 30500, 30998, 550)
	phone.Plan(phonetest.Ring)
	cfg := func(c *config.Config) {
		c.Database.URL = db
		c.SIP.DrainTime = time.Second
		c.Agents = []config.Agent{{ID: "r", Name: "Ring", URI: phone.URI("r"), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
		q := c.Queues["technical"]
		q.MaxMisses, q.RingTimeout = 1, time.Minute
		c.Queues["technical"] = q
	}
	h := start(t, cfg)
	if code, _, body := apiDo(t, h, "POST", "/api/v1/agents/r/state", `{"state":"login"}`); code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0911000009"})
	inv := phone.NextInvite(t, within(t, 10*time.Second))
	if a := agentsByID(t, h)["r"]; a.Activity != "ringing" {
		t.Fatalf("r before the stop: %+v, want ringing", a)
	}
	h.shutdown()
	select {
	case <-call.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("caller not hung up by the stop")
	}
	select {
	case id := <-phone.Cancels():
		if id != inv.CallID {
			t.Errorf("cancelled %s, want the ringing %s", id, inv.CallID)
		}
	case <-time.After(5 * time.Second):
		t.Error("the ringing phone was not cancelled by the stop")
	}
	ended := h.waitEvent(5*time.Second, "r's offer ended", func(e events.Event) bool {
		return e.Type == queue.OfferEnded && e.Agent == "r"
	})
	if r := payload[queue.OfferEnd](ended).Result; r != queue.ResultCancelled {
		t.Errorf("r's offer ended %q by the stop, want %q", r, queue.ResultCancelled)
	}

	h2 := start(t, cfg)
	if a := agentsByID(t, h2)["r"]; a.Presence != "available" || a.Reason != "" || a.Activity != "idle" {
		t.Errorf("r after the restart: %+v, want available and idle (the stop was no miss)", a)
	}
	h2.shutdown()
}
