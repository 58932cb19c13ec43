package recording

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// feed adds pcm as 20 ms frames of side, RTP timestamps from ts0, the
// first arriving at first and each 20 ms after the one before.
func feed(b *Bridged, side Side, ssrc, ts0 uint32, pcm []int16, first time.Time, skip ...int) {
	for i, f := range frames(ssrc, ts0, pcm) {
		lost := false
		for _, s := range skip {
			lost = lost || s == i
		}
		if !lost {
			b.Add(side, f, first.Add(time.Duration(i+1)*20*time.Millisecond))
		}
	}
}

func share(pcm []int16, from, to time.Duration, freq float64) float64 {
	return media.ToneShare(pcm[Samples(from):Samples(to)], freq)
}

func TestBridgedAlignsByArrival(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	caller := media.Tone([]float64{440}, time.Second)
	agent := media.Tone([]float64{1000}, time.Second)
	b := NewBridged(t0, time.Minute)
	// The caller speaks from 0 to 1 s; the agent, whose phone counts RTP
	// time from elsewhere, from 0.5 s to 1.5 s.
	feed(b, Caller, 11, 123456, caller, t0)
	feed(b, Agent, 22, 0xFFFFF000, agent, t0.Add(500*time.Millisecond), 10, 11)
	b.Close()
	b.Add(Caller, media.Frame{SSRC: 11, Timestamp: 123456 + 8000, PCM: caller[:160]}, t0.Add(1020*time.Millisecond))
	if b.Len() != Samples(1500*time.Millisecond) {
		t.Fatalf("length %v, want 1.5 s", b.Duration())
	}
	mixed := b.Mixed()
	for _, c := range []struct {
		from, to time.Duration
		freq     float64
		min      float64
	}{
		{0, 500 * time.Millisecond, 440, 0.9},
		{0, 500 * time.Millisecond, 1000, -1}, // not there
		{520 * time.Millisecond, 700 * time.Millisecond, 440, 0.3},
		{520 * time.Millisecond, 700 * time.Millisecond, 1000, 0.3},
		{1 * time.Second, 1500 * time.Millisecond, 1000, 0.9},
	} {
		got := share(mixed, c.from, c.to, c.freq)
		if c.min < 0 && got > 0.05 || c.min >= 0 && got < c.min {
			t.Errorf("mixed %v-%v: %v Hz share %.2f", c.from, c.to, c.freq, got)
		}
	}
	// Frames 10 and 11 of the agent were lost: 40 ms of silence where
	// their timestamps say, at 0.7 s.
	ag := b.Track(Agent)
	if s := rms(ag[Samples(700*time.Millisecond):Samples(740*time.Millisecond)]); s != 0 {
		t.Errorf("lost agent frames: rms %.0f, want silence", s)
	}
	if st := b.Stats(); st.Filled[Agent] != 320+Samples(500*time.Millisecond) || st.Anchors != [2]int{1, 1} {
		t.Errorf("stats %+v", st)
	}
	var buf bytes.Buffer
	if err := b.WriteWAV(&buf, true); err != nil {
		t.Fatal(err)
	}
	ch, err := ReadWAV(&buf)
	if err != nil || len(ch) != 2 {
		t.Fatalf("stereo: %d channels, %v", len(ch), err)
	}
	if l, r := share(ch[0], 0, time.Second, 440), share(ch[1], 500*time.Millisecond, 1500*time.Millisecond, 1000); l < 0.9 || r < 0.8 {
		t.Errorf("split: caller 440 Hz left %.2f, agent 1 kHz right %.2f", l, r)
	}
	if x, y := share(ch[0], 0, 1500*time.Millisecond, 1000), share(ch[1], 0, 1500*time.Millisecond, 440); x > 0.05 || y > 0.05 {
		t.Errorf("split: crosstalk agent-in-left %.2f caller-in-right %.2f", x, y)
	}
	buf.Reset()
	if err := b.WriteWAV(&buf, false); err != nil {
		t.Fatal(err)
	}
	if ch, err := ReadWAV(&buf); err != nil || len(ch) != 1 || len(ch[0]) != len(mixed) {
		t.Fatalf("mixed: %d channels, %v", len(ch), err)
	}
}

// A phone that stops sending on hold and resumes with its RTP clock where
// it stopped is placed where it resumed in time, not earlier; so is one
// that changes SSRC.
func TestBridgedReanchors(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	tone := media.Tone([]float64{700}, time.Second)
	tests := []struct {
		name    string
		ssrc2   uint32
		ts2     uint32
		resume  time.Duration
		anchors int
	}{
		{"paused without advancing timestamps", 5, 8000, 6 * time.Second, 2},
		{"new SSRC", 6, 999, 3 * time.Second, 2},
		{"silence suppressed: timestamps advanced", 5, 8000 + 5*8000, 6 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBridged(t0, time.Minute)
			feed(b, Agent, 5, 0, tone, t0)
			feed(b, Agent, tt.ssrc2, tt.ts2, tone, t0.Add(tt.resume))
			if got, want := b.Duration(), tt.resume+time.Second; got != want {
				t.Errorf("duration %v, want %v", got, want)
			}
			ag := b.Track(Agent)
			if s := share(ag, tt.resume, tt.resume+time.Second, 700); s < 0.9 {
				t.Errorf("700 Hz share after resuming %.2f", s)
			}
			if s := rms(ag[Samples(1100*time.Millisecond):Samples(tt.resume-100*time.Millisecond)]); s != 0 {
				t.Errorf("the pause is not silence: rms %.0f", s)
			}
			if a := b.Stats().Anchors[Agent]; a != tt.anchors {
				t.Errorf("anchors %d, want %d", a, tt.anchors)
			}
		})
	}
}

func TestBridgedMixSaturates(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	loud := make([]int16, 160)
	quiet := make([]int16, 160)
	for i := range loud {
		loud[i], quiet[i] = 30000, -30000
		if i%2 == 1 {
			loud[i], quiet[i] = -30000, 30000
		}
	}
	b := NewBridged(t0, time.Second)
	b.Add(Caller, media.Frame{SSRC: 1, PCM: loud}, t0.Add(20*time.Millisecond))
	b.Add(Agent, media.Frame{SSRC: 2, PCM: loud}, t0.Add(20*time.Millisecond))
	m := b.Mixed()
	if m[0] != 32767 || m[1] != -32768 {
		t.Fatalf("mixed %d %d, want saturation at 32767 and -32768", m[0], m[1])
	}
	// The cap holds: nothing past max.
	b.Add(Caller, media.Frame{SSRC: 1, Timestamp: 160, PCM: loud}, t0.Add(5*time.Second))
	if b.Len() > Samples(time.Second) {
		t.Fatalf("length %d past the maximum", b.Len())
	}
}

// FuzzReadWAV: any bytes are an error or channels of equal length, never a
// panic.
func FuzzReadWAV(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteWAV(&buf, 2, []int16{1, 2, 3, 4})
	f.Add(buf.Bytes())
	f.Add([]byte("RIFF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ch, err := ReadWAV(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, c := range ch {
			if len(c) != len(ch[0]) {
				t.Fatalf("channels of %d and %d samples", len(c), len(ch[0]))
			}
		}
	})
}

// BenchmarkRecordBridgedMinute is the CPU of one recorded minute of a
// bridged call: 3000 frames each way placed by timestamp and arrival, the
// two sides mixed and the WAV written (split: stereo).
func BenchmarkRecordBridgedMinute(b *testing.B) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	caller := media.Tone([]float64{440}, time.Second)
	agent := media.Tone([]float64{1000}, time.Second)
	for _, split := range []bool{false, true} {
		name := "mixed"
		if split {
			name = "split"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := NewBridged(t0, time.Minute)
				for i := range 3000 {
					off := (i % 50) * 160
					at := t0.Add(time.Duration(i+1) * 20 * time.Millisecond)
					r.Add(Caller, media.Frame{SSRC: 1, Sequence: uint16(i), Timestamp: uint32(i * 160), PCM: caller[off : off+160]}, at)
					r.Add(Agent, media.Frame{SSRC: 2, Sequence: uint16(i), Timestamp: uint32(77 + i*160), PCM: agent[off : off+160]}, at)
				}
				r.Close()
				if err := r.WriteWAV(io.Discard, split); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
