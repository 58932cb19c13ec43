package media

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
)

// These tests run sessions on memNet inside testing/synctest bubbles: the
// clock is fake, so pacing and timeouts are checked exactly and instantly.

const (
	addrA = "10.0.0.1:4000"
	addrB = "10.0.0.2:5000"
)

func memSession(t *testing.T, n *memNet, addr string, cfg SessionConfig) (*Session, *memConn) {
	t.Helper()
	c := n.listen(addr)
	cfg.Conn = c
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

// remoteAt is a far end at addr whose SDP came from its own IP (the
// ordinary case: media may be sent at once).
func remoteAt(addr string) Remote {
	ap := mustAP(addr)
	return Remote{Addr: ap, Codec: PCMU, PayloadType: 0, DTMFPayloadType: 101, Ptime: 20 * time.Millisecond, Signal: ap.Addr()}
}

// drain parses every packet queued on c.
func drain(t *testing.T, c *memConn) []rtpAt {
	t.Helper()
	var out []rtpAt
	for {
		select {
		case p := <-c.in:
			var pkt rtp.Packet
			if err := pkt.Unmarshal(p.b); err != nil {
				t.Fatal(err)
			}
			out = append(out, rtpAt{pkt, p.at})
		default:
			return out
		}
	}
}

type rtpAt struct {
	rtp.Packet
	at time.Time
}

func rtpBytes(pt uint8, seq uint16, ts uint32, payload []byte) []byte {
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 0x1234}
	b, _ := h.Marshal()
	return append(b, payload...)
}

func TestSessionPacingAndHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		if err := a.Start(remoteAt(addrB)); err != nil {
			t.Fatal(err)
		}
		p := NewPromptPCM("tone", Tone([]float64{440}, time.Second))
		t0 := time.Now()
		if err := a.Play(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(t0); el != 980*time.Millisecond {
			t.Errorf("Play took %v, want 980ms (50 frames, returns after the last is sent)", el)
		}
		pkts := drain(t, peer)
		if len(pkts) != 50 {
			t.Fatalf("%d packets, want 50", len(pkts))
		}
		var payload []byte
		for i, k := range pkts {
			// RFC 3550 §5.1 / RFC 3551 §4.1: consecutive seq, timestamp
			// +160 per 20 ms frame, marker only on the talkspurt's first.
			if k.PayloadType != 0 || k.SSRC != pkts[0].SSRC || k.Marker != (i == 0) {
				t.Fatalf("packet %d: pt %d ssrc %x marker %v", i, k.PayloadType, k.SSRC, k.Marker)
			}
			if k.SequenceNumber != pkts[0].SequenceNumber+uint16(i) || k.Timestamp != pkts[0].Timestamp+uint32(160*i) {
				t.Fatalf("packet %d: seq %d ts %d", i, k.SequenceNumber, k.Timestamp)
			}
			if want := t0.Add(time.Duration(i) * 20 * time.Millisecond); !k.at.Equal(want) {
				t.Fatalf("packet %d sent at +%v, want +%v", i, k.at.Sub(t0), want.Sub(t0))
			}
			payload = append(payload, k.Payload...)
		}
		if string(payload) != string(p.Payload(PCMU)) {
			t.Fatal("payload differs from the prompt's PCMU encoding")
		}
		// Nothing playing: nothing is sent.
		time.Sleep(time.Second)
		if got := drain(t, peer); len(got) != 0 {
			t.Fatalf("%d packets sent while idle", len(got))
		}
		// A new talkspurt: marker again, timestamp follows the clock.
		short := NewPromptPCM("short", make([]int16, 100)) // padded to one frame
		if err := a.Play(context.Background(), short); err != nil {
			t.Fatal(err)
		}
		again := drain(t, peer)
		if len(again) != 1 || !again[0].Marker || len(again[0].Payload) != 160 {
			t.Fatalf("second talkspurt: %d packets", len(again))
		}
		if d := again[0].Timestamp - pkts[0].Timestamp; d != uint32(again[0].at.Sub(t0)*SampleRate/time.Second) {
			t.Fatalf("timestamp advanced %d over %v", d, again[0].at.Sub(t0))
		}
		if st := a.Stats(); st.PacketsSent != 51 || st.CatchUps != 0 || st.LateFrames != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestSessionCatchUp stalls one write by 200 ms: the sender must skip
// ahead (one catch-up) instead of bursting ten frames, and still play the
// whole prompt.
func TestSessionCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c := n.listen(addrA)
		c.onWrite = func(i int) {
			if i == 10 {
				time.Sleep(200 * time.Millisecond) // a stalled sender, on the fake clock
			}
		}
		a, err := NewSession(SessionConfig{Conn: c})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		p := NewPromptPCM("tone", Tone([]float64{440}, time.Second))
		if err := a.Play(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		pkts := drain(t, peer)
		if len(pkts) != 50 {
			t.Fatalf("%d packets, want all 50", len(pkts))
		}
		// The stalled packet 10 goes out late, the slot due then right
		// after it, and from there on the 20 ms schedule resumes: no burst
		// of the nine missed frames.
		for i := 1; i < len(pkts); i++ {
			gap := pkts[i].at.Sub(pkts[i-1].at)
			if i != 11 && gap != 20*time.Millisecond && i != 10 {
				t.Fatalf("packets %d and %d %v apart, want 20ms", i-1, i, gap)
			}
		}
		if st := a.Stats(); st.CatchUps != 1 {
			t.Fatalf("catch-ups %d, want 1", st.CatchUps)
		}
		// The timestamp jumps with the skipped time so the receiver's
		// playout clock stays right.
		if d := pkts[11].Timestamp - pkts[10].Timestamp; d <= 160 {
			t.Fatalf("timestamp after stall advanced %d, want a skip", d)
		}
	})
}

func TestSessionPlayCancelWithinAFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- a.Play(ctx, NewPromptPCM("long", make([]int16, 2*SampleRate))) }()
		time.Sleep(510 * time.Millisecond)
		cancel()
		synctest.Wait()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Play = %v, want context.Canceled", err)
			}
		default:
			t.Fatal("Play did not return at once on cancel")
		}
		time.Sleep(time.Second)
		if got := len(drain(t, peer)); got != 26 {
			t.Fatalf("%d packets, want 26 (0..500 ms), none after the cancel", got)
		}
	})
}

func TestSessionInactivityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, c := memSession(t, n, addrA, SessionConfig{InactivityTimeout: 3 * time.Second})
		a.Start(remoteAt(addrB))
		for i := 0; i < 5; i++ {
			time.Sleep(time.Second)
			c.inject(addrB, rtpBytes(0, uint16(i), uint32(i*160), make([]byte, 160)))
			synctest.Wait()
		}
		time.Sleep(2999 * time.Millisecond)
		synctest.Wait()
		if a.Err() != nil {
			t.Fatalf("timed out early: %v", a.Err())
		}
		// Packets of a payload type we did not negotiate are not media.
		c.inject(addrB, rtpBytes(13, 9, 0, []byte{1}))
		time.Sleep(time.Millisecond)
		synctest.Wait()
		select {
		case <-a.Done():
		default:
			t.Fatal("no media timeout 3s after the last RTP")
		}
		if !errors.Is(a.Err(), ErrMediaTimeout) {
			t.Fatalf("Err = %v", a.Err())
		}
		if err := a.Play(context.Background(), NewPromptPCM("x", make([]int16, 160))); !errors.Is(err, ErrMediaTimeout) {
			t.Fatalf("Play after timeout = %v, want ErrMediaTimeout", err)
		}
	})
}

func TestSessionHoldSuspendsTimeoutAndSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, c := memSession(t, n, addrA, SessionConfig{InactivityTimeout: 2 * time.Second})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		c.inject(addrB, rtpBytes(0, 1, 160, make([]byte, 160))) // the far end answers, then holds
		done := make(chan error, 1)
		go func() { done <- a.Play(context.Background(), NewPromptPCM("p", make([]int16, 800))) }() // 5 frames
		time.Sleep(50 * time.Millisecond)                                                           // frames at 0, 20, 40
		a.SetHold(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.Err() != nil {
			t.Fatalf("media timeout while on hold: %v", a.Err())
		}
		if got := len(drain(t, peer)); got != 3 {
			t.Fatalf("%d packets before/while held, want 3", got)
		}
		a.SetHold(false)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		rest := drain(t, peer)
		if len(rest) != 2 || !rest[0].Marker {
			t.Fatalf("after hold: %d packets (marker %v), want the remaining 2 starting a talkspurt", len(rest), len(rest) > 0 && rest[0].Marker)
		}
	})
}
