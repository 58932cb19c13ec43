package sip

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// TestMediaSourceFromSignalling: a caller behind NAT names a private
// address (127.0.0.5) in its SDP while its SIP and RTP come from
// 127.0.0.1. Strict RTP accepts its RTP only because the server tells
// media where the INVITE (and later the re-INVITE) came from, and the
// client only sends at once because it knows where the 200 came from;
// leave any of the three out and the call has no audio.
func TestMediaSourceFromSignalling(t *testing.T) {
	prompt := media.NewPromptPCM("tone", media.Tone([]float64{440}, 200*time.Millisecond))
	played := make(chan error, 1)
	again := make(chan struct{})
	calls := make(chan *Call, 1)
	r := newRig(t, HandlerFunc(func(ctx context.Context, c *Call) {
		calls <- c
		played <- c.Play(ctx, prompt)
		select {
		case <-again:
		case <-ctx.Done():
			return
		}
		played <- c.Play(ctx, prompt)
		<-ctx.Done()
	}), nil)
	cli := startClient(t, ClientConfig{Addr: "127.0.0.1:0", PublicAddr: "127.0.0.5", Logger: testLogger(t)})
	defer cli.Close()
	oc, err := cli.Dial(r.ctx, r.uri("100"), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var heard atomic.Int64
	oc.Media().SetAudioSink(func([]int16) { heard.Add(1) })
	talk, stop := context.WithCancel(r.ctx)
	defer stop()
	go func() { _ = oc.Media().Play(talk, media.NewPromptPCM("silence", make([]int16, 20*media.SampleRate))) }()
	c := <-calls
	real := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), oc.Media().LocalAddr().Port())

	wait := func(step string) {
		t.Helper()
		select {
		case err := <-played:
			if err != nil {
				t.Fatalf("%s: Play: %v", step, err)
			}
		case <-r.ctx.Done():
			t.Fatalf("%s: the prompt never played: %+v", step, c.Media().Stats())
		}
		if st := c.Media().Stats(); st.RemoteAddr != real || st.PacketsRejected != 0 {
			t.Fatalf("%s: server media %+v, want latched to %v", step, st, real)
		}
	}
	wait("answer")
	if heard.Load() == 0 {
		t.Fatal("the caller heard nothing")
	}
	sent := c.Media().Stats().PacketsSent

	// A re-INVITE naming another private port: media learns again, from
	// the re-INVITE's source.
	offer, err := BuildOffer(LocalSDP{Addr: netip.MustParseAddrPort("127.0.0.5:40002"), SessionID: 9, Version: 2}, []media.Codec{media.PCMU}, 0, SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if res := reinvite(t, r.ctx, oc, offer); res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d", res.StatusCode)
	}
	close(again)
	wait("re-INVITE")
	if n := c.Media().Stats().PacketsSent - sent; n < 10 {
		t.Fatalf("%d packets sent after the re-INVITE, want the 10 of the prompt", n)
	}
	stop()
	if err := oc.Hangup(r.ctx); err != nil {
		t.Fatal(err)
	}
}
