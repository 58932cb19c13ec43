package media

import (
	"fmt"
	"math"
	"testing"
)

// sine is one second of a tone at amplitude amp (full scale 1).
func sine(rate int, freq, amp float64) []float32 {
	out := make([]float32, rate)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// levelDB is the RMS of pcm (the filter's edges left out) relative to a
// full-scale sine, in dB.
func levelDB(pcm []int16) float64 {
	mid := pcm[len(pcm)/10 : len(pcm)*9/10]
	var e float64
	for _, v := range mid {
		e += float64(v) * float64(v)
	}
	rms := math.Sqrt(e / float64(len(mid)))
	return 20 * math.Log10(rms/(32768/math.Sqrt2)+1e-12)
}

// TestResampleResponse measures the resampler's frequency response: the
// telephony band passes at its level and frequency, and what lies above the
// 4 kHz output Nyquist frequency is removed instead of folding back.
func TestResampleResponse(t *testing.T) {
	const amp = 0.5 // -6.02 dB
	in := 20 * math.Log10(amp)
	tests := []struct {
		rate int
		freq float64
		pass bool // true: level within 0.5 dB and the tone at freq; false: at least 40 dB down
	}{
		{44100, 1000, true}, {44100, 3000, true}, {44100, 300, true},
		{44100, 6000, false}, {44100, 4500, false}, {44100, 15000, false},
		{48000, 1000, true}, {48000, 7000, false},
		{32000, 1000, true}, {32000, 5000, false},
		{22050, 1000, true}, {22050, 9000, false},
		{16000, 1000, true}, {16000, 6000, false},
		{11025, 1000, true}, {11025, 5000, false},
		{8000, 1000, true},
		{6000, 1000, true}, // upsampling keeps the level too
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%v Hz at %d Hz", tt.freq, tt.rate)
		t.Run(name, func(t *testing.T) {
			out := toPCM8k(sine(tt.rate, tt.freq, amp), tt.rate)
			if want := SampleRate; abs(len(out)-want) > 1 {
				t.Fatalf("%d samples for 1 s, want %d", len(out), want)
			}
			got := levelDB(out) - in
			if tt.pass {
				if math.Abs(got) > 0.5 {
					t.Fatalf("%v Hz from %d Hz: level %+.2f dB, want within 0.5 dB", tt.freq, tt.rate, got)
				}
				if share := ToneShare(out[800:7200], tt.freq); share < 0.95 {
					t.Fatalf("%v Hz from %d Hz: only %.2f of the energy at %v Hz", tt.freq, tt.rate, share, tt.freq)
				}
				return
			}
			if got > -40 {
				t.Fatalf("%v Hz from %d Hz: %+.1f dB after resampling, want at most -40 dB", tt.freq, tt.rate, got)
			}
		})
	}
}

func abs(n int) int { return max(n, -n) }

// TestResampleDC: a constant stays the same constant (every phase has unit
// gain at 0 Hz), also for a rate with no small ratio to 8000.
func TestResampleDC(t *testing.T) {
	for _, rate := range []int{44100, 44056, 11025, 96000} {
		in := make([]float32, rate/10)
		for i := range in {
			in[i] = 0.25
		}
		out := toPCM8k(in, rate)
		for _, v := range out[len(out)/4 : len(out)*3/4] {
			if v < 8190 || v > 8194 {
				t.Fatalf("%d Hz: constant 8192 came out %d", rate, v)
			}
		}
	}
}
