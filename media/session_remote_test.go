package media

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Remote handling (latching, re-INVITE), live audio and lifecycle, under
// testing/synctest on memNet.

// eventBytes is an RFC 4733 end packet for key k (event code) from a
// stream with the given sequence number.
func eventBytes(seq uint16, event uint8) []byte {
	return rtpBytes(101, seq, uint32(seq)*160, TelephoneEvent{Event: event, End: true, Volume: 10, Duration: 800}.AppendTo(nil))
}

// audioSeen counts frames delivered to the audio sink (the bridge and
// recording path).
type audioSeen struct {
	mu sync.Mutex
	n  int
}

func (a *audioSeen) sink([]int16) { a.mu.Lock(); a.n++; a.mu.Unlock() }
func (a *audioSeen) frames() int  { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

// TestStrictRTPSources walks a NAT-style call (SDP names a private
// address, RTP and SIP come from the public one) through the source rules
// while an attacker sprays RTP and RFC 4733 digits at the port.
func TestStrictRTPSources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, c := memSession(t, n, addrA, SessionConfig{})
		var heard audioSeen
		a.SetAudioSink(heard.sink)
		sdp := n.listen(addrB)                    // the private SDP address (nobody there behind NAT)
		caller := n.listen("192.0.2.7:31000")     // where the caller really is
		attacker := n.listen("198.51.100.9:4000") // a third party
		r := remoteAt(addrB)
		r.Signal = netip.MustParseAddr("192.0.2.7") // the INVITE came from here
		if err := a.Start(r); err != nil {
			t.Fatal(err)
		}
		play := func() <-chan error {
			done := make(chan error, 1)
			go func() { done <- a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160))) }()
			return done
		}
		rejected := uint64(0)
		spray := func(seq uint16) {
			for i := range uint16(5) { // in sequence, so a count-based re-latch would move
				c.inject("198.51.100.9:4000", rtpBytes(0, seq+i, uint32(seq+i)*160, make([]byte, 160)))
				c.inject("198.51.100.9:4000", eventBytes(seq+i, 5))
			}
			rejected += 10
			synctest.Wait()
		}

		// An unnegotiated payload type is ignored, the attacker rejected.
		c.inject("198.51.100.1:9", rtpBytes(96, 1, 0, []byte{1}))
		spray(100)
		// The SDP address is not on the signalling IP: nothing is sent
		// before the caller is heard, the prompt waits.
		done := play()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Play returned %v before the far end was heard", err)
		default:
		}
		if got := len(drain(t, sdp)) + len(drain(t, attacker)); got != 0 {
			t.Fatalf("%d packets sent before the far end was heard", got)
		}
		if st := a.Stats(); st.Latched || st.PacketsRejected != rejected || st.PacketsIgnored != 1 || st.PacketsReceived != 0 {
			t.Fatalf("before the caller: %+v", st)
		}
		// The caller's first packet (from the signalling IP) latches and
		// releases the prompt, to the caller's real address.
		c.inject("192.0.2.7:31000", rtpBytes(0, 1, 160, make([]byte, 160)))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := len(drain(t, caller)); got != 1 {
			t.Fatalf("caller got %d packets, want 1", got)
		}
		// The attacker, in sequence and with digits, changes nothing.
		spray(200)
		if err := <-play(); err != nil {
			t.Fatal(err)
		}
		if got, lost := len(drain(t, caller)), len(drain(t, attacker)); got != 1 || lost != 0 {
			t.Fatalf("caller got %d packets, attacker %d", got, lost)
		}
		// Another port on the signalling IP (a re-bound NAT port) is on
		// probation: its digits are not taken, its audio not heard; the
		// third packet in sequence moves the latch within LearnWindow.
		moved := n.listen("192.0.2.7:31002")
		c.inject("192.0.2.7:31002", eventBytes(10, 7))
		c.inject("192.0.2.7:31002", eventBytes(11, 7))
		rejected += 2
		synctest.Wait()
		if d := readDigits(a); d != "" || heard.frames() != 1 {
			t.Fatalf("probation leaked digits %q or audio (%d frames)", d, heard.frames())
		}
		c.inject("192.0.2.7:31002", rtpBytes(0, 12, 12*160, make([]byte, 160)))
		synctest.Wait()
		if err := <-play(); err != nil {
			t.Fatal(err)
		}
		st := a.Stats()
		if got := len(drain(t, moved)); got != 1 || st.Relatches != 1 || st.RemoteAddr != mustAP("192.0.2.7:31002") {
			t.Fatalf("re-latch: %d packets, stats %+v", got, st)
		}
		// After LearnWindow the latch is locked, even for the caller's IP.
		time.Sleep(LearnWindow)
		for i := range uint16(5) {
			c.inject("192.0.2.7:31000", rtpBytes(0, 20+i, uint32(20+i)*160, make([]byte, 160)))
		}
		rejected += 5
		spray(300)
		st = a.Stats()
		if st.RemoteAddr != mustAP("192.0.2.7:31002") || st.PacketsRejected != rejected || st.PacketsReceived != 2 || heard.frames() != 2 {
			t.Fatalf("after the window: %+v, %d frames heard", st, heard.frames())
		}
		if d := readDigits(a); d != "" {
			t.Fatalf("digits %q taken from rejected sources", d)
		}
		if got := len(drain(t, attacker)); got != 0 {
			t.Fatalf("attacker got %d packets", got)
		}
	})
}

// TestStrictRTPReinvite: a phone that moves to a new port with a
// re-INVITE keeps its call (stale packets from the old port do not pin
// the latch), a refresh with the same SDP keeps the latch, and a move to a
// new IP (roaming) leaves the old IP behind.
func TestStrictRTPReinvite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, c := memSession(t, n, addrA, SessionConfig{})
		old := n.listen(addrB)
		a.Start(remoteAt(addrB))
		c.inject(addrB, rtpBytes(0, 1, 160, make([]byte, 160)))
		synctest.Wait()
		one := func(to *memConn) {
			t.Helper()
			if err := a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160))); err != nil {
				t.Fatal(err)
			}
			if got := len(drain(t, to)); got != 1 {
				t.Fatalf("%v got %d packets, want 1", to.addr, got)
			}
		}
		one(old)
		if err := a.SetRemote(remoteAt(addrB)); err != nil { // a session-timer refresh
			t.Fatal(err)
		}
		if st := a.Stats(); !st.Latched {
			t.Fatalf("a refresh with the same SDP reset the latch: %+v", st)
		}

		// New port 5002, same IP; PCMA now. Sent to at once (trusted).
		moved := n.listen("10.0.0.2:5002")
		r := remoteAt("10.0.0.2:5002")
		r.Codec, r.PayloadType = PCMA, 8
		if err := a.SetRemote(r); err != nil {
			t.Fatal(err)
		}
		if err := a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160))); err != nil {
			t.Fatal(err)
		}
		got := drain(t, moved)
		if len(got) != 1 || got[0].PayloadType != 8 || got[0].Payload[0] != alawSilence {
			t.Fatalf("after SetRemote: %d packets", len(got))
		}
		// A stale packet from the old port latches first; the new port
		// takes over after three packets in sequence.
		c.inject(addrB, rtpBytes(8, 2, 320, make([]byte, 160)))
		synctest.Wait()
		one(old)
		for i := range uint16(3) {
			c.inject("10.0.0.2:5002", rtpBytes(8, 100+i, uint32(100+i)*160, make([]byte, 160)))
		}
		synctest.Wait()
		one(moved)

		// Roaming: the re-INVITE comes from a new IP with a new address.
		roamed := n.listen("203.0.113.5:7000")
		r = remoteAt("203.0.113.5:7000")
		if err := a.SetRemote(r); err != nil {
			t.Fatal(err)
		}
		before := a.Stats().PacketsRejected
		c.inject("10.0.0.2:5002", rtpBytes(0, 103, 103*160, make([]byte, 160)))
		c.inject("203.0.113.5:7000", rtpBytes(0, 1, 160, make([]byte, 160)))
		synctest.Wait()
		one(roamed)
		if st := a.Stats(); st.PacketsRejected != before+1 || st.RemoteAddr != mustAP("203.0.113.5:7000") {
			t.Fatalf("after roaming: %+v", st)
		}
	})
}

// TestReflectionGuard: an INVITE from one address whose SDP names a third
// party that never sends: nothing is sent there, Play waits, and the
// inactivity timeout ends the session.
func TestReflectionGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{InactivityTimeout: 30 * time.Second})
		victim := n.listen("192.0.2.50:4000")
		r := remoteAt("192.0.2.50:4000")
		r.Signal = netip.MustParseAddr("198.51.100.9") // the attacker's INVITE
		a.Start(r)
		err := a.Play(context.Background(), NewPromptPCM("long", make([]int16, 60*SampleRate)))
		if !errors.Is(err, ErrMediaTimeout) {
			t.Fatalf("Play = %v, want ErrMediaTimeout", err)
		}
		if got := len(drain(t, victim)); got != 0 || a.Stats().PacketsSent != 0 {
			t.Fatalf("victim got %d packets", got)
		}
	})
}

// TestUnansweredSendLimit: media to an address on the signalling IP that
// never answers stops after UnansweredSendLimit (the prompt runs on), and
// resumes when the far end is heard.
func TestUnansweredSendLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, c := memSession(t, n, addrA, SessionConfig{InactivityTimeout: 30 * time.Second})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		t0 := time.Now()
		if err := a.Play(context.Background(), NewPromptPCM("p", make([]int16, 7*SampleRate))); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(t0); el != 7*time.Second-20*time.Millisecond {
			t.Fatalf("Play took %v: the prompt must run on while withheld", el)
		}
		frames := int(UnansweredSendLimit / (20 * time.Millisecond))
		st := a.Stats()
		if got := len(drain(t, peer)); got != frames || st.PacketsSent != uint64(frames) || st.PacketsWithheld != uint64(350-frames) {
			t.Fatalf("sent %d, stats %+v; want %d sent, the rest withheld", got, st, frames)
		}
		c.inject(addrB, rtpBytes(0, 1, 160, make([]byte, 160)))
		synctest.Wait()
		if err := a.Play(context.Background(), NewPromptPCM("p", make([]int16, 1600))); err != nil {
			t.Fatal(err)
		}
		if got := len(drain(t, peer)); got != 10 {
			t.Fatalf("after the far end was heard: %d packets, want 10", got)
		}
		if a.Err() != nil {
			t.Fatal(a.Err())
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
