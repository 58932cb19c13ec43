package media

import (
	"fmt"
	"math"
	"time"
)

// toneAmplitude is the peak of each sine in generated tones: about -10 dBFS
// per frequency, so a two-tone DTMF sum stays clear of clipping.
const toneAmplitude = 7000

// DTMF frequencies (ITU-T Q.23): rows are the low group, columns the high.
var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
)

// dtmfKeys[row][col] is the key at that row/column of the keypad.
var dtmfKeys = [4][4]rune{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// DTMFFreqs returns the low and high frequency of key.
func DTMFFreqs(key rune) (low, high float64, err error) {
	for r := range dtmfKeys {
		for c := range dtmfKeys[r] {
			if dtmfKeys[r][c] == key {
				return dtmfRows[r], dtmfCols[c], nil
			}
		}
	}
	return 0, 0, fmt.Errorf("%w: %q", ErrBadDigit, key)
}

// Tone returns dur of 8 kHz PCM holding the sum of sines at freqs, each at
// about -10 dBFS (call progress tones, DTMF, test signals).
func Tone(freqs []float64, dur time.Duration) []int16 {
	g := newToneGen(freqs)
	out := make([]int16, int(dur*SampleRate/time.Second))
	g.add(out)
	return out
}

// DTMFTone returns dur of the two-tone signal for key.
func DTMFTone(key rune, dur time.Duration) ([]int16, error) {
	lo, hi, err := DTMFFreqs(key)
	if err != nil {
		return nil, err
	}
	return Tone([]float64{lo, hi}, dur), nil
}

// toneGen is a phase-continuous oscillator bank, so a tone generated frame by
// frame has no clicks at frame edges.
type toneGen struct {
	step, phase []float64 // per frequency: radians per sample, current phase
}

func newToneGen(freqs []float64) toneGen {
	g := toneGen{step: make([]float64, len(freqs)), phase: make([]float64, len(freqs))}
	for i, f := range freqs {
		g.step[i] = 2 * math.Pi * f / SampleRate
	}
	return g
}

// add mixes the next len(dst) samples into dst, saturating.
func (g *toneGen) add(dst []int16) {
	for i := range dst {
		v := float64(dst[i])
		for k, ph := range g.phase {
			v += toneAmplitude * math.Sin(ph)
			g.phase[k] = ph + g.step[k]
		}
		dst[i] = clip16(v)
	}
	// Keep phases small so precision does not drift on long tones.
	for k := range g.phase {
		g.phase[k] = math.Mod(g.phase[k], 2*math.Pi)
	}
}

func clip16(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}
