package app

// The wallboard in headless Chromium while a real SIP caller waits and an
// agent's phone (internal/phonetest) answers: the waiting tile, then the
// agent "on call" with the caller. Each change is timed from the server's
// event (its Time, stamped by the queue service) to the DOM mutation in the
// page that made the figure right (a MutationObserver the test installs;
// both clocks are this machine's wall clock), not to when a poll saw it.

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
)

// Agent phone RTP ports for the wallboard tests: below the server's
// (31000-31998, testConfig) and clear of the other packages' ranges.
const boardPhonePorts = 30700

// domMark installs a MutationObserver in the page that records, as epoch
// ms with the page's sub-ms clock (performance.timeOrigin + now()), the
// first DOM change after which expr is want. Install it before causing the
// change; markTime reads it.
func domMark(t *testing.T, ctx context.Context, name, expr, want string) {
	t.Helper()
	js := `(() => {
  const m = (window.__marks ??= {}), name = ` + strconv.Quote(name) + `;
  m[name] = null;
  let obs;
  const check = () => {
    if (m[name] !== null || String((() => ` + expr + `)()) !== ` + strconv.Quote(want) + `) return;
    m[name] = performance.timeOrigin + performance.now();
    obs?.disconnect();
  };
  obs = new MutationObserver(check);
  obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  check();
  return 'ok';
})()`
	if got := eval(t, ctx, js); got != "ok" {
		t.Fatalf("install mark %s: %s", name, got)
	}
}

// markTime waits (at most limit) for the mark and returns when it was set.
func markTime(t *testing.T, ctx context.Context, name string, limit time.Duration) time.Time {
	t.Helper()
	expr := `window.__marks?.[` + strconv.Quote(name) + `] ?? ''`
	deadline := time.Now().Add(limit)
	for {
		if s := eval(t, ctx, expr); s != "" {
			ms, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("mark %s: %q: %v", name, s, err)
			}
			return time.UnixMicro(int64(ms * 1000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("mark %s: the page never reached it within %v", name, limit)
		}
		time.Sleep(20 * time.Millisecond) // polling a real condition with a deadline
	}
}

// within checks that the page changed within limit of the event.
func within(t *testing.T, what string, ev events.Event, dom time.Time, limit time.Duration) {
	t.Helper()
	d := dom.Sub(ev.Time)
	t.Logf("%s: DOM %v after %s (seq %d)", what, d.Round(100*time.Microsecond), ev.Type, ev.Seq)
	if d < 0 || d > limit {
		t.Errorf("%s: the page changed %v after the %s event, want within %v", what, d, ev.Type, limit)
	}
}

// nextAgentEvent waits for agent's agent.state with activity.
func nextAgentEvent(t *testing.T, sub *events.Subscription, agent string, activity queue.Activity) events.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-sub.C:
			if c, ok := e.Payload.(queue.AgentChange); ok && e.Type == events.AgentState && e.Agent == agent && c.Activity == activity {
				return e
			}
		case <-timeout:
			t.Fatalf("no agent.state %s for %s", activity, agent)
		}
	}
}

func TestWallboardAgentAnswersInChromium(t *testing.T) {
	ctx := browser(t)
	phone := phonetest.New(t, boardPhonePorts, boardPhonePorts+98, 440)
	cfg := newBoardConfig(t)
	cfg.Allow.Hosts = []string{phone.Addr()}
	cfg.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "2001", URI: phone.URI("2001"), Queues: map[string]int{"wait": 0}}}
	b := &boardApp{t: t, cfg: cfg}
	b.start()
	if err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+b.a.HTTPAddr().String()+"/wallboard"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), boardToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-queue="wait"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the stream opens", statusJS, "live", 10*time.Second)
	waitFor(t, ctx, "empty queue", waitingJS, "0", 5*time.Second)

	// The agent is logged in but paused, so the caller waits.
	if err := b.a.acd.svc.Login("lan"); err != nil {
		t.Fatal(err)
	}
	if err := b.a.acd.svc.Pause("lan", "briefing"); err != nil {
		t.Fatal(err)
	}
	agentJS := `document.querySelector('tr[data-agent="lan"]')?.dataset.state`
	waitFor(t, ctx, "agent paused", agentJS, "paused", 5*time.Second)

	// A real SIP caller joins: waiting 1.
	domMark(t, ctx, "waiting1", waitingJS, "1")
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := cli.Dial(cctx, "sip:300@"+b.a.SIPAddrs()["udp"].String(), sip.DialOptions{From: "0281234567"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = call.Hangup(cctx) }()
	joined := nextEvent(t, b.sub, events.QueueJoined, call.ID())
	within(t, "waiting tile 1", joined, markTime(t, ctx, "waiting1", 5*time.Second), time.Second)

	// The agent goes ready: offered, the phone answers. Waiting 0, and the
	// agent's row "on call" with the caller's number.
	rowJS := `(() => { const r = document.querySelector('tr[data-agent="lan"]'); return r ? r.dataset.state + '|' + r.cells[4].textContent : ''; })()`
	domMark(t, ctx, "waiting0", waitingJS, "0")
	domMark(t, ctx, "oncall", `(`+rowJS+`).startsWith('on_call|') && (`+rowJS+`).includes('281234567')`, "true")
	domMark(t, ctx, "chip", tileSel+`?.querySelector('[data-state="on_call"] .chip-n')?.textContent`, "1")
	if err := b.a.acd.svc.Ready("lan"); err != nil {
		t.Fatal(err)
	}
	agentCall := phone.NextCall(t, cctx)
	defer agentCall.Hangup(t, cctx)
	// The queue service publishes agent.state (on call) and then
	// queue.left (answered) for the same answer.
	onCall := nextAgentEvent(t, b.sub, "lan", queue.OnCall)
	left := nextEvent(t, b.sub, events.QueueLeft, call.ID())
	if l, ok := left.Payload.(queue.Left); !ok || l.Reason != queue.ReasonAnswered {
		t.Fatalf("queue.left: %+v, want reason answered", left.Payload)
	}
	within(t, "waiting tile 0", left, markTime(t, ctx, "waiting0", 5*time.Second), time.Second)
	within(t, "agent on call with the caller", onCall, markTime(t, ctx, "oncall", 5*time.Second), time.Second)
	within(t, "tile's on-call chip 1", onCall, markTime(t, ctx, "chip", 5*time.Second), time.Second)
	if got := eval(t, ctx, rowJS); !strings.HasPrefix(got, "on_call|") {
		t.Errorf("agent row %q", got)
	}
}
