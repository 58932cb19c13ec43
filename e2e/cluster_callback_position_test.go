package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/sip"
)

// RTP ports as in cluster_callback_test.go (on main): nodes 20000-25998,
// the customer's line 26000-26498.

// callbackNumber is a flow straight to technical's callback node: the
// caller asks for a callback without waiting in the queue, so the
// position they are told is the new callback's (not the one they had).
const callbackNumber = "302"

const callbackFlow = `flow: e2e-callback-direct
numbers: ["` + callbackNumber + `"]
languages: [en]
start: callback
nodes:
  callback:
    type: callback
    queue: technical
    next: bye
  bye:
    type: hangup
    prompts: [goodbye]
`

// withCallbackFlow adds callbackFlow to a node's flows.
func withCallbackFlow(t *testing.T) func(*config.Config) {
	return func(c *config.Config) {
		must(t, os.WriteFile(filepath.Join(c.Flows.Dir, "callback-direct.yaml"), []byte(callbackFlow), 0o644))
	}
}

// positionsOn lists technical's callbacks through a node's API: their
// positions by id.
func positionsOn(t *testing.T, h *harness) map[int64]int {
	t.Helper()
	var list struct {
		Items []callback.Callback `json:"items"`
	}
	apiGetJSON(t, h, "/api/v1/callbacks?queue=technical", &list)
	out := map[int64]int{}
	for _, cb := range list.Items {
		out[cb.ID] = cb.Position
	}
	return out
}

// waitPositions polls both nodes' API (list and one by one) until every
// callback in want is at its position there.
func waitPositions(t *testing.T, d time.Duration, want map[int64]int, nodes map[string]*harness) {
	t.Helper()
	deadline := time.Now().Add(d)
	for name, h := range nodes {
		for {
			got := positionsOn(t, h)
			ok := true
			for id, p := range want {
				if got[id] != p || getCallback(t, h, id).Position != p {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("callbacks' positions on node %s: %v, want %v", name, got, want)
			}
			time.Sleep(50 * time.Millisecond) // polling the API, bounded by d
		}
	}
}

// A callback's position is the leader's (its Service ranks the line) on
// every node's API: one asked through the leader's API is first on both
// nodes; then a caller on the follower asks for one from the IVR and is
// told "position 2" (the follower waits for the leader's view to carry
// the new callback), and both nodes' API show it second. Nobody is logged
// in: nothing is dialled.
func TestClusterCallbackPositionOnEveryNode(t *testing.T) {
	c := callbackCluster(t, cbSetup{config: withCallbackFlow(t)})
	a, b := c.a, c.b

	both := map[string]*harness{"a": a, "b": b}
	first := requestCallback(t, a, "0912 345 671", "technical")
	waitPositions(t, 10*time.Second, map[int64]int{first.ID: 1}, both)

	_, call, _ := dial(t, b, "sip:"+callbackNumber+"@"+b.sipAddr("udp"), sip.DialOptions{From: "0913000002"})
	id := call.ID()
	b.node(id, "callback")
	b.promptEnded(id, "callback-confirm-number") // "...ending in 002. To confirm, press 1."
	must(t, call.Media().SendDigit(within(t, 5*time.Second), '1', 120*time.Millisecond, media.SourceRFC4733))
	b.node(id, "bye")
	var said []string
	for _, e := range b.callEvents(id) {
		if p, ok := e.Payload.(ivr.PromptPlay); ok {
			said = append(said, p.Prompt)
		}
	}
	want := append([]string{"callback-position"}, say.Number("en", 2)...)
	want = append(want, "callback-booked")
	if i := slices.Index(said, "callback-position"); i < 0 || len(said) < i+len(want) || !slices.Equal(said[i:i+len(want)], want) {
		t.Fatalf("the caller on node b heard %v; want %v in it", said, want)
	}

	var list struct {
		Items []callback.Callback `json:"items"`
	}
	apiGetJSON(t, b, "/api/v1/callbacks?queue=technical&number="+"%2B84913000002", &list)
	if len(list.Items) != 1 {
		t.Fatalf("callbacks of +84913000002 on node b: %+v", list.Items)
	}
	second := list.Items[0]
	waitPositions(t, 10*time.Second, map[int64]int{first.ID: 1, second.ID: 2}, both)
	t.Logf("positions on both nodes: %d at 1, %d at 2", first.ID, second.ID)
}

// The callbacks: request bounds hold for the cluster, not per node:
// requests spread over both nodes' API are refused at the configured
// count (per number across queues, then in all), on whichever node asks.
func TestClusterCallbackBoundsAreClusterWide(t *testing.T) {
	bounds := func(c *config.Config) {
		c.Callbacks.PerNumber, c.Callbacks.Total = 2, 4
		for _, name := range []string{"sales", "operator"} {
			q := c.Queues[name]
			q.Callback.Enabled, q.Callback.Calendar = true, "office"
			c.Queues[name] = q
		}
	}
	c := callbackCluster(t, cbSetup{config: bounds})
	a, b := c.a, c.b

	ask := func(h *harness, number, queue string) (int, string, string) {
		code, hdr, body := apiDo(t, h, "POST", "/api/v1/callbacks", `{"number": "`+number+`", "queue": "`+queue+`"}`)
		return code, hdr.Get("Retry-After"), string(body)
	}
	for _, r := range []struct {
		node          *harness
		name          string
		number, queue string
		want          int
		bound         string
	}{
		{a, "a", "0912 300 001", "technical", 201, ""},
		{b, "b", "0912 300 001", "sales", 201, ""},
		{a, "a", "0912 300 001", "operator", 429, "callbacks.per_number"}, // the number's third in the hour
		{b, "b", "0912 300 002", "technical", 201, ""},
		{a, "a", "0912 300 003", "technical", 201, ""},
		{b, "b", "0912 300 004", "technical", 429, "callbacks.total"}, // the cluster's fifth
		{a, "a", "0912 300 004", "technical", 429, "callbacks.total"},
	} {
		code, retry, body := ask(r.node, r.number, r.queue)
		if code != r.want || (r.bound != "" && (!strings.Contains(body, r.bound) || retry == "" || retry == "0")) {
			t.Fatalf("%s in %s on node %s: %d (Retry-After %q) %s; want %d %s", r.number, r.queue, r.name, code, retry, body, r.want, r.bound)
		}
	}
}
