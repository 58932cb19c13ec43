package media

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// Remote handling (latching, re-INVITE), live audio and lifecycle, under
// testing/synctest on memNet.

func TestSessionLatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, c := memSession(t, n, addrA, SessionConfig{})
		natted := n.listen("192.0.2.7:31000") // where the far end really is
		other := n.listen("192.0.2.8:32000")
		a.Start(remoteAt(addrB)) // SDP says addrB
		c.inject("198.51.100.1:9", rtpBytes(96, 1, 0, []byte{1}))
		synctest.Wait()
		if st := a.Stats(); st.Latched || st.RemoteAddr != mustAP(addrB) {
			t.Fatalf("latched onto an unnegotiated payload type: %+v", st)
		}
		c.inject("192.0.2.7:31000", rtpBytes(0, 1, 0, make([]byte, 160)))
		synctest.Wait()
		a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160)))
		if got := len(drain(t, natted)); got != 1 {
			t.Fatalf("latched address got %d packets, want 1", got)
		}
		// One packet from elsewhere (spoofed?) does not move the latch;
		// three in sequence (a NAT rebinding) do.
		c.inject("192.0.2.8:32000", rtpBytes(0, 2, 160, make([]byte, 160)))
		synctest.Wait()
		if st := a.Stats(); st.RemoteAddr != mustAP("192.0.2.7:31000") || st.PacketsIgnored != 2 {
			t.Fatalf("a single packet moved the latch: %+v", st)
		}
		c.inject("192.0.2.8:32000", rtpBytes(0, 3, 320, make([]byte, 160)))
		c.inject("192.0.2.8:32000", rtpBytes(0, 4, 480, make([]byte, 160)))
		synctest.Wait()
		a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160)))
		st := a.Stats()
		if got := len(drain(t, other)); got != 1 || st.Relatches != 1 || st.RemoteAddr != mustAP("192.0.2.8:32000") {
			t.Fatalf("re-latch: %d packets, stats %+v", got, st)
		}
		// A re-INVITE resets the latch to the new SDP address.
		r := remoteAt("192.0.2.9:33000")
		r.Codec, r.PayloadType = PCMA, 8
		if err := a.SetRemote(r); err != nil {
			t.Fatal(err)
		}
		newAddr := n.listen("192.0.2.9:33000")
		a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160)))
		got := drain(t, newAddr)
		if len(got) != 1 || got[0].PayloadType != 8 || got[0].Payload[0] != alawSilence {
			t.Fatalf("after SetRemote: %d packets", len(got))
		}
	})
}

func TestSessionWriteAudioDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		frame := Tone([]float64{500}, 20*time.Millisecond)
		// A bridge delivers a frame every 20 ms with a phase of its own
		// (the first 3 ms off the others'): with nothing playing each frame
		// leaves the moment it is written, in one talkspurt.
		var written []time.Time
		for i := 0; i < 10; i++ {
			written = append(written, time.Now())
			a.WriteAudio(frame)
			if i == 0 {
				time.Sleep(3 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		pkts := drain(t, peer)
		if len(pkts) != 10 {
			t.Fatalf("%d packets, want 10", len(pkts))
		}
		for i, k := range pkts {
			if d := k.at.Sub(written[i]); d != 0 {
				t.Fatalf("frame %d waited %v", i, d)
			}
			if k.Marker != (i == 0) {
				t.Fatalf("frame %d marker %v: the talkspurt restarted", i, k.Marker)
			}
		}
		if st := a.Stats(); st.LiveDrops != 0 {
			t.Fatalf("dropped %d samples", st.LiveDrops)
		}
	})
}

func TestSessionLifecycleErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		ctx := context.Background()
		p := NewPromptPCM("p", make([]int16, 160))
		if err := a.Play(ctx, p); !errors.Is(err, ErrNotStarted) {
			t.Fatalf("Play before Start = %v", err)
		}
		if err := a.SetRemote(remoteAt(addrB)); !errors.Is(err, ErrNotStarted) {
			t.Fatalf("SetRemote before Start = %v", err)
		}
		bad := []Remote{{}, {Addr: mustAP(addrB), Codec: 3}, {Addr: mustAP(addrB), Ptime: 5 * time.Millisecond}, {Addr: mustAP(addrB), PayloadType: 0, DTMFPayloadType: 0x80}}
		for _, r := range bad {
			if err := a.Start(r); !errors.Is(err, ErrBadRemote) {
				t.Fatalf("Start(%+v) = %v, want ErrBadRemote", r, err)
			}
		}
		r := remoteAt(addrB)
		r.DTMFPayloadType = 0
		if err := a.Start(r); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(r); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("second Start = %v", err)
		}
		if err := a.SendDigit(ctx, '1', 0, SourceRFC4733); !errors.Is(err, ErrNoTelephoneEvent) {
			t.Fatalf("SendDigit without telephone-event = %v", err)
		}
		if err := a.SendDigit(ctx, 'x', 0, SourceInband); !errors.Is(err, ErrBadDigit) {
			t.Fatalf("SendDigit('x') = %v", err)
		}
		if err := a.SendDigit(ctx, '1', 0, SourceINFO); !errors.Is(err, ErrBadDigitSource) {
			t.Fatalf("SendDigit(INFO) = %v", err)
		}
		// A newer Play supersedes the running one.
		first := make(chan error, 1)
		go func() { first <- a.Play(ctx, NewPromptPCM("long", make([]int16, SampleRate))) }()
		time.Sleep(100 * time.Millisecond)
		if err := a.Play(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := <-first; !errors.Is(err, ErrPlaySuperseded) {
			t.Fatalf("superseded Play = %v", err)
		}
		a.Close()
		if err := a.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		if !errors.Is(a.Err(), ErrSessionClosed) || !errors.Is(a.Play(ctx, p), ErrSessionClosed) {
			t.Fatalf("after Close: Err %v", a.Err())
		}
	})
}

func TestSessionPtimeChange(t *testing.T) {
	if _, err := NewSession(SessionConfig{}); err == nil {
		t.Fatal("NewSession without IP bound a socket")
	}
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		r := remoteAt(addrB)
		r.Ptime = 30 * time.Millisecond
		if err := a.SetRemote(r); err != nil {
			t.Fatal(err)
		}
		if err := a.Play(context.Background(), NewPromptPCM("p", make([]int16, 720))); err != nil {
			t.Fatal(err)
		}
		pkts := drain(t, peer)
		if len(pkts) != 3 {
			t.Fatalf("%d packets, want 3 of 30 ms", len(pkts))
		}
		for i, k := range pkts {
			if len(k.Payload) != 240 || (i > 0 && (k.at.Sub(pkts[i-1].at) != 30*time.Millisecond || k.Timestamp-pkts[i-1].Timestamp != 240)) {
				t.Fatalf("packet %d: %d bytes, %v after the previous", i, len(k.Payload), k.at.Sub(pkts[max(i-1, 0)].at))
			}
		}
	})
}

func TestSessionCloseEndsBlockedCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		a.Start(remoteAt(addrB))
		play := make(chan error, 1)
		dig := make(chan error, 1)
		go func() { play <- a.Play(context.Background(), NewPromptPCM("long", make([]int16, 10*SampleRate))) }()
		go func() { dig <- a.SendDigit(context.Background(), '1', 5*time.Second, SourceInband) }()
		time.Sleep(time.Second)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-play; !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("Play = %v", err)
		}
		if err := <-dig; !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("SendDigit = %v", err)
		}
		select {
		case <-a.Done():
		default:
			t.Fatal("Done not closed")
		}
	})
}
