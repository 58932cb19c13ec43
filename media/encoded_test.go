package media

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// rawFrame is 160 bytes that do not survive a G.711 decode and re-encode
// (µ-law 0x7f, "-0", comes back as 0xff): only a frame forwarded as it
// came keeps them all.
func rawFrame() []byte {
	b := make([]byte, 160)
	for i := range b {
		b[i] = byte(0x70 + i%32)
	}
	return b
}

// TestWriteEncoded: a frame in the leg's own codec leaves at once with its
// bytes untouched, in the leg's own stream; in the other codec it is
// transcoded; both paths count as sent at once and keep one stream.
func TestWriteEncoded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in, leg   Codec
		legPT     uint8
		untouched bool
	}{
		{"same codec forwards the bytes", PCMU, PCMU, 0, true},
		{"other codec transcodes", PCMU, PCMA, 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newMemNet()
				a, _ := memSession(t, n, addrA, SessionConfig{})
				peer := n.listen(addrB)
				r := remoteAt(addrB)
				r.Codec, r.PayloadType = tc.leg, tc.legPT
				a.Start(r)
				in := rawFrame()
				for i := range 3 {
					a.WriteEncoded(tc.in, in)
					if got := len(peer.in); got != i+1 {
						t.Fatalf("after write %d: %d packets sent, want it sent at once", i, got)
					}
					time.Sleep(20 * time.Millisecond)
				}
				pkts := drain(t, peer)
				checkStream(t, pkts)
				pcm := make([]int16, len(in))
				decodeG711(tc.in, pcm, in)
				transcoded := make([]byte, len(in))
				encodeG711(tc.leg, transcoded, pcm)
				want := transcoded
				if tc.untouched {
					want = in
				}
				if string(transcoded) == string(in) {
					t.Fatal("test frame survives transcoding: it cannot tell the paths apart")
				}
				for i, k := range pkts {
					if k.PayloadType != tc.legPT || string(k.Payload) != string(want) {
						t.Fatalf("packet %d: pt %d, payload %x; want pt %d, %x", i, k.PayloadType, k.Payload, tc.legPT, want)
					}
				}
				if st := a.Stats(); st.LiveDirect != 3 || st.PacketsSent != 3 {
					t.Fatalf("stats %+v", st)
				}
			})
		})
	}
}

// TestWriteEncodedWaitsForPrompt: while a prompt plays, an encoded frame
// is queued and mixed on the pacer's slots like WriteAudio's, not sent
// beside the prompt's packets.
func TestWriteEncodedWaitsForPrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		done := make(chan error, 1)
		go func() {
			done <- a.Play(t.Context(), NewPromptPCM("whisper", Tone([]float64{400}, 100*time.Millisecond)))
		}()
		synctest.Wait()
		before := len(peer.in)
		a.WriteEncoded(PCMU, rawFrame())
		if got := len(peer.in); got != before {
			t.Fatalf("%d packets sent by WriteEncoded during a prompt, want 0", got-before)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		checkStream(t, drain(t, peer))
		if st := a.Stats(); st.LiveDirect != 0 {
			t.Fatalf("LiveDirect %d during a prompt", st.LiveDirect)
		}
	})
}

// TestPayloadSink: the payload sink gets each audio frame's bytes as they
// came and replaces the PCM sink; the receive tap still gets the PCM;
// telephone events are not audio; nil puts the PCM sink back.
func TestPayloadSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		s, c := memSession(t, n, addrA, SessionConfig{})
		if err := s.Start(remoteAt(addrB)); err != nil {
			t.Fatal(err)
		}
		var (
			mu      sync.Mutex
			raw     [][]byte
			pcmSunk int
			tapped  int
		)
		s.SetAudioSink(func([]int16) { mu.Lock(); pcmSunk++; mu.Unlock() })
		s.SetReceiveTap(func(f Frame) {
			mu.Lock()
			defer mu.Unlock()
			if len(f.PCM) == 160 {
				tapped++
			}
		})
		s.SetPayloadSink(func(c Codec, p []byte) {
			mu.Lock()
			defer mu.Unlock()
			if c != PCMU {
				t.Errorf("codec %v, want PCMU", c)
			}
			raw = append(raw, append([]byte(nil), p...))
		})
		in := rawFrame()
		c.inject(addrB, rtpBytes(0, 7, 1600, in))
		c.inject(addrB, rtpBytes(101, 8, 1760, []byte{11, 0x80, 0, 160}))
		c.inject(addrB, rtpBytes(0, 9, 1920, in))
		synctest.Wait()
		s.SetPayloadSink(nil)
		c.inject(addrB, rtpBytes(0, 10, 2080, in))
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(raw) != 2 || pcmSunk != 1 || tapped != 3 {
			t.Fatalf("%d payloads, %d PCM frames sunk, %d tapped; want 2, 1, 3", len(raw), pcmSunk, tapped)
		}
		for i, p := range raw {
			if string(p) != string(in) {
				t.Fatalf("payload %d: %x, want %x", i, p, in)
			}
		}
	})
}
