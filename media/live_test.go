package media

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

// Live audio (WriteAudio) with nothing else playing leaves at once; with a
// prompt playing it is paced and mixed. These tests check both paths and
// the stream's continuity across switches between them.

func constantPCM(v int16, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// checkStream fails unless pkts are one RTP stream: one SSRC, consecutive
// sequence numbers (none repeated or skipped) and timestamps that advance
// by at least one frame per packet (never backwards).
func checkStream(t *testing.T, pkts []rtpAt) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		p, k := pkts[i-1], pkts[i]
		if k.SSRC != p.SSRC {
			t.Fatalf("packet %d: SSRC %x, was %x", i, k.SSRC, p.SSRC)
		}
		if k.SequenceNumber != p.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, k.SequenceNumber, p.SequenceNumber)
		}
		if d := int32(k.Timestamp - p.Timestamp); d < int32(len(p.Payload)) {
			t.Fatalf("packet %d: timestamp advanced %d after a %d-sample frame", i, d, len(p.Payload))
		}
	}
}

// TestWriteAudioImmediate: a bridged frame with nothing playing is sent at
// once, in the caller's goroutine, as its own packet with continuous
// timestamps; after a pause the talkspurt restarts with the marker bit.
func TestWriteAudioImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		frame := Tone([]float64{500}, 20*time.Millisecond)
		var written []time.Time
		for i := 0; i < 10; i++ {
			// An irregular phase, as a relayed stream with jitter has.
			time.Sleep(time.Duration(15+i%3*5) * time.Millisecond)
			written = append(written, time.Now())
			a.WriteAudio(frame)
			// Sent before WriteAudio returned: no goroutine involved.
			if got := len(peer.in); got != i+1 {
				t.Fatalf("after write %d: %d packets sent", i, got)
			}
		}
		time.Sleep(time.Second)
		written = append(written, time.Now())
		a.WriteAudio(frame)
		pkts := drain(t, peer)
		if len(pkts) != 11 {
			t.Fatalf("%d packets, want 11", len(pkts))
		}
		checkStream(t, pkts)
		want := make([]byte, 160)
		encodeG711(PCMU, want, frame)
		for i, k := range pkts {
			if !k.at.Equal(written[i]) {
				t.Fatalf("frame %d sent %v after it was written", i, k.at.Sub(written[i]))
			}
			if k.Marker != (i == 0 || i == 10) {
				t.Fatalf("frame %d marker %v", i, k.Marker)
			}
			if string(k.Payload) != string(want) {
				t.Fatalf("frame %d payload differs", i)
			}
		}
		for i := 1; i < 10; i++ {
			if d := pkts[i].Timestamp - pkts[i-1].Timestamp; d != 160 {
				t.Fatalf("frame %d: timestamp +%d inside a talkspurt, want +160", i, d)
			}
		}
		// After the pause the timestamp follows the clock.
		if d := pkts[10].Timestamp - pkts[9].Timestamp; d < uint32(time.Second*SampleRate/time.Second) {
			t.Fatalf("timestamp advanced %d over a 1 s pause", d)
		}
		if st := a.Stats(); st.LiveDirect != 11 || st.LiveDrops != 0 || st.PacketsSent != 11 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestWriteAudioTranscodes: the immediate path encodes in this leg's codec.
func TestWriteAudioTranscodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		r := remoteAt(addrB)
		r.Codec, r.PayloadType = PCMA, 8
		a.Start(r)
		frame := Tone([]float64{700}, 20*time.Millisecond)
		a.WriteAudio(frame)
		pkts := drain(t, peer)
		want := make([]byte, 160)
		encodeG711(PCMA, want, frame)
		if len(pkts) != 1 || pkts[0].PayloadType != 8 || string(pkts[0].Payload) != string(want) {
			t.Fatalf("got %d packets, want one PCMA frame", len(pkts))
		}
	})
}

// TestWriteAudioSwitchesToPacedForPrompt: a bridge relaying frames at once,
// then a prompt (a whisper) mixed in on the pacer's slots, then back to
// immediate sending: one stream throughout, nothing lost, no duplicate or
// skipped sequence number, no marker in the middle.
func TestWriteAudioSwitchesToPacedForPrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		const frames = 40
		done := make(chan struct{})
		var written []time.Time
		go func() { // the other leg's reader: a frame every 20 ms, phase 7 ms
			defer close(done)
			time.Sleep(7 * time.Millisecond)
			for i := 0; i < frames; i++ {
				written = append(written, time.Now())
				a.WriteAudio(constantPCM(500, 160))
				time.Sleep(20 * time.Millisecond)
			}
		}()
		time.Sleep(200 * time.Millisecond)
		// 10 frames of prompt while the bridge runs.
		if err := a.Play(context.Background(), NewPromptPCM("whisper", constantPCM(1000, 1600))); err != nil {
			t.Fatal(err)
		}
		<-done
		time.Sleep(100 * time.Millisecond)
		pkts := drain(t, peer)
		checkStream(t, pkts)
		var mixed, alone int
		pcm := make([]int16, 160)
		for i, k := range pkts {
			if k.Marker != (i == 0) {
				t.Fatalf("packet %d marker %v: the talkspurt restarted", i, k.Marker)
			}
			decodeG711(PCMU, pcm, k.Payload)
			switch v := pcm[80]; {
			case v > 1400 && v < 1600:
				mixed++ // live 500 + prompt 1000
			case v > 400 && v < 600:
				alone++
			case v > 900 && v < 1100:
				// the prompt alone: its first slot came before a live frame
			default:
				t.Fatalf("packet %d sample %d", i, v)
			}
		}
		st := a.Stats()
		// Every live frame was sent (none dropped); the prompt was mixed
		// with live audio on its slots.
		if st.LiveDrops != 0 || mixed+alone != frames {
			t.Fatalf("%d mixed + %d live alone of %d frames; stats %+v", mixed, alone, frames, st)
		}
		if mixed < 9 || st.LiveDirect < frames-12 || st.LiveDirect == frames {
			t.Fatalf("%d mixed, %d sent at once of %d", mixed, st.LiveDirect, frames)
		}
		// Only live frames written while the prompt was playing waited for a
		// slot (up to one frame); the others left at once.
		// The live frames are written at phase 7 ms, the pacer's slots are
		// at phase 0 (Play started at 200 ms).
		var onSlot int
		for _, k := range pkts {
			if k.at.Sub(written[0])%(20*time.Millisecond) != 0 {
				onSlot++
			}
		}
		if onSlot != 10 {
			t.Fatalf("%d packets on the pacer's slots, want the prompt's 10", onSlot)
		}
	})
}

// TestWriteAudioOtherPtimePaced: frames of another size than this leg's
// ptime (legs with different ptimes) go through the pacer.
func TestWriteAudioOtherPtimePaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		a.WriteAudio(constantPCM(500, 240)) // a 30 ms frame on a 20 ms leg
		synctest.Wait()
		time.Sleep(100 * time.Millisecond)
		pkts := drain(t, peer)
		if len(pkts) != 2 || a.Stats().LiveDirect != 0 {
			t.Fatalf("%d packets (%d at once), want 2 paced", len(pkts), a.Stats().LiveDirect)
		}
		checkStream(t, pkts)
	})
}

// TestWriteAudioAfterDigit: an RFC 4733 digit sent during a bridge is paced;
// live audio waits for it, and the first audio after the event carries the
// marker bit (RFC 4733 §2.5.1.4 then RFC 3551 §4.1).
func TestWriteAudioAfterDigit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		a.WriteAudio(constantPCM(500, 160))
		time.Sleep(20 * time.Millisecond)
		if err := a.SendDigit(context.Background(), '5', 60*time.Millisecond, SourceRFC4733); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		a.WriteAudio(constantPCM(500, 160))
		pkts := drain(t, peer)
		last := pkts[len(pkts)-1]
		if last.PayloadType != 0 || !last.Marker || pkts[len(pkts)-2].PayloadType != 101 {
			t.Fatalf("last packet pt %d marker %v", last.PayloadType, last.Marker)
		}
		for i := 1; i < len(pkts); i++ {
			if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 {
				t.Fatalf("packet %d: seq %d after %d", i, pkts[i].SequenceNumber, pkts[i-1].SequenceNumber)
			}
			if int32(pkts[i].Timestamp-pkts[i-1].Timestamp) < 0 {
				t.Fatalf("packet %d: timestamp went backwards", i)
			}
		}
	})
}

// TestWriteAudioConcurrentRace writes live audio from one goroutine while
// prompts start and stop from another, over real sockets, under -race: the
// receiver must see one stream with no duplicate or skipped sequence
// number and every packet sent received.
func TestWriteAudioConcurrentRace(t *testing.T) {
	defer goleak.VerifyNone(t)
	a, err := NewSession(SessionConfig{IP: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rx, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := a.Start(Remote{Addr: rx.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, Signal: loopback}); err != nil {
		t.Fatal(err)
	}
	var got []rtpAt
	var rmu sync.Mutex
	rdone := make(chan struct{})
	arrived := make(chan struct{}, 1) // a packet was received
	go func() {
		defer close(rdone)
		buf := make([]byte, 1500)
		for {
			n, err := rx.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
				continue
			}
			rmu.Lock()
			got = append(got, rtpAt{Packet: p, at: time.Now()})
			rmu.Unlock()
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := NewPromptPCM("p", constantPCM(300, 800)) // 5 frames
		for ctx.Err() == nil {
			_ = a.Play(ctx, p)
			time.Sleep(37 * time.Millisecond)
		}
	}()
	frame := constantPCM(500, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; i < 100; i++ {
		<-tick.C
		a.WriteAudio(frame)
	}
	tick.Stop()
	cancel()
	wg.Wait()
	// Wait, not sleep: until the sender has nothing left (no prompt, no live
	// samples: checked under txMu, so no packet is half sent) and every
	// packet sent has arrived.
	idle := func() (uint64, bool) {
		a.txMu.Lock()
		defer a.txMu.Unlock()
		a.mu.Lock()
		quiet := a.play == nil && len(a.live) == 0
		a.mu.Unlock()
		return a.Stats().PacketsSent, quiet
	}
	deadline := time.After(5 * time.Second)
	var sent uint64
	for {
		n, quiet := idle()
		rmu.Lock()
		have := uint64(len(got))
		rmu.Unlock()
		if quiet && have >= n {
			sent = n
			break
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("received %d of %d packets (sender idle: %v)", have, n, quiet)
		}
	}
	rx.Close()
	<-rdone
	rmu.Lock()
	defer rmu.Unlock()
	if uint64(len(got)) != sent {
		t.Fatalf("received %d of %d packets", len(got), sent)
	}
	if st := a.Stats(); st.LiveDirect == 0 || st.LiveDirect == 100 {
		t.Fatalf("%d of 100 frames sent at once: want both paths used", st.LiveDirect)
	}
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, got[i].SequenceNumber, got[i-1].SequenceNumber)
		}
		if d := int32(got[i].Timestamp - got[i-1].Timestamp); d < 160 {
			t.Fatalf("packet %d: timestamp +%d", i, d)
		}
	}
}
