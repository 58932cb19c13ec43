package media

import "math"

// TonePower is the Goertzel power of freq (Hz) in 8 kHz linear PCM: how much
// of a pure tone the audio holds. Tests and tools use it to tell which side of
// a bridge they hear; the in-band DTMF detector has its own block version.
func TonePower(pcm []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	var s1, s2 float64
	for _, x := range pcm {
		s1, s2 = float64(x)+k*s1-s2, s1
	}
	return s1*s1 + s2*s2 - k*s1*s2
}
