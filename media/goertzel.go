package media

import (
	"math"
	"time"
)

// Inband DTMF detection (ITU-T Q.24 style) with the Goertzel algorithm: the
// power at the 8 DTMF frequencies and their 2nd harmonics, computed per block
// of goertzelN samples.
//
// goertzelN = 102 samples (12.75 ms) puts the neighbouring row/column
// frequency near a null of the rectangular window's response (about -22 dB),
// which gives good row/column selectivity with short blocks.
const goertzelN = 102

// Detection thresholds. Powers are normalised to "energy in the block", so a
// pure tone of amplitude A contributes about goertzelN*A*A/2.
const (
	// minToneAmp is the weakest per-tone amplitude accepted (about -40 dBFS).
	minToneAmp = 300.0
	// normalTwist: the high group may be up to 8 dB louder than the low
	// group; reverseTwist: the low group up to 4 dB louder.
	normalTwist  = 6.31
	reverseTwist = 2.51
	// relativePeak: the chosen row (column) must be 8 dB above every other
	// row (column).
	relativePeak = 6.31
	// A tone's 2nd harmonic must be weaker than the tone itself: voiced
	// speech and instruments put harmonics there, a DTMF generator does
	// not. Row harmonics (1394-1882 Hz) sit near column frequencies and
	// pick up their leakage, so they get a looser limit (0 dB) than
	// column harmonics (2418-3266 Hz, clear of DTMF: -6 dB).
	rowHarmonicRatio = 1.0
	colHarmonicRatio = 0.25
	// minFraction: the two tones must hold this share of the block energy;
	// speech, music and noise spread their energy and fail it.
	minFraction = 0.7
	// blocksToStart consecutive hits (38 ms) start a digit (Q.24 asks to
	// accept 40 ms and reject under 23 ms); blocksToEnd misses end it, so a
	// single bad block inside a press does not split it in two.
	blocksToStart = 3
	blocksToEnd   = 2
)

// goertzelCoeffs holds 2cos(2πf/fs) for the rows, columns, then the
// 2nd harmonics of rows and columns (16 filters).
type goertzelCoeffs [16]float32

func newGoertzelCoeffs() goertzelCoeffs {
	var c goertzelCoeffs
	freqs := append(append([]float64{}, dtmfRows[:]...), dtmfCols[:]...)
	for i, f := range freqs {
		c[i] = float32(2 * math.Cos(2*math.Pi*f/SampleRate))
		c[i+8] = float32(2 * math.Cos(2*math.Pi*2*f/SampleRate))
	}
	return c
}

// dtmfDetector finds inband DTMF digits in a stream of 8 kHz PCM. It keeps
// only one block of samples: it is cheap enough to run on every call.
type dtmfDetector struct {
	coeff goertzelCoeffs
	block [goertzelN]float32
	fill  int

	cand       rune // key seen in the last candBlocks blocks
	candBlocks int
	active     rune // key currently held (reported when released)
	activeLen  int  // blocks the active key has been held
	misses     int
}

func newDTMFDetector() *dtmfDetector { return &dtmfDetector{coeff: newGoertzelCoeffs()} }

// detected is a finished key press with its length.
type detected struct {
	key rune
	dur time.Duration
}

// process feeds pcm and appends every key press that ended in it to out.
func (d *dtmfDetector) process(pcm []int16, out []detected) []detected {
	for len(pcm) > 0 {
		n := copy16to32(d.block[d.fill:], pcm)
		d.fill += n
		pcm = pcm[n:]
		if d.fill == goertzelN {
			d.fill = 0
			out = d.step(d.classify(), out)
		}
	}
	return out
}

func copy16to32(dst []float32, src []int16) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = float32(src[i])
	}
	return n
}

// step advances the press state machine with this block's key (0 = none).
func (d *dtmfDetector) step(key rune, out []detected) []detected {
	if key != 0 && key == d.cand {
		d.candBlocks++
	} else {
		d.cand, d.candBlocks = key, 1
		if key == 0 {
			d.candBlocks = 0
		}
	}
	if d.active != 0 {
		if key == d.active {
			d.activeLen++
			d.misses = 0
			return out
		}
		d.misses++
		if d.misses < blocksToEnd && key == 0 {
			return out
		}
		out = append(out, detected{key: d.active, dur: samplesToDuration(d.activeLen * goertzelN)})
		d.active, d.misses = 0, 0
	}
	if d.cand != 0 && d.candBlocks >= blocksToStart {
		d.active, d.activeLen, d.misses = d.cand, d.candBlocks, 0
	}
	return out
}

// classify returns the DTMF key in the current block, or 0. The 8
// fundamentals are computed first; the two 2nd harmonics that matter are
// computed only for a block that already looks like DTMF, which halves the
// cost on ordinary audio.
func (d *dtmfDetector) classify() rune {
	var s1, s2 [8]float32
	var total float32
	for _, x := range d.block {
		total += x * x
		for k := range s1 {
			s := x + d.coeff[k]*s1[k] - s2[k]
			s2[k], s1[k] = s1[k], s
		}
	}
	minE := float32(goertzelN * minToneAmp * minToneAmp / 2)
	if total < 2*minE {
		return 0 // too quiet to hold two tones: skip the rest
	}
	var p [8]float32
	for k := range p {
		p[k] = goertzelPower(d.coeff[k], s1[k], s2[k])
	}
	br, bc := argmax4(p[0:4]), argmax4(p[4:8])
	rowE, colE := p[br], p[4+bc]
	switch {
	case rowE < minE || colE < minE:
		return 0
	case colE > rowE*normalTwist || rowE > colE*reverseTwist:
		return 0
	case rowE+colE < total*minFraction:
		return 0
	}
	for i := 0; i < 4; i++ {
		if i != br && p[i]*relativePeak > rowE {
			return 0
		}
		if i != bc && p[4+i]*relativePeak > colE {
			return 0
		}
	}
	if d.harmonic(8+br) > rowE*rowHarmonicRatio || d.harmonic(12+bc) > colE*colHarmonicRatio {
		return 0
	}
	return dtmfKeys[br][bc]
}

// harmonic runs the Goertzel filter k (a 2nd harmonic) over the block.
func (d *dtmfDetector) harmonic(k int) float32 {
	var s1, s2 float32
	c := d.coeff[k]
	for _, x := range d.block {
		s1, s2 = x+c*s1-s2, s1
	}
	return goertzelPower(c, s1, s2)
}

// goertzelPower is |X(f)|² from the filter state, scaled by 2/N to energy
// units.
func goertzelPower(c, s1, s2 float32) float32 {
	return (s1*s1 + s2*s2 - c*s1*s2) * 2 / goertzelN
}

func argmax4(v []float32) int {
	best := 0
	for i := 1; i < 4; i++ {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}
