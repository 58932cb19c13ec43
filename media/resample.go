package media

import "math"

// Resampling to the 8 kHz the G.711 codecs carry. A prompt recorded at
// 44.1 kHz holds energy up to 22 kHz; dropping samples would fold all of it
// into 0-4 kHz (a 6 kHz sibilant comes back as a 2 kHz whistle). So every
// rate goes through a low-pass windowed-sinc filter evaluated polyphase: one
// table of taps per fractional position between input samples.
//
// No pure-Go resampler on the module proxy is both kept and small (the
// usual ones wrap libsoxr with cgo), and prompts are resampled once at load,
// so this is the plain textbook filter: a Kaiser-windowed sinc with its
// passband to 3.5 kHz and its stopband from 4 kHz (the output's Nyquist
// frequency) at resampleStopDB. resample_test.go measures the response.

const (
	resamplePassHz = 3500 // telephony band edge: kept flat
	resampleStopDB = 80   // attenuation from the output Nyquist up
	// maxPhases bounds the tap tables for rates with no small common
	// divisor with 8000 (e.g. 44056 Hz would need 5507 phases): the nearest
	// of maxPhases positions is used then, a timing error under 1/2048 of
	// an input sample.
	maxPhases = 1024
)

// resampler converts mono audio from inRate to outRate.
type resampler struct {
	up, down int         // outRate/inRate reduced: out sample n sits at input n*down/up
	half     int         // taps each side of the centre
	phases   [][]float32 // phases[p][k]: tap k for fractional position p/len(phases)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// newResampler designs the filter for inRate to outRate (both > 0).
func newResampler(inRate, outRate int) *resampler {
	g := gcd(inRate, outRate)
	r := &resampler{up: outRate / g, down: inRate / g}
	// Cut-off midway between the passband edge and the lower Nyquist
	// frequency, in cycles per input sample.
	nyq := float64(min(inRate, outRate)) / 2
	pass := math.Min(resamplePassHz, 0.875*nyq)
	fc := (pass + nyq) / 2 / float64(inRate)
	dw := 2 * math.Pi * (nyq - pass) / float64(inRate) // transition width, rad/sample
	// Kaiser's estimates of the window length and shape for the attenuation.
	n := int(math.Ceil((resampleStopDB - 8) / (2.285 * dw)))
	r.half = n/2 + 1
	beta := 0.1102 * (resampleStopDB - 8.7)
	nPh := min(r.up, maxPhases)
	r.phases = make([][]float32, nPh)
	i0b := besselI0(beta)
	for p := range r.phases {
		frac := float64(p) / float64(nPh)
		taps := make([]float32, 2*r.half)
		var sum float64
		raw := make([]float64, 2*r.half)
		for k := range raw {
			// Tap k weighs input sample base-half+1+k, t input samples
			// from the output instant.
			t := float64(k-r.half+1) - frac
			x := t / float64(r.half)
			if x <= -1 || x >= 1 {
				continue
			}
			v := 2 * fc * sinc(2*fc*t) * besselI0(beta*math.Sqrt(1-x*x)) / i0b
			raw[k] = v
			sum += v
		}
		// Unit gain at DC for every phase, so a constant stays a constant
		// (and upsampling, where the sinc sums to more than 1, keeps level).
		for k, v := range raw {
			taps[k] = float32(v / sum)
		}
		r.phases[p] = taps
	}
	return r
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0 (its
// power series converges fast for the Kaiser window's arguments).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 64; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-12 {
			break
		}
	}
	return sum
}

// outLen is the number of output samples for n input samples.
func (r *resampler) outLen(n int) int {
	return int((int64(n)*int64(r.up) + int64(r.down) - 1) / int64(r.down))
}

// run filters in into a new slice; samples beyond either end are zero.
func (r *resampler) run(in []float32) []float32 {
	out := make([]float32, r.outLen(len(in)))
	nPh := int64(len(r.phases))
	for n := range out {
		pos := int64(n) * int64(r.down)
		base := int(pos / int64(r.up))
		p := int((pos%int64(r.up)*nPh + int64(r.up)/2) / int64(r.up))
		if p == int(nPh) { // rounded up to the next input sample
			p, base = 0, base+1
		}
		taps := r.phases[p]
		start := base - r.half + 1
		var acc float32
		if start >= 0 && start+len(taps) <= len(in) {
			win := in[start : start+len(taps)]
			for k, t := range taps {
				acc += t * win[k]
			}
		} else {
			for k, t := range taps {
				if i := start + k; i >= 0 && i < len(in) {
					acc += t * in[i]
				}
			}
		}
		out[n] = acc
	}
	return out
}

// toPCM8k resamples mono samples (full scale ±1) at rate to 8 kHz 16-bit
// PCM, clipping what the filter's ripple pushes past full scale.
func toPCM8k(mono []float32, rate int) []int16 {
	if rate != SampleRate {
		mono = newResampler(rate, SampleRate).run(mono)
	}
	pcm := make([]int16, len(mono))
	for i, v := range mono {
		x := math.Round(float64(v) * 32768)
		pcm[i] = int16(max(-32768, min(32767, x)))
	}
	return pcm
}
