package recording

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// frames cuts pcm into 20 ms frames with RTP timestamps from ts0.
func frames(ssrc, ts0 uint32, pcm []int16) []media.Frame {
	var out []media.Frame
	for i := 0; i+160 <= len(pcm); i += 160 {
		out = append(out, media.Frame{SSRC: ssrc, Timestamp: ts0 + uint32(i), Sequence: uint16(i / 160), PCM: pcm[i : i+160]})
	}
	return out
}

func TestCaptureGaps(t *testing.T) {
	tone := media.Tone([]float64{440}, time.Second) // 50 frames
	tests := []struct {
		name   string
		feed   func(c *Capture)
		len    int // samples
		filled int
		late   int
		silent []int // frame indexes (20 ms) that must be silence
	}{
		{"in order", func(c *Capture) {
			for _, f := range frames(1, 1000, tone) {
				c.Add(f)
			}
		}, 8000, 0, 0, nil},
		{"lost packets become silence by timestamp", func(c *Capture) {
			for i, f := range frames(1, 1000, tone) {
				if i == 10 || i == 11 || i == 30 {
					continue
				}
				c.Add(f)
			}
		}, 8000, 480, 0, []int{10, 11, 30}},
		{"late packet fills its gap, duplicates change nothing", func(c *Capture) {
			fs := frames(1, 1000, tone)
			for i, f := range fs {
				if i == 5 {
					continue
				}
				c.Add(f)
				if i == 7 {
					c.Add(fs[5])
					c.Add(fs[6])
				}
			}
		}, 8000, 160, 0, nil},
		{"timestamp wraps around", func(c *Capture) {
			for _, f := range frames(1, 0xFFFFFFFF-800, tone) {
				c.Add(f)
			}
		}, 8000, 0, 0, nil},
		{"new SSRC continues the track", func(c *Capture) {
			fs := frames(1, 1000, tone[:4000])
			for _, f := range fs {
				c.Add(f)
			}
			for _, f := range frames(2, 99999, tone[4000:]) {
				c.Add(f)
			}
		}, 8000, 0, 0, nil},
		{"a huge jump is a restart, not a minute of silence", func(c *Capture) {
			for _, f := range frames(1, 1000, tone[:4000]) {
				c.Add(f)
			}
			for _, f := range frames(1, 1000+4000+60*8000, tone[4000:]) {
				c.Add(f)
			}
		}, 8000, 0, 0, nil},
		{"a packet before the start is dropped", func(c *Capture) {
			fs := frames(1, 1000, tone)
			for _, f := range fs[1:] {
				c.Add(f)
			}
			c.Add(fs[0])
		}, 8000 - 160, 0, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCapture(time.Minute)
			tt.feed(c)
			if c.Len() != tt.len || c.Filled != tt.filled || c.Late != tt.late {
				t.Fatalf("len %d filled %d late %d; want %d %d %d", c.Len(), c.Filled, c.Late, tt.len, tt.filled, tt.late)
			}
			pcm := c.PCM()
			for i := 0; i+160 <= len(pcm); i += 160 {
				f := pcm[i : i+160]
				wantSilent := false
				for _, s := range tt.silent {
					wantSilent = wantSilent || s == i/160
				}
				if silent := rms(f) == 0; silent != wantSilent {
					t.Errorf("frame %d: silent %v, want %v", i/160, silent, wantSilent)
				}
			}
			if got := media.ToneShare(pcm, 440); len(tt.silent) == 0 && got < 0.9 {
				t.Errorf("440 Hz share %.2f, want the tone throughout", got)
			}
		})
	}
}

func TestCaptureMaxAndSilence(t *testing.T) {
	c := NewCapture(500 * time.Millisecond)
	quiet := make([]int16, 8000)
	tone := media.Tone([]float64{1000}, 200*time.Millisecond)
	for _, f := range frames(7, 0, quiet[:1600]) {
		c.Add(f)
	}
	if c.Heard() || c.Silence() != 200*time.Millisecond {
		t.Fatalf("heard %v silence %v after 200 ms of nothing", c.Heard(), c.Silence())
	}
	for _, f := range frames(7, 1600, tone) {
		c.Add(f)
	}
	if !c.Heard() || c.Silence() != 0 || c.LoudEnd() != 3200 {
		t.Fatalf("heard %v silence %v loud end %d after the tone", c.Heard(), c.Silence(), c.LoudEnd())
	}
	full := false
	for _, f := range frames(7, 3200, quiet) {
		full = c.Add(f)
	}
	if !full || c.Len() != 4000 || c.Silence() != 100*time.Millisecond {
		t.Fatalf("full %v len %d silence %v; want full at 4000 samples with 100 ms of silence", full, c.Len(), c.Silence())
	}
	c.Truncate(3000)
	if c.Len() != 3000 || c.LoudEnd() != 3000 || c.Full() {
		t.Fatalf("after truncate: len %d loud end %d full %v", c.Len(), c.LoudEnd(), c.Full())
	}
}

// FuzzCapture: frames with any SSRC, timestamp and length (what the wire
// can send) never panic the capture, never grow it past its maximum, and
// keep its counters consistent.
func FuzzCapture(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 160, 1, 0, 0, 0, 160, 160})
	f.Add([]byte{1, 255, 255, 255, 200, 160, 1, 0, 0, 0, 100, 80, 2, 7, 7, 7, 7, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewCapture(2 * time.Second)
		pcm := media.Tone([]float64{700}, 100*time.Millisecond)
		for len(data) >= 6 {
			n := int(data[5]) * 4 % (len(pcm) + 1)
			fr := media.Frame{SSRC: uint32(data[0] % 3), Timestamp: uint32(data[1]) | uint32(data[2])<<8 | uint32(data[3])<<16 | uint32(data[4])<<24, PCM: pcm[:n]}
			c.Add(fr)
			data = data[6:]
			if c.Len() > Samples(2*time.Second) || c.LoudEnd() > c.Len() || c.Filled < 0 || c.Silence() < 0 || c.Silence() > c.Duration() {
				t.Fatalf("len %d loud end %d filled %d silence %v duration %v", c.Len(), c.LoudEnd(), c.Filled, c.Silence(), c.Duration())
			}
		}
		c.Truncate(c.Len() / 2)
	})
}
