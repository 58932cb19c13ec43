package media

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata golden WAV files")

// TestGenerateGoldenWAVs rewrites testdata/*.wav with -update; the files are
// committed so the golden test also guards against a changed generator.
func TestGenerateGoldenWAVs(t *testing.T) {
	if !*updateGolden {
		t.Skip("run with -update to regenerate testdata")
	}
	pcm := Tone([]float64{440}, 100_000_000) // 800 samples
	ulaw := make([]byte, len(pcm))
	encodeG711(PCMU, ulaw, pcm)
	alaw := make([]byte, len(pcm))
	encodeG711(PCMA, alaw, pcm)
	files := map[string][]byte{
		"pcm16.wav":      buildWAV(wavSpec{tag: 1, channels: 1, bits: 16, rate: 8000, data: pcm16Bytes(pcm)}),
		"alaw.wav":       buildWAV(wavSpec{tag: 6, channels: 1, bits: 8, rate: 8000, data: alaw}),
		"ulaw.wav":       buildWAV(wavSpec{tag: 7, channels: 1, bits: 8, rate: 8000, data: ulaw}),
		"list-chunk.wav": buildWAV(wavSpec{tag: 1, channels: 1, bits: 16, rate: 8000, data: pcm16Bytes(pcm), extra: []string{"LIST"}}),
		"stereo.wav":     buildWAV(wavSpec{tag: 1, channels: 2, bits: 16, rate: 8000, data: pcm16Bytes(pcm)}),
		"16khz.wav":      buildWAV(wavSpec{tag: 1, channels: 1, bits: 16, rate: 16000, data: pcm16Bytes(pcm)}),
		"truncated.wav":  buildWAV(wavSpec{tag: 1, channels: 1, bits: 16, rate: 8000, data: pcm16Bytes(pcm)})[:500],
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
