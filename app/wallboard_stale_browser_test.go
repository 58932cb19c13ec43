package app

// The wallboard's "stale" banner when the event stream goes silent: the
// server's host hangs or the network between drops everything, and no
// connection is closed (TestWallboardInChromium covers a server that
// stops and closes them). The page has only its idle timer to go on: no
// byte for 40 s (the server sends a comment every 15 s) and the stream is
// taken for dead (web/static/api.js, docs/wallboard.md).

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// boardIdle is the page's idle limit (api.js stream idleMs).
const boardIdle = 40 * time.Second

func TestWallboardStaleWhenStreamSilent(t *testing.T) {
	ctx := browser(t)
	b := &boardApp{t: t, cfg: newBoardConfig(t)}
	b.start()
	p := newFreezeProxy(t, b.a.HTTPAddr().String())
	base := "http://" + p.addr()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/wallboard"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), boardToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-queue="wait"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the stream opens", statusJS, "live", 10*time.Second)
	waitFor(t, ctx, "no banner while live", staleJS, "true", time.Second)

	// Silence: the page is told nothing, so it must notice by itself.
	p.freeze()
	frozen := time.Now()
	waitFor(t, ctx, "stale banner shown", staleJS, "false", boardIdle+30*time.Second)
	t.Logf("stale %v after the stream went silent", time.Since(frozen).Round(100*time.Millisecond))
	if time.Since(frozen) < boardIdle-5*time.Second {
		t.Errorf("stale after %v of silence: the page gave up before its idle limit (%v), on something else", time.Since(frozen), boardIdle)
	}
	if got := eval(t, ctx, statusJS); got != "reconnecting…" {
		t.Errorf("status while stale: %q, want reconnecting…", got)
	}
	if got := eval(t, ctx, tileSel+`?.classList.contains('stale')`); got != "true" {
		t.Error("the queue tile is not greyed while stale")
	}
	waitFor(t, ctx, "stale banner ticks", `/^\d+ s ago$/.test(document.getElementById('stale-ago').textContent)`, "true", 3*time.Second)

	// The network is back (the server never went away): the page
	// reconnects by itself, the banner goes, and events show again.
	p.thaw()
	waitFor(t, ctx, "stale banner gone", staleJS, "true", boardIdle+30*time.Second)
	waitFor(t, ctx, "live again", statusJS, "live", 5*time.Second)
	if got := eval(t, ctx, tileSel+`?.classList.contains('stale')`); got != "false" {
		t.Error("the queue tile is still greyed once live")
	}
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := cli.Dial(cctx, "sip:300@"+b.a.SIPAddrs()["udp"].String(), sip.DialOptions{From: "0281234569"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a caller after the silence", waitingJS, "1", 10*time.Second)
	_ = call.Hangup(cctx)
	waitFor(t, ctx, "the caller gone", waitingJS, "0", 10*time.Second)
}

// freezeProxy relays TCP connections to a server. Frozen, it holds every
// byte, both ways, on old connections and new ones, and closes nothing:
// to the browser the server is silent, not gone. Thawed, what it held
// flows on.
type freezeProxy struct {
	ln      net.Listener
	to      string
	mu      sync.Mutex
	open    chan struct{} // closed while bytes flow
	conns   map[net.Conn]bool
	closing chan struct{}
	wg      sync.WaitGroup
}

func newFreezeProxy(t *testing.T, to string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, to: to, open: make(chan struct{}), conns: map[net.Conn]bool{}, closing: make(chan struct{})}
	close(p.open)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[d] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); p.relay(d, c) }()
			go func() { defer p.wg.Done(); p.relay(c, d) }()
		}
	}()
	t.Cleanup(func() {
		close(p.closing)
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezeProxy) addr() string { return p.ln.Addr().String() }

// relay copies src to dst, each chunk only while the proxy is thawed;
// either side closing closes both.
func (p *freezeProxy) relay(dst, src net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			select {
			case <-open:
			case <-p.closing:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF, reset or closed: the other side is gone
			return
		}
	}
}

// freeze holds every byte from now on.
func (p *freezeProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // frozen already
	}
}

// thaw lets what was held, and what follows, flow.
func (p *freezeProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// A cluster node's board says "stale" when the node's copy of the leader's
// view is older than cluster.view_max_age, the bound the API gives with it
// (view_max_age_ms), not a bound of the page's own. The view stops moving
// while a test transaction holds acd_view's row: the leader's commits,
// which write the view, wait on it.
func TestWallboardViewStaleAtViewMaxAge(t *testing.T) {
	const maxAge = 8 * time.Second // above the page's old fixed 5 s
	ctx := browser(t)
	cfg := newBoardConfig(t)
	url := pgtest.Schema(t)
	cfg.Database.URL = url
	cfg.Cluster = config.Cluster{Enabled: true, Node: "board", NodeTimeout: time.Minute, Heartbeat: time.Second, ViewMaxAge: maxAge}
	cfg.SIP.NonceSecret = strings.Repeat("n", config.MinNonceSecret)
	b := &boardApp{t: t, cfg: cfg}
	b.start()
	base := "http://" + b.a.HTTPAddr().String()
	// viewAge is what the node's API says of its view.
	viewAge := func() (age, bound time.Duration) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/queues", nil)
		req.Header.Set("Authorization", "Bearer "+boardToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Age *int64 `json:"view_age_ms"`
			Max *int64 `json:"view_max_age_ms"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Age == nil || out.Max == nil {
			t.Fatalf("GET /api/v1/queues: %d, %v; view_age_ms %v, view_max_age_ms %v", resp.StatusCode, err, out.Age, out.Max)
		}
		return time.Duration(*out.Age) * time.Millisecond, time.Duration(*out.Max) * time.Millisecond
	}
	deadline := time.Now().Add(20 * time.Second)
	for { // the first view: the node leads, alone
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster node is not ready after 20 s")
		}
		time.Sleep(50 * time.Millisecond) // polling readiness with a deadline
	}
	if _, bound := viewAge(); bound != maxAge {
		t.Fatalf("view_max_age_ms %s; want cluster.view_max_age %s", bound, maxAge)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/wallboard"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), boardToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-queue="wait"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the stream opens", statusJS, "live", 10*time.Second)
	viewStaleJS := `document.body.classList.contains('view-stale')`
	if got := eval(t, ctx, viewStaleJS); got != "false" {
		t.Fatal("view-stale with a fresh view")
	}

	hold, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close(context.Background())
	tx, err := hold.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM acd_view WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	// Past the old fixed 5 s, short of view_max_age: not stale.
	for deadline := time.Now().Add(3 * maxAge); ; {
		age, _ := viewAge()
		if age > 6500*time.Millisecond {
			break
		}
		if got := eval(t, ctx, viewStaleJS); got != "false" {
			t.Fatalf("stale with a view %s old, under cluster.view_max_age %s", age, maxAge)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view is only %s old %s after acd_view was locked", age, 3*maxAge)
		}
		time.Sleep(100 * time.Millisecond) // polling the view's age with a deadline
	}
	if got := eval(t, ctx, viewStaleJS); got != "false" {
		t.Fatal("stale with a view 6.5 s old, under cluster.view_max_age 8 s")
	}
	waitFor(t, ctx, "stale past view_max_age", viewStaleJS, "true", 5*time.Second)
	if age, _ := viewAge(); age <= maxAge {
		t.Fatalf("stale with a view %s old; cluster.view_max_age is %s", age, maxAge)
	}
	if got := eval(t, ctx, statusJS); !strings.HasPrefix(got, "stale: cluster view ") {
		t.Errorf("status while the view is stale: %q", got)
	}
	if got := eval(t, ctx, tileSel+`?.classList.contains('stale')`); got != "true" {
		t.Error("the queue tile is not greyed while the view is stale")
	}

	// The view moves again: the board is live at the next read.
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "fresh view", viewStaleJS, "false", 10*time.Second)
	waitFor(t, ctx, "live again", statusJS, "live", 5*time.Second)
}
