package media

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testenv"
)

// TestPromptFormats decodes files written by sox (an independent writer) in
// the formats admins have: each is a 1 kHz tone at -6 dBFS and must come out
// 8 kHz mono, 1 s long, at that level and frequency.
func TestPromptFormats(t *testing.T) {
	sox := testenv.Tool(t, "sox", "apt-get install sox")
	dir := t.TempDir()
	tests := []struct{ file, args string }{
		{"44k-stereo.wav", "-r 44100 -c 2 -b 16 -e signed-integer"},
		{"48k-stereo-24.wav", "-r 48000 -c 2 -b 24 -e signed-integer"},
		{"16k.wav", "-r 16000 -c 1 -b 16 -e signed-integer"},
		{"22k-8bit.wav", "-r 22050 -c 1 -b 8 -e unsigned-integer"},
		{"11k-8bit.wav", "-r 11025 -c 1 -b 8 -e unsigned-integer"},
		{"32k-32bit.wav", "-r 32000 -c 1 -b 32 -e signed-integer"},
		{"44k-float.wav", "-r 44100 -c 1 -b 32 -e floating-point"},
		{"8k-ulaw.wav", "-r 8000 -c 1 -e u-law"},
		{"16k-alaw-stereo.wav", "-r 16000 -c 2 -e a-law"},
		{"44k-6ch.wav", "-r 44100 -c 6 -b 16 -e signed-integer"}, // sox writes WAVE_FORMAT_EXTENSIBLE
		{"44k-stereo.flac", "-r 44100 -c 2 -b 16"},
		{"16k-24.flac", "-r 16000 -c 1 -b 24"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			args := append([]string{"-n"}, strings.Fields(tt.args)...)
			args = append(args, path, "synth", "1", "sine", "1000", "vol", "0.5")
			if out, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
				t.Fatalf("sox %v: %v\n%s", args, err, out)
			}
			p, err := LoadPrompt(path)
			if err != nil {
				t.Fatal(err)
			}
			if abs(p.Samples()-SampleRate) > 2 {
				t.Fatalf("%d samples, want %d", p.Samples(), SampleRate)
			}
			tol := 0.5
			if strings.Contains(tt.file, "8bit") || strings.Contains(tt.file, "law") {
				tol = 1 // quantisation noise of 8-bit formats
			}
			if got := levelDB(p.PCM()) + 6.02; math.Abs(got) > tol {
				t.Fatalf("level %+.2f dB, want within %.1f dB", got, tol)
			}
			if share := ToneShare(p.PCM()[800:7200], 1000); share < 0.9 {
				t.Fatalf("only %.2f of the energy at 1 kHz", share)
			}
		})
	}
	// A 6 kHz tone in a 44.1 kHz file is gone after resampling to 8 kHz
	// (sample dropping would fold it to 2 kHz at full level).
	path := filepath.Join(dir, "6k.wav")
	if out, err := exec.Command(sox, "-n", "-r", "44100", "-c", "2", "-b", "16", path, "synth", "1", "sine", "6000", "vol", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	p, err := LoadPrompt(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := levelDB(p.PCM()) + 6.02; got > -40 {
		t.Fatalf("6 kHz tone at %+.1f dB after resampling, want at most -40 dB", got)
	}
}

// TestPromptRefusals: what cannot be used is named with the file and why.
func TestPromptRefusals(t *testing.T) {
	good := buildWAV(wavSpec{tag: 1, channels: 2, bits: 16, rate: 44100, data: make([]byte, 4*441)})
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"12-bit", buildWAV(wavSpec{tag: 1, channels: 1, bits: 12, blockAlign: 2, rate: 16000, data: make([]byte, 320)}), "prompts/en/x: 12-bit PCM is not supported"},
		{"truncated", good[:len(good)-100], `prompts/en/x: truncated "data" chunk at byte 44: its header says 1764 bytes, 1664 are left`},
		{"text", []byte("hello, this is not audio"), "prompts/en/x: not a WAV, FLAC or MP3 file"},
		{"empty", nil, "prompts/en/x: empty file"},
		{"bad FLAC", []byte("fLaC\x00\x00\x00\x22garbage"), "prompts/en/x: FLAC"},
		{"bad MP3", []byte("ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfbgarbage"), "prompts/en/x: MP3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePrompt("prompts/en/x", bytes.NewReader(tt.in))
			if !errors.Is(err, ErrBadPrompt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadPrompt containing %q", err, tt.want)
			}
			if file, _, ok := ErrorFile(err); !ok || file != "prompts/en/x" {
				t.Fatalf("ErrorFile(%v) = %q, %v", err, file, ok)
			}
		})
	}
}

// mp3Silence is n MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, stereo)
// with empty side information: valid MP3 that decodes to silence, made by
// hand (the LAME-encoded tones are testdata/lame-*.mp3).
func mp3Silence(n int) []byte {
	frame := make([]byte, 144*128000/44100) // 417 bytes, no padding
	copy(frame, []byte{0xFF, 0xFB, 0x90, 0x00})
	return bytes.Repeat(frame, n)
}

func TestDecodeMP3Silence(t *testing.T) {
	p, err := DecodePrompt("silence.mp3", bytes.NewReader(mp3Silence(20)))
	if err != nil {
		t.Fatal(err)
	}
	// 20 frames of 1152 samples at 44.1 kHz, give or take the decoder's
	// first frame: about 4180 samples at 8 kHz.
	if p.Samples() < 3500 || p.Samples() > 4200 {
		t.Fatalf("%d samples, want about 4180", p.Samples())
	}
	for i, v := range p.PCM() {
		if v != 0 {
			t.Fatalf("sample %d = %d, want silence", i, v)
		}
	}
}

// FuzzDecodePrompt: no input makes a decoder panic, hang or return a
// prompt that is not 8 kHz audio; every refusal is ErrBadPrompt.
func FuzzDecodePrompt(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.wav")
	more, _ := filepath.Glob("testdata/*.flac")
	mp3s, _ := filepath.Glob("testdata/*.mp3")
	for _, fn := range append(append(files, more...), mp3s...) {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(mp3Silence(3))
	f.Add(buildWAV(wavSpec{tag: 3, channels: 2, bits: 32, rate: 44100, data: make([]byte, 64)}))
	f.Add(buildWAV(wavSpec{tag: 1, channels: 3, bits: 24, rate: 11025, data: make([]byte, 90)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePrompt("fuzz", bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadPrompt) {
				t.Fatalf("error %v does not wrap ErrBadPrompt", err)
			}
			return
		}
		if len(p.Payload(PCMU)) != p.Samples() || len(p.Payload(PCMA)) != p.Samples() {
			t.Fatalf("inconsistent prompt: %d samples, %d/%d payload", p.Samples(), len(p.Payload(PCMU)), len(p.Payload(PCMA)))
		}
	})
}

// BenchmarkDecode44kStereo is the CPU a 10 s 44.1 kHz stereo 16-bit WAV
// prompt costs at load: parse, mixdown, resample to 8 kHz, G.711 encode.
func BenchmarkDecode44kStereo(b *testing.B) {
	const secs = 10
	data := make([]byte, 0, secs*44100*4)
	for i := range secs * 44100 {
		v := int16(16000 * math.Sin(2*math.Pi*1000*float64(i)/44100))
		data = append(data, byte(v), byte(uint16(v)>>8), byte(v), byte(uint16(v)>>8))
	}
	wav := buildWAV(wavSpec{tag: 1, channels: 2, bits: 16, rate: 44100, data: data})
	b.SetBytes(int64(len(wav)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePrompt("bench.wav", bytes.NewReader(wav)); err != nil {
			b.Fatal(err)
		}
	}
}

// A reload decodes only the files that changed: an unchanged file keeps
// its decoded prompt (same size and time), a rewritten one is decoded anew.
func TestLibraryReloadSkipsUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "en"), 0o755))
	wav := buildWAV(wavSpec{tag: 1, channels: 2, bits: 16, rate: 44100, data: make([]byte, 4*4410)})
	must(os.WriteFile(filepath.Join(dir, "en", "a.wav"), wav, 0o644))
	must(os.WriteFile(filepath.Join(dir, "en", "b.wav"), wav, 0o644))
	live := NewLibrary(dir)
	first, err := live.Load()
	must(err)
	stamp := live.Stamp()
	a1, _ := first.Prompt("en", "a")
	b1, _ := first.Prompt("en", "b")

	later := time.Now().Add(time.Minute)
	must(os.WriteFile(filepath.Join(dir, "en", "b.wav"), wav, 0o644))
	must(os.Chtimes(filepath.Join(dir, "en", "b.wav"), later, later))
	if live.Stamp() == stamp {
		t.Fatal("Stamp did not change with a rewritten file")
	}
	second, err := live.Load()
	must(err)
	a2, _ := second.Prompt("en", "a")
	b2, _ := second.Prompt("en", "b")
	if a2 != a1 {
		t.Error("an unchanged file was decoded again")
	}
	if b2 == b1 || b2.Samples() != 800 {
		t.Errorf("the rewritten file was not decoded again (%d samples)", b2.Samples())
	}
}

// TestMP3Fixtures loads the LAME-encoded fixtures (TestGenerateMP3Fixtures)
// through the prompt library, as a prompt folder holds them: each comes out
// 8 kHz mono, about 1 s (LAME's encoder delay and last-frame padding add
// some 80 ms of near-silence), a 1 kHz tone at -6 dBFS.
func TestMP3Fixtures(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "en"), 0o755))
	for _, f := range mp3Fixtures {
		b, err := os.ReadFile(filepath.Join("testdata", f.file))
		must(err)
		must(os.WriteFile(filepath.Join(dir, "en", f.file), b, 0o644))
	}
	lib, err := LoadLibrary(dir)
	must(err)
	for _, f := range mp3Fixtures {
		t.Run(f.file, func(t *testing.T) {
			p, err := lib.Prompt("en", strings.TrimSuffix(f.file, ".mp3"))
			if err != nil {
				t.Fatal(err)
			}
			if d := p.Duration(); d < time.Second || d > 1150*time.Millisecond {
				t.Fatalf("duration %v, want 1 s to 1.15 s", d)
			}
			// The middle of the tone, clear of the encoder's delay.
			mid := p.PCM()[2000:7000]
			if share := ToneShare(mid, 1000); share < 0.95 {
				t.Fatalf("only %.3f of the energy at 1 kHz", share)
			}
			if share := ToneShare(mid, 440); share > 0.01 {
				t.Fatalf("%.3f of the energy at 440 Hz: not a clean tone", share)
			}
			if got := levelDB(mid) + 6.02; math.Abs(got) > 1 {
				t.Fatalf("level %+.2f dB from -6 dBFS, want within 1 dB", got)
			}
		})
	}
}
