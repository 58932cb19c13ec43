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

// ToneShare is the share (0..1) of the audio's energy that is at freq: near
// 1 for a pure tone, near 0 for other tones or noise. Audio quieter than a
// faint floor counts as 0, so silence never "contains" a tone.
func ToneShare(pcm []int16, freq float64) float64 {
	var energy float64
	for _, v := range pcm {
		energy += float64(v) * float64(v)
	}
	if energy < 1e6 || len(pcm) == 0 {
		return 0
	}
	return TonePower(pcm, freq) / (energy * float64(len(pcm)) / 2)
}
