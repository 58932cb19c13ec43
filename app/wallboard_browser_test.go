package app

// The wallboard in a real browser (headless Chromium, driven over the
// DevTools protocol by chromedp) against the real server in-process: sign
// in with a token, a SIP caller joins a queue and the tile shows it, a
// threshold turns the tile red, the call ends, the server restarts and the
// page reconnects by itself.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/sip"
)

const boardToken = "wallboard-test-token-1234"

// boardApp is an App serving queueFlow into queue "wait" (an alert at a
// longest wait of 3 s) and two agents, on a fixed HTTP address so a
// restart comes back where the page left it.
type boardApp struct {
	t   *testing.T
	cfg config.Config
	a   *App
	run chan error
	sub *events.Subscription
}

func newBoardConfig(t *testing.T) config.Config {
	cfg := testConfig(t)
	cfg.Flows.Dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Flows.Dir, "wait.yaml"), []byte(queueFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Flows.Watch = false
	cfg.Queues = map[string]config.Queue{"wait": config.Queue{JoinEmpty: true, MaxWait: 5 * time.Minute,
		Alerts: config.QueueAlerts{LongestWait: 3 * time.Second, ServiceLevel: 0.8}}.WithDefaults()}
	cfg.Agents = []config.Agent{
		{ID: "lan", Name: "Lan", Username: "2001", Queues: map[string]int{"wait": 0}},
		{ID: "minh", Name: "Minh", Username: "2002", Queues: map[string]int{"wait": 0}},
	}
	cfg.HTTP.Tokens = []config.Token{{Name: "board", Secret: boardToken, Scope: "read"}}
	cfg.SIP.DrainTime = time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port, then kept for both runs
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Addr = l.Addr().String()
	_ = l.Close()
	return cfg
}

func (b *boardApp) start() {
	b.t.Helper()
	a, err := New(context.Background(), b.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.t.Fatal(err)
	}
	b.a, b.run = a, make(chan error, 1)
	b.sub = a.Bus().Subscribe(4096)
	go func(run chan error) { run <- a.Run(context.Background()) }(b.run)
	b.t.Cleanup(func() { _ = a.Close() })
}

func (b *boardApp) stop() {
	b.t.Helper()
	b.sub.Close()
	if err := b.a.Close(); err != nil {
		b.t.Fatalf("Close: %v", err)
	}
	if err := <-b.run; err != nil {
		b.t.Fatalf("Run: %v", err)
	}
}

// browser starts headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Tool(t, "chromium", "Debian: apt-get install chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1600, 1100),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first Run starts the browser for the life of ctx (no timeout on
	// it: that would stop the browser).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		testenv.Unavailable(t, "chromium does not start: %v", err)
	}
	return ctx
}

// eval evaluates a JS expression to a string in the page.
func eval(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(`+expr+`)`))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return out
}

// waitFor polls expr in the page until it equals want, and returns how
// long that took; it fails the test after limit.
func waitFor(t *testing.T, ctx context.Context, what, expr, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	got := ""
	for time.Now().Before(deadline) {
		if got = eval(t, ctx, expr); got == want {
			return time.Since(start)
		}
		time.Sleep(25 * time.Millisecond) // polling a real condition with a deadline
	}
	t.Fatalf("%s: %s is %q after %v, want %q", what, expr, got, limit, want)
	return 0
}

// nextEvent waits for the first event of typ (for callID, when set).
func nextEvent(t *testing.T, sub *events.Subscription, typ, callID string) events.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-sub.C:
			if e.Type == typ && (callID == "" || e.CallID == callID) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s for %q", typ, callID)
		}
	}
}

const (
	tileSel   = `document.querySelector('.tile[data-queue="wait"]')`
	waitingJS = tileSel + `?.querySelector('[data-k="waiting"]')?.textContent`
	levelJS   = tileSel + `?.dataset.level`
	staleJS   = `document.getElementById('stale').hidden`
	// sessionJS asks the server whether the page has a session (a
	// synchronous request: eval returns its status).
	sessionJS = `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/v1/session', false); x.send(); return String(x.status); })()`
	statusJS  = `document.getElementById('status').textContent`
)

func TestWallboardInChromium(t *testing.T) {
	ctx := browser(t)
	b := &boardApp{t: t, cfg: newBoardConfig(t)}
	b.start()
	base := "http://" + b.a.HTTPAddr().String()

	// A wrong token is refused; the right one opens the board.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/wallboard"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "wrong token", `document.getElementById('signin-error').textContent`, "That token is not accepted.", 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("token"), boardToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-queue="wait"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the stream opens", statusJS, "live", 10*time.Second)
	waitFor(t, ctx, "empty queue", waitingJS, "0", 5*time.Second)
	if got := eval(t, ctx, `sessionStorage.getItem('hotline.wallboard.token')`); got != boardToken {
		t.Fatalf("token kept in sessionStorage: %q", got)
	}
	if got := eval(t, ctx, sessionJS); got != "200" {
		t.Fatalf("GET /api/v1/session from the page: %s, want 200 (the board reads on a cookie session)", got)
	}

	// Agents on the board: one available, one paused with a reason.
	if err := b.a.acd.svc.Login("lan"); err != nil {
		t.Fatal(err)
	}
	if err := b.a.acd.svc.Login("minh"); err != nil {
		t.Fatal(err)
	}
	if err := b.a.acd.svc.Pause("minh", "lunch"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "paused agent", `document.querySelector('tr[data-agent="minh"]')?.dataset.state`, "paused", 5*time.Second)
	waitFor(t, ctx, "available chip", tileSel+`?.querySelector('[data-state="available"] .chip-n')?.textContent`, "1", 5*time.Second)

	// A real SIP caller joins: the tile shows 1 within a second of the
	// event (timed in the page: domMark).
	domMark(t, ctx, "waiting1", waitingJS, "1")
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := cli.Dial(cctx, "sip:300@"+b.a.SIPAddrs()["udp"].String(), sip.DialOptions{From: "0281234567"})
	if err != nil {
		t.Fatal(err)
	}
	joined := nextEvent(t, b.sub, events.QueueJoined, call.ID())
	within(t, "caller waiting", joined, markTime(t, ctx, "waiting1", 5*time.Second), time.Second)
	// The longest wait ticks in the page between updates.
	first := eval(t, ctx, tileSel+`.querySelector('[data-k="longest_wait"]').textContent`)
	waitFor(t, ctx, "longest wait ticks", tileSel+`.querySelector('[data-k="longest_wait"]').textContent !== `+strconv.Quote(first), "true", 3*time.Second)

	// The threshold (3 s) turns the tile red, from the view's alerts.
	nextEvent(t, b.sub, "queue.alert", "")
	waitFor(t, ctx, "alert red", levelJS, "red", 10*time.Second)
	if got := eval(t, ctx, tileSel+`.querySelector('.alert.red[data-kind="longest_wait"]')?.textContent ?? ''`); !strings.Contains(got, "threshold 3 s") {
		t.Errorf("red alert text %q", got)
	}
	if dir := os.Getenv("HOTLINE_SCREENSHOT_DIR"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "wallboard.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The caller hangs up: 0, and the wait alert clears (a short abandon
	// leaves the service level unknown, so no alert there either).
	if err := call.Hangup(cctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "caller gone", waitingJS, "0", 5*time.Second)
	waitFor(t, ctx, "alert cleared", levelJS, "ok", 5*time.Second)
	if got := eval(t, ctx, tileSel+`.querySelector('tr[data-row="abandoned"] td[data-w="today"]').textContent`); got != "1" {
		t.Errorf("abandoned today = %q, want 1", got)
	}

	// The server stops: the page says so; it comes back on the same port:
	// the page reconnects by itself and catches up.
	b.stop()
	waitFor(t, ctx, "stale banner shown", staleJS, "false", 10*time.Second)
	waitFor(t, ctx, "stale banner ticks", `/^\d+ s ago$/.test(document.getElementById('stale-ago').textContent)`, "true", 3*time.Second)
	b.start()
	waitFor(t, ctx, "stale banner gone", staleJS, "true", 20*time.Second)
	if got := eval(t, ctx, sessionJS); got != "200" { // sessions live in memory: the page signed in again
		t.Fatalf("GET /api/v1/session after the restart: %s, want 200", got)
	}
	waitFor(t, ctx, "live again", statusJS, "live", 5*time.Second)

	// Live after the restart: a new caller shows at once.
	domMark(t, ctx, "again1", waitingJS, "1")
	call2, err := cli.Dial(cctx, "sip:300@"+b.a.SIPAddrs()["udp"].String(), sip.DialOptions{From: "0281234568"})
	if err != nil {
		t.Fatal(err)
	}
	joined = nextEvent(t, b.sub, events.QueueJoined, call2.ID())
	within(t, "caller after the restart", joined, markTime(t, ctx, "again1", 5*time.Second), time.Second)
	_ = call2.Hangup(cctx)
}
