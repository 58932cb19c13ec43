package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/testcall"
)

const routeNumber = "301"

// routeFlow routes by key press: 1 goes to bye, where Hotline hangs up.
const routeFlow = `flow: outage-route
numbers: ["` + routeNumber + `"]
languages: [en]
start: menu
nodes:
  menu:
    type: menu
    prompts: [you-entered]
    options: {"1": bye}
    timeout: 10s
    retries: 0
    exhausted: bye
  bye:
    type: hangup
    prompts: [goodbye]
`

// dbTimeout is database.timeout in the outage test: the bound on /readyz
// and on every API request while the database is away.
const dbTimeout = time.Second

type httpResult struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

func (h *harness) get(path, token string) httpResult {
	h.t.Helper()
	req, err := http.NewRequest("GET", "http://"+h.app.HTTPAddr().String()+path, nil)
	must(h.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	t0 := time.Now()
	res, err := c.Do(req)
	must(h.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(h.t, err)
	return httpResult{status: res.StatusCode, header: res.Header, body: string(b), took: time.Since(t0)}
}

// waitCount waits until n events of type typ have been seen.
func (h *harness) waitCount(d time.Duration, typ string, n int) {
	h.t.Helper()
	count := func() int {
		c := 0
		for _, e := range h.seen {
			if e.Type == typ {
				c++
			}
		}
		return c
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for count() < n {
		select {
		case e := <-h.sub.C:
			h.seen = append(h.seen, e)
		case <-timer.C:
			h.t.Fatalf("%d %s events within %v; want %d. Events:\n%s", count(), typ, d, n, h.dump())
		}
	}
}

// The database stopped, then hung (SIGSTOP on its processes), while calls
// come in: /readyz fails and /livez passes, calls are answered and routed
// by key press, the API answers 503 with Retry-After within
// database.timeout, and once the database is back every call is recorded
// exactly once.
func TestDatabaseOutageDuringCalls(t *testing.T) {
	leakCheck(t)
	pg := pgtest.StartCluster(t, toolPorts)
	h := start(t, func(c *config.Config) {
		c.Database.URL = pg.URL()
		c.Database.Timeout = dbTimeout
		c.Media.InactivityTimeout = time.Minute // sipp sends no RTP
		must(t, os.WriteFile(filepath.Join(c.Flows.Dir, "route.yaml"), []byte(routeFlow), 0o644))
	})
	addr := h.sipAddr("udp")
	cs := newCalls(t)
	ended := 0
	// Two calls: the Go caller presses 1 and Hotline hangs up at bye; sipp
	// stays 1.5 s and hangs up.
	callPair := func(phase string, from string) {
		t.Helper()
		res := make(chan *testcall.Result, 1)
		cs.gocall(addr, routeNumber, from, "1@1500ms", 30*time.Second, res)
		wait := cs.sipp(addr, routeNumber, 1500*time.Millisecond)
		if r := <-res; r == nil || !r.Answered || r.HungUpBy != sip.SideRemote {
			t.Fatalf("%s: the Go caller's call was not answered and routed to the hangup: %+v", phase, r)
		}
		if err := wait(); err != nil {
			t.Fatalf("%s: sipp: %v", phase, err)
		}
		ended += 2
		h.waitCount(30*time.Second, events.CallEnded, ended)
	}
	ready := func(phase string, want int) {
		t.Helper()
		r := h.get("/readyz", "")
		if r.status != want || r.took > dbTimeout+2*time.Second {
			t.Fatalf("%s: /readyz = %d after %v: %s; want %d within database.timeout", phase, r.status, r.took, r.body, want)
		}
		if want == http.StatusServiceUnavailable {
			var b struct{ Failed []string }
			if err := json.Unmarshal([]byte(r.body), &b); err != nil || fmt.Sprint(b.Failed) != "[database]" || r.header.Get("Retry-After") == "" {
				t.Fatalf("%s: /readyz body %s (Retry-After %q); want the database check named as failed", phase, r.body, r.header.Get("Retry-After"))
			}
		}
		if l := h.get("/livez", ""); l.status != http.StatusOK {
			t.Fatalf("%s: /livez = %d %s; want 200 whatever the database does", phase, l.status, l.body)
		}
	}
	apiDown := func(phase string) {
		t.Helper()
		for _, path := range []string{"/api/v1/customers", "/api/v1/interactions"} {
			r := h.get(path, testToken)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.took > dbTimeout+2*time.Second {
				t.Fatalf("%s: GET %s = %d (Retry-After %q) after %v: %s; want 503 within database.timeout", phase, path, r.status,
					r.header.Get("Retry-After"), r.took, r.body)
			}
		}
	}
	drained := func(phase string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.app.CallLog().WaitIdle(ctx); err != nil {
			t.Fatalf("%s: records not written once the database is back: %v (%+v)", phase, err, h.app.CallLog().Stats())
		}
	}

	ready("database up", http.StatusOK)
	callPair("database up", "0911000001")
	drained("database up")

	pg.Stop()
	ready("database stopped", http.StatusServiceUnavailable)
	apiDown("database stopped")
	callPair("database stopped", "0911000002")
	if st := h.app.CallLog().Stats(); st.Spooled < 2 {
		t.Fatalf("database stopped: %+v; want the calls' records in the spool", st)
	}
	pg.Start()
	drained("database restarted")
	ready("database restarted", http.StatusOK)

	pg.Freeze()
	ready("database hung", http.StatusServiceUnavailable)
	apiDown("database hung")
	callPair("database hung", "0911000003")
	pg.Thaw()
	drained("database thawed")
	ready("database thawed", http.StatusOK)

	// Every answered call once, routed as it was dialled.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := h.app.Store(ctx)
	must(t, err)
	items, _, err := st.ListInteractions(ctx, store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 100})
	must(t, err)
	got := map[string]int{}
	routed := 0
	for _, it := range items {
		got[it.Voice.CallID]++
		if p := it.Voice.Path; len(p) == 2 && p[0].Node == "menu" && p[0].Digits == "1" && p[1].Node == "bye" {
			routed++
		}
	}
	answered := 0
	for _, e := range h.seen {
		if e.Type == events.CallAnswered {
			answered++
			if got[e.CallID] != 1 {
				t.Errorf("call %s has %d records; want exactly 1", e.CallID, got[e.CallID])
			}
		}
	}
	if answered != 6 || len(items) != 6 || routed != 3 {
		t.Errorf("%d answered, %d records (%d routed by key 1); want 6, 6 and 3", answered, len(items), routed)
	}
	cs.end()
	h.shutdown()
}
