package sip

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/events"
)

// goroutinesPerCall is what one live call costs with the server and the
// client in one process. Server side, 1: the INVITE's goroutine parked in
// Handler.ServeCall; the call's media watchdog (watchMedia) is registered
// on the session (media.Session.AfterDone) and holds no goroutine. Client
// side, 1: the call's watch. Nothing else per call: RTP is read by media's
// pollers (media/poller_linux.go, one goroutine per core over every socket)
// and sent by the port pool's pacers (media/pacer.go, at most one goroutine
// per core, running only while some call has audio to send; these calls
// are silent), the media inactivity timeout and sipgo's transaction timers
// run on time.AfterFunc (finished transactions linger in memory for up to
// 64*T1 but hold no goroutine), and the ACK that matches a 2xx is taken.
const goroutinesPerCall = 1 + 1

// TestGoroutinesPerCall measures what one live call costs, exactly, and
// checks that everything returns to the baseline once the calls end.
func TestGoroutinesPerCall(t *testing.T) {
	const n = 20
	h := newWaitHandler()
	r := newRig(t, h, nil)
	// Warm up: one call so lazily started pieces exist in the baseline.
	oc := r.dial("100", DialOptions{})
	<-h.calls
	oc.Hangup(r.ctx)
	r.waitEvent(events.CallEnded)
	// Calls held up during the count keep every RTP poller running (one
	// per core, started with their first socket, gone with their last),
	// so the count is of the calls alone.
	held := make([]*OutboundCall, 0, runtime.GOMAXPROCS(0))
	for range cap(held) {
		held = append(held, r.dial("100", DialOptions{}))
		<-h.calls
	}
	ignore := goleak.IgnoreCurrent()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	calls := make([]*OutboundCall, 0, n)
	for range n {
		calls = append(calls, r.dial("100", DialOptions{}))
		<-h.calls
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perCall := float64(runtime.NumGoroutine()-g0) / n
	heap := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("per live call (server+client side, both in this process): %.1f goroutines, %d KiB heap", perCall, heap/1024)
	if perCall != goroutinesPerCall {
		t.Errorf("%.2f goroutines per call, want %d (a goroutine added or lost per call?)", perCall, goroutinesPerCall)
	}
	for _, oc := range calls {
		if err := oc.Hangup(r.ctx); err != nil {
			t.Error(err)
		}
	}
	for range n {
		r.waitEvent(events.CallEnded)
	}
	goleak.VerifyNone(t, ignore)
	for _, oc := range held {
		if err := oc.Hangup(r.ctx); err != nil {
			t.Error(err)
		}
	}
	for range held {
		r.waitEvent(events.CallEnded)
	}
	if r.srv.ActiveCalls() != 0 || r.pool.InUse() != 0 {
		t.Errorf("after hangup: %d calls, %d ports", r.srv.ActiveCalls(), r.pool.InUse())
	}
}

func BenchmarkCallSetupTeardown(b *testing.B) {
	h := HandlerFunc(func(ctx context.Context, c *Call) { <-ctx.Done() })
	r := newBenchRig(b, h)
	b.ReportAllocs()
	for b.Loop() {
		oc, err := r.cli.Dial(r.ctx, "sip:100@"+r.srv.Addr().String(), DialOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := oc.Hangup(r.ctx); err != nil {
			b.Fatal(err)
		}
		for e := range r.sub.C {
			if e.Type == events.CallEnded {
				break
			}
		}
	}
}

func BenchmarkNegotiateOffer(b *testing.B) {
	offer := []byte("v=0\r\no=root 1 1 IN IP4 203.0.113.10\r\ns=-\r\nc=IN IP4 203.0.113.10\r\nt=0 0\r\nm=audio 14582 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
	b.ReportAllocs()
	for b.Loop() {
		n, err := NegotiateOffer(offer, both)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := BuildAnswer(LocalSDP{Addr: n.Remote}, n); err != nil {
			b.Fatal(err)
		}
	}
}

type benchRig struct {
	srv *Server
	cli *Client
	sub *events.Subscription
	ctx context.Context
}

func newBenchRig(b *testing.B, h Handler) *benchRig {
	b.Helper()
	pool, err := mediaPool()
	if err == nil {
		// b.N calls in a row would exhaust the small test range while
		// released ports wait out their drain time.
		pool.SetDrain(0)
	}
	if err != nil {
		b.Fatal(err)
	}
	bus := events.NewBus()
	srv, err := NewServer(ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: bus, InactivityTimeout: 10 * time.Second}, h, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(context.Background()) }()
	cli := startClient(b, ClientConfig{Addr: "127.0.0.1:0"})
	r := &benchRig{srv: srv, cli: cli, sub: bus.Subscribe(1024), ctx: context.Background()}
	b.Cleanup(func() {
		cli.Close()
		srv.Close()
		<-done
		r.sub.Close()
	})
	return r
}
