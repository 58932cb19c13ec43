package sip

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
)

// watchedConn is a caller's own RTP socket (as the load generator's): it
// counts what the session reads and writes through it, and its Close.
type watchedConn struct {
	*net.UDPConn
	read, written atomic.Int64
	closed        atomic.Bool
}

func newWatchedConn(t *testing.T) *watchedConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &watchedConn{UDPConn: c}
}

func (w *watchedConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, src, err := w.UDPConn.ReadFromUDPAddrPort(b)
	if err == nil {
		w.read.Add(1)
	}
	return n, src, err
}

func (w *watchedConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	w.written.Add(1)
	return w.UDPConn.WriteToUDPAddrPort(b, addr)
}

func (w *watchedConn) Close() error {
	w.closed.Store(true)
	return w.UDPConn.Close()
}

// TestDialMediaConn: a call dialled with DialOptions.MediaConn offers that
// socket's port and carries its RTP both ways through it; the call closes
// it at the end, and a Dial that fails closes it too.
func TestDialMediaConn(t *testing.T) {
	prompt := media.NewPromptPCM("beep", make([]int16, 8000/2))
	heard := make(chan int64, 1)
	r := newRig(t, HandlerFunc(func(ctx context.Context, c *Call) {
		var n atomic.Int64
		c.Media().SetAudioSink(func(pcm []int16) { n.Add(1) })
		if err := c.Play(ctx, prompt); err != nil && ctx.Err() == nil {
			t.Errorf("Play: %v", err)
		}
		<-ctx.Done()
		heard <- n.Load()
	}), func(c *ServerConfig) { c.Accept = func(n string) bool { return n == "100" } })
	wc := newWatchedConn(t)
	oc := r.dial("100", DialOptions{MediaConn: wc})
	if got, want := oc.Media().LocalAddr(), wc.LocalAddr().(*net.UDPAddr).AddrPort(); got != want {
		t.Fatalf("media on %v, want the given socket %v", got, want)
	}
	r.waitEvent(events.CallAnswered)
	deadline := time.After(10 * time.Second)
	frame := make([]int16, 160)
	for wc.read.Load() < 10 {
		oc.Media().WriteAudio(frame) // a phone talks back
		select {
		case <-deadline:
			t.Fatalf("RTP through the given socket: %d read, %d written", wc.read.Load(), wc.written.Load())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := oc.Hangup(r.ctx); err != nil {
		t.Fatal(err)
	}
	if n := <-heard; n == 0 || wc.written.Load() == 0 {
		t.Fatalf("the server heard %d frames; %d packets written through the socket", n, wc.written.Load())
	}
	if !wc.closed.Load() {
		t.Fatal("the call's end did not close its media socket")
	}

	for _, tc := range []struct {
		name, uri string
		o         DialOptions
		dial      func(context.Context, string, DialOptions) (*OutboundCall, error)
	}{
		{"refused number", r.uri("999"), DialOptions{}, r.cli.Dial},
		{"bad From", r.uri("100"), DialOptions{From: "bob"}, r.cli.Dial},
		{"bad number URI", "sip:bob@" + r.srv.Addr().String(), DialOptions{}, r.cli.Dial},
		{"bad contact URI", "sip:", DialOptions{}, r.cli.DialContact},
	} {
		wc := newWatchedConn(t)
		tc.o.MediaConn = wc
		if _, err := tc.dial(r.ctx, tc.uri, tc.o); err == nil {
			t.Fatalf("%s: Dial succeeded", tc.name)
		}
		if !wc.closed.Load() {
			t.Errorf("%s: the failed Dial left its media socket open", tc.name)
		}
	}
}
