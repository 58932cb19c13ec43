package app

// The wallboard's "stale" banner when the event stream goes silent: the
// server's host hangs or the network between drops everything, and no
// connection is closed (TestWallboardInChromium covers a server that
// stops and closes them). The page has only its idle timer to go on: no
// byte for 40 s (the server sends a comment every 15 s) and the stream is
// taken for dead (web/static/api.js, docs/wallboard.md).

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/sip"
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
