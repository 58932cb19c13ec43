package media

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestReceiveTap: the tap gets every audio packet with its RTP timing and
// decoded PCM, beside the audio sink (both see the same frames); telephone
// events are not audio; nil removes the tap.
func TestReceiveTap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		s, c := memSession(t, n, addrA, SessionConfig{})
		if err := s.Start(remoteAt(addrB)); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var frames []Frame
		sinks := 0
		s.SetAudioSink(func([]int16) { mu.Lock(); sinks++; mu.Unlock() })
		s.SetReceiveTap(func(f Frame) {
			f.PCM = append([]int16(nil), f.PCM...)
			mu.Lock()
			frames = append(frames, f)
			mu.Unlock()
		})
		tone := Tone([]float64{1000}, 20*time.Millisecond)
		payload := make([]byte, len(tone))
		encodeG711(PCMU, payload, tone)
		c.inject(addrB, rtpBytes(0, 7, 1600, payload))
		c.inject(addrB, rtpBytes(0, 9, 1920, payload)) // seq 8 lost: the timestamp says where
		c.inject(addrB, rtpBytes(101, 10, 2080, []byte{11, 0x80, 0, 160}))
		synctest.Wait()
		s.SetReceiveTap(nil)
		c.inject(addrB, rtpBytes(0, 11, 2240, payload))
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(frames) != 2 || sinks != 3 {
			t.Fatalf("%d frames tapped, %d sunk; want 2 and 3", len(frames), sinks)
		}
		for i, want := range []struct {
			seq uint16
			ts  uint32
		}{{7, 1600}, {9, 1920}} {
			f := frames[i]
			if f.Sequence != want.seq || f.Timestamp != want.ts || f.SSRC != 0x1234 || len(f.PCM) != 160 {
				t.Errorf("frame %d: seq %d ts %d ssrc %x, %d samples", i, f.Sequence, f.Timestamp, f.SSRC, len(f.PCM))
			}
			if share := ToneShare(f.PCM, 1000); share < 0.8 {
				t.Errorf("frame %d: 1 kHz share %.2f after G.711", i, share)
			}
		}
	})
}
