package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// sseEvents streams GET /api/v1/events?types=... of h into a channel
// until the test ends (the request's context is the test's).
func sseEvents(t *testing.T, h *harness, types string) <-chan events.Event {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+h.app.HTTPAddr().String()+"/api/v1/events?types="+types, nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	if res.StatusCode != 200 {
		res.Body.Close()
		t.Fatalf("GET /api/v1/events: %d", res.StatusCode)
	}
	out := make(chan events.Event, 1024)
	go func() { // ends when the test's context cancels the request
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e events.Event
			if json.Unmarshal([]byte(data), &e) == nil {
				select {
				case out <- e:
				default:
				}
			}
		}
	}()
	return out
}

// queueFigures is what the wallboard's totals are made of, from
// GET /api/v1/queues.
type queueFigures struct {
	Waiting int            `json:"waiting"`
	Totals  map[string]int `json:"totals"`
}

func queuesOf(t *testing.T, h *harness) (map[string]queueFigures, http.Header, *int64) {
	t.Helper()
	code, hdr, body := apiDo(t, h, "GET", "/api/v1/queues", "")
	if code != 200 {
		t.Fatalf("GET /api/v1/queues: %d %s", code, body)
	}
	var out struct {
		Items []struct {
			Name string `json:"name"`
			queueFigures
		} `json:"items"`
		ViewAgeMS *int64 `json:"view_age_ms"`
	}
	must(t, json.Unmarshal(body, &out))
	m := map[string]queueFigures{}
	for _, q := range out.Items {
		m[q.Name] = q.queueFigures
	}
	return m, hdr, out.ViewAgeMS
}

// Issue 12, "the wallboard API totals agree on both nodes" and "the SSE
// stream of any node carries every node's events": a caller waiting on
// node a (the leader) shows in node b's /api/v1/queues within a second,
// with the same totals as on a; node b's stream carries the call's
// events with origin a; both answer with the view's age.
func TestClusterViewsAndEventsOnEveryNode(t *testing.T) {
	url := pgtest.Schema(t)
	a, b := startPair(t, url, clusterNode(url, "a", 23000), clusterNode(url, "b", 20000))
	stream := sseEvents(t, b, "queue.,call.")

	_, c, _ := dial(t, a, "sip:300@"+a.sipAddr("udp"), sip.DialOptions{From: "0913000001"})
	a.waitEvent(15*time.Second, "queue.joined at the leader", func(e events.Event) bool {
		return e.Type == events.QueueJoined && e.CallID == c.ID()
	})
	joined := time.Now()
	var onB map[string]queueFigures
	for {
		onB, _, _ = queuesOf(t, b)
		if onB["technical"].Waiting == 1 {
			break
		}
		if time.Since(joined) > time.Second {
			t.Fatalf("node b's technical queue %+v a second after the caller on node a joined; want 1 waiting", onB["technical"])
		}
		time.Sleep(20 * time.Millisecond) // polling the API, bounded above
	}
	t.Logf("the caller on node a shows on node b after %s", time.Since(joined).Round(time.Millisecond))
	// Both nodes serve the leader's view: the same figures once both have
	// read the same version (within a second).
	deadline := time.Now().Add(time.Second)
	for {
		onA, _, _ := queuesOf(t, a)
		onB, hdr, age := queuesOf(t, b)
		ta, tb := onA["technical"], onB["technical"]
		if ta.Waiting == tb.Waiting && ta.Waiting == 1 && mapsEqual(ta.Totals, tb.Totals) && ta.Totals["joined"] == 1 {
			if age == nil || *age < 0 || *age > 5000 || hdr.Get("X-Hotline-View-Age-Ms") == "" {
				t.Errorf("node b's queues: view_age_ms %v, header %q; want the view's age", age, hdr.Get("X-Hotline-View-Age-Ms"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("technical on node a %+v, on node b %+v: the totals do not agree", ta, tb)
		}
		time.Sleep(20 * time.Millisecond) // polling the API, bounded above
	}

	// Node b's queue gauges are the cluster's (the view), not its empty
	// local copy's.
	res, err := http.Get("http://" + b.app.HTTPAddr().String() + "/metrics")
	must(t, err)
	metrics, err := io.ReadAll(res.Body)
	res.Body.Close()
	must(t, err)
	if !strings.Contains(string(metrics), `hotline_queue_waiting{queue="technical"} 1`+"\n") {
		t.Errorf("node b's /metrics has no hotline_queue_waiting 1 for technical:\n%s", grepLines(string(metrics), "hotline_queue_waiting"))
	}

	// A caller on node b (a follower) is announced the cluster's
	// position through its node's Desk (the view): second, after node
	// a's caller, within a second of joining.
	_, c2, _ := dial(t, b, "sip:300@"+b.sipAddr("udp"), sip.DialOptions{From: "0913000002"})
	for deadline := time.Now().Add(time.Second + 15*time.Second); ; { // the IVR's ticket node first
		p, err := b.app.Position(c2.ID())
		if err == nil && p.Position == 2 {
			break
		}
		if err == nil && p.Position != 2 || time.Now().After(deadline) {
			t.Fatalf("the position of the caller on node b, as node b announces it: %+v, %v; want 2", p, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the view, bounded above
	}
	if p, err := b.app.Position(c.ID()); err != nil || p.Position != 1 {
		t.Errorf("node a's caller as node b reads it: %+v, %v; want position 1", p, err)
	}
	must(t, c2.Hangup(within(t, 5*time.Second)))
	must(t, c.Hangup(within(t, 5*time.Second)))
	want := map[string]bool{events.CallStarted: false, events.QueueJoined: false, events.CallEnded: false}
	timeout := time.After(10 * time.Second)
	for slices.Contains(mapValues(want), false) {
		select {
		case e := <-stream:
			if e.CallID == c.ID() {
				if e.Origin != "a" {
					t.Errorf("node b's stream: %s of the call on node a with origin %q, want a", e.Type, e.Origin)
				}
				if _, ok := want[e.Type]; ok {
					want[e.Type] = true
				}
			}
		case <-timeout:
			t.Fatalf("node b's stream within 10s, of the call on node a: %v", want)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func mapValues(m map[string]bool) []bool {
	out := make([]bool, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A node cut off from the database cannot refresh the cluster's view: its
// /readyz fails on cluster_view once the view is older than
// cluster.view_max_age (before node_timeout makes it give up), so
// Kamailio takes it out; while connected, it stays ready.
func TestClusterStaleViewNotReady(t *testing.T) {
	url := pgtest.Schema(t)
	proxy, viaProxy := viaCutProxy(t, url)
	_, b := startPair(t, url, clusterNode(url, "a", 23000), func(c *config.Config) {
		clusterNode(viaProxy, "b", 20000)(c)
		c.Cluster.ViewMaxAge = 2 * time.Second
		c.Cluster.NodeTimeout = 6 * time.Second
	})
	ready := func() (int, []string) {
		code, _, body := apiDo(t, b, "GET", "/readyz", "")
		var r struct {
			Failed []string `json:"failed"`
		}
		_ = json.Unmarshal(body, &r)
		return code, r.Failed
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, failed := ready()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b not ready within 10s: %d %v", code, failed)
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded above
	}
	// While it can read the database, the view stays within the bound
	// (the leader writes one at least every second, also when idle).
	for healthy := time.Now(); time.Since(healthy) < 2*time.Second; {
		if code, failed := ready(); slices.Contains(failed, "cluster_view") {
			t.Fatalf("node b, connected, not ready: %d %v", code, failed)
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded above
	}
	cut := time.Now()
	proxy.Cut()
	for {
		code, failed := ready()
		if code == 503 && slices.Contains(failed, "cluster_view") {
			t.Logf("node b not ready (%v) %s after the cut", failed, time.Since(cut).Round(time.Millisecond))
			break
		}
		if time.Since(cut) > 4*time.Second || b.app.Lost() {
			t.Fatalf("node b's /readyz %d %v %s after the cut; want cluster_view failed (view_max_age 2s)", code, failed, time.Since(cut))
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded above
	}
}

// POST /agents/{id}/state on a follower answers with the state the leader
// applied (as on one node), and 409 for pause/ready while logged out.
func TestClusterAgentStateAnswersApplied(t *testing.T) {
	url := pgtest.Schema(t)
	_, b := startPair(t, url, clusterNode(url, "a", 23000), clusterNode(url, "b", 20000))
	for _, step := range []struct{ body, presence string }{
		{`{"state":"login"}`, "available"},
		{`{"state":"pause","reason":"lunch"}`, "paused"},
		{`{"state":"login"}`, "paused"}, // logging in again keeps the pause
		{`{"state":"ready"}`, "available"},
		{`{"state":"logout"}`, "logged_out"},
	} {
		code, _, body := apiDo(t, b, "POST", "/api/v1/agents/x/state", step.body)
		var got struct {
			Presence string `json:"presence"`
		}
		_ = json.Unmarshal(body, &got)
		if code != 200 || got.Presence != step.presence {
			t.Fatalf("POST %s through node b: %d %s; want 200 with presence %s", step.body, code, body, step.presence)
		}
	}
	if code, _, body := apiDo(t, b, "POST", "/api/v1/agents/x/state", `{"state":"ready"}`); code != 409 {
		t.Errorf("ready while logged out through node b: %d %s; want 409", code, body)
	}
}
