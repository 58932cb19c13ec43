package media

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/internal/testenv"
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

// mp3Fixtures are the committed MP3 files TestGenerateMP3Fixtures writes:
// a 1 s 1 kHz sine at -6 dBFS from sox, encoded by LAME (an independent
// encoder: its Info frame, encoder delay and padding included), as MPEG-1
// (44.1 kHz stereo) and MPEG-2 (24 kHz mono). Not 22.05 kHz at 32 kbit/s
// or less: go-mp3 v0.3.4 decodes such a file without an error into noise
// (docs/flows.md, "Which files load").
var mp3Fixtures = []struct{ file, soxArgs, lameArgs string }{
	{"lame-44k-stereo.mp3", "-r 44100 -c 2", "-b 128 --resample 44.1"},
	{"lame-24k-mono.mp3", "-r 44100 -c 1", "-b 32 --resample 24 -m m"},
}

// TestGenerateMP3Fixtures rewrites testdata/lame-*.mp3 with -update (needs
// sox and lame: apt-get install sox lame); no pure-Go MP3 encoder is used.
func TestGenerateMP3Fixtures(t *testing.T) {
	if !*updateGolden {
		t.Skip("run with -update to regenerate testdata")
	}
	sox := testenv.Tool(t, "sox", "apt-get install sox")
	lame := testenv.Tool(t, "lame", "apt-get install lame")
	for _, f := range mp3Fixtures {
		wav := filepath.Join(t.TempDir(), "tone.wav")
		args := append(append([]string{"-n"}, strings.Fields(f.soxArgs)...), "-b", "16", wav, "synth", "1", "sine", "1000", "vol", "0.5")
		if out, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
			t.Fatalf("sox %v: %v\n%s", args, err, out)
		}
		args = append(append([]string{"--quiet", "--cbr"}, strings.Fields(f.lameArgs)...), wav, filepath.Join("testdata", f.file))
		if out, err := exec.Command(lame, args...).CombinedOutput(); err != nil {
			t.Fatalf("lame %v: %v\n%s", args, err, out)
		}
	}
}
