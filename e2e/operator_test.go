package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// exampleConfig runs the shipped hotline.example.yaml as a user who copied
// it would, with only what a test must change: ports (0), paths, and the
// always-open office calendar of the harness. Its lookups, queues and
// agents are the example's.
func exampleConfig(t *testing.T) func(*config.Config) {
	for _, v := range []string{"HOTLINE_TOKEN_HELPDESK", "HOTLINE_TOKEN_WALLBOARD", "HOTLINE_AGENT_LAN_PASSWORD", "HOTLINE_AGENT_MINH_PASSWORD"} {
		t.Setenv(v, "secret-"+v)
	}
	t.Setenv("HOTLINE_DATABASE_URL", "")
	ex, err := config.Load("../hotline.example.yaml")
	must(t, err)
	return func(c *config.Config) {
		ex.SIP.UDP, ex.SIP.TCP, ex.SIP.DrainTime, ex.SIP.RateLimit = c.SIP.UDP, c.SIP.TCP, c.SIP.DrainTime, c.SIP.RateLimit
		ex.HTTP.Addr = c.HTTP.Addr
		ex.HTTP.Tokens = append(ex.HTTP.Tokens, c.HTTP.Tokens...)
		ex.Media.Prompts, ex.Media.PortMin, ex.Media.PortMax = c.Media.Prompts, c.Media.PortMin, c.Media.PortMax
		ex.Flows = c.Flows
		ex.Database = c.Database
		ex.Calendars = c.Calendars
		*c = ex
	}
}

// Issue 7 point 8: with http.addr on another port (here port 0, so never
// 8080), the shipped example's order lookup reaches the built-in demo
// service on the port the server really bound: a real call through the
// shipped flow hears the order's status, not "not found".
func TestExampleDemoOrderLookupFollowsHTTPPort(t *testing.T) {
	leakCheck(t)
	h := start(t, exampleConfig(t))
	if p := h.app.HTTPAddr().Port(); p == 8080 {
		t.Fatalf("test needs a port other than 8080, got %d", p)
	}
	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	h.menus(call, "language", "1", "main", "3", "order", "123453#")
	h.waitEvent(20*time.Second, "read-back of the order number", func(e events.Event) bool {
		return e.CallID == id && e.Type == events.PromptPlayed && payload[ivr.PromptPlay](e).Prompt == "you-entered"
	})
	press(t, call, "1", media.SourceRFC4733)
	// Demo rule: the last digit 3 is "shipped"; a lookup that missed the
	// service would take on_failure (order-not-found).
	e := h.waitEvent(20*time.Second, "the status node after the lookup", func(e events.Event) bool {
		n := payload[ivr.NodeEnter](e).Node
		return e.CallID == id && e.Type == events.NodeEntered && (n == "say-shipped" || n == "order-not-found")
	})
	if n := payload[ivr.NodeEnter](e).Node; n != "say-shipped" {
		t.Fatalf("after the lookup the call went to %v, want say-shipped; events:\n%s", n, h.dump())
	}
	_ = call.Hangup(t.Context())
	h.waitEvent(10*time.Second, "call.ended", func(e events.Event) bool { return e.CallID == id && e.Type == events.CallEnded })
	h.shutdown()
}

// queueCall puts a Go caller through the shipped flow into the technical
// queue, to the agent phone, and lets the agent hang up after the bridge.
// It returns the caller's and the agent leg's Call-IDs.
func queueCall(t *testing.T, h *harness, agent *agentPhone) (callerID, legID string) {
	t.Helper()
	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	h.menus(call, "language", "1", "main", "1")
	h.waitEvent(20*time.Second, "bridge to the agent", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == id
	})
	select {
	case legID = <-agent.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("agent phone never got the call")
	}
	agent.hangup <- struct{}{}
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("caller not hung up after the agent hung up")
	}
	h.interaction(id) // the record is written: the call's life is over
	return id, legID
}

func withAgent(agent *agentPhone) func(*config.Config) {
	return func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", URI: "sip:lan@" + agent.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
	}
}

// Issue 7, logs: every line of a call carries its call_id, the agent leg's
// lines too (call_id = the caller's Call-ID, leg_id = the agent leg's), and
// durations print as durations.
func TestCallLogLinesCarryCallID(t *testing.T) {
	leakCheck(t)
	agent := startAgentPhone(t)
	h := start(t, withAgent(agent))
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	callerID, legID := queueCall(t, h, agent)
	h.shutdown()

	lines := h.logs.all()
	first, last := -1, -1
	legLines := 0
	for i, l := range lines {
		if l["call_id"] == legID {
			t.Errorf("agent leg line keyed by its own Call-ID, want the caller's: %v", l)
		}
		if l["leg_id"] == legID {
			legLines++
			if l["call_id"] != callerID {
				t.Errorf("agent leg line without the caller's call_id: %v", l)
			}
		}
		if l["call_id"] == callerID {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || legLines == 0 {
		t.Fatalf("no lines for call %s (%d for leg %s)", callerID, legLines, legID)
	}
	// The only call up from its first line to its last: every line
	// between them is one of its own.
	for _, l := range lines[first : last+1] {
		if l["call_id"] == nil {
			t.Errorf("line inside the call's life without call_id: %v", l)
		}
	}
	for _, l := range lines {
		if l["msg"] == "call ended" && l["call_id"] == callerID {
			if d, ok := l["duration"].(string); !ok || !strings.HasSuffix(d, "s") {
				t.Errorf("call ended duration = %#v, want a duration such as \"3.2s\"", l["duration"])
			}
		}
	}
}

// Issue 7, /metrics: after real calls — one answered by an agent, one that
// hangs up waiting in the queue — the scrape shows the queue's counters and
// gauges, call setup, digit-to-prompt, API and database latency, build
// info, flow reloads and SIP responses; HEAD answers like GET. Every
// hotline_* series is documented in docs/metrics.md, and nothing there is
// missing from the scrape.
func TestMetricsAfterRealCalls(t *testing.T) {
	leakCheck(t)
	agent := startAgentPhone(t)
	h := start(t, withAgent(agent))
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	queueCall(t, h, agent)

	// The agent pauses: the next caller waits in the queue, then hangs up.
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"pause"}`)
	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345679"})
	id := call.ID()
	h.menus(call, "language", "1", "main", "1")
	h.waitEvent(20*time.Second, "queue.joined", func(e events.Event) bool { return e.Type == events.QueueJoined && e.CallID == id })
	must(t, call.Hangup(t.Context()))
	h.interaction(id)

	// A number no flow claims is refused (404): a rejected call.
	c := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	dctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	_, err := c.Dial(dctx, "sip:999@"+h.sipAddr("udp"), sip.DialOptions{})
	cancel()
	c.Close()
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("dial 999: %v, want 404", err)
	}

	// The metrics follow the event stream on their own goroutine: the
	// rejection is counted soon after the 404 reaches the caller, not
	// before it. Scrape until it shows (bounded), then judge the scrape.
	body := scrapeUntil(t, h, `hotline_calls_rejected_total{status="404"} 1`, 10*time.Second)
	for _, want := range []string{
		`hotline_queue_answered_total{queue="technical"} 1`,
		`hotline_queue_abandoned_total{queue="technical"} 1`,
		`hotline_queue_joined_total{queue="technical"} 2`,
		`hotline_queue_waiting{queue="technical"} 0`,
		`hotline_queue_longest_wait_seconds{queue="technical"} 0`,
		`hotline_queue_agents{presence="paused",queue="technical"} 1`,
		`hotline_queue_agents_activity{activity="idle",queue="technical"} 1`,
		`hotline_queue_answered_total{queue="sales"} 0`,
		"hotline_call_setup_seconds_count 2",
		`hotline_http_request_duration_seconds_count{code="2xx",method="POST",route="/api/v1/agents/{id}/state"} 2`,
		`hotline_flow_reloads_total{result="ok"} 1`,
		`hotline_flow_reloads_total{result="rejected"} 0`,
		`hotline_sip_responses_total{class="2xx",method="INVITE"} 2`,
		`hotline_sip_responses_total{class="2xx",method="BYE"} 1`,
		`hotline_sip_responses_total{class="4xx",method="INVITE"} 1`,
		`hotline_calls_rejected_total{status="404"} 1`,
		`hotline_build_info{goversion="go`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, positive := range []string{"hotline_ivr_digit_to_prompt_seconds_count", `hotline_db_write_duration_seconds_count{result="ok"}`} {
		if v := sample(body, positive); v < 1 {
			t.Errorf("%s = %v, want at least 1", positive, v)
		}
	}
	if head := httpGet(t, h, http.MethodHead, "/metrics"); head != "" {
		t.Errorf("HEAD /metrics has a body of %d bytes", len(head))
	}

	// docs/metrics.md and the scrape name the same hotline_* series.
	doc, err := os.ReadFile("../docs/metrics.md")
	must(t, err)
	name := regexp.MustCompile(`\bhotline_[a-z_]+[a-z]`)
	documented := map[string]bool{}
	for _, n := range name.FindAllString(string(doc), -1) {
		documented[n] = true
	}
	served := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok && strings.HasPrefix(f, "hotline_") {
			served[strings.Fields(f)[0]] = true
		}
	}
	for n := range served {
		if !documented[n] {
			t.Errorf("%s is served but not in docs/metrics.md", n)
		}
	}
	for n := range documented {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if !served[n] && !served[base] {
			t.Errorf("docs/metrics.md names %s, which /metrics does not serve", n)
		}
	}
	h.shutdown()
}

// scrapeUntil scrapes /metrics until it contains want or d has passed,
// and returns the last scrape.
func scrapeUntil(t *testing.T, h *harness, want string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		body := httpGet(t, h, http.MethodGet, "/metrics")
		if strings.Contains(body, want) || time.Now().After(deadline) {
			return body
		}
		select {
		case <-t.Context().Done():
			return body
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// httpGet requests a path without a token and returns the body.
func httpGet(t *testing.T, h *harness, method, path string) string {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+h.app.HTTPAddr().String()+path, nil)
	must(t, err)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, path, res.Status)
	}
	return string(b)
}

// sample is the value of the first series line starting with prefix.
func sample(body, prefix string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return v
		}
	}
	return -1
}
