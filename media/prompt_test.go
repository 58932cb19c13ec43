package media

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeWAVFile(t *testing.T, path string, pcm []int16) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteWAV(&buf, pcm); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadLibrary(t *testing.T) {
	dir := t.TempDir()
	writeWAVFile(t, filepath.Join(dir, "en", "welcome.wav"), make([]int16, 800))
	writeWAVFile(t, filepath.Join(dir, "en", "digit-1.wav"), make([]int16, 400))
	writeWAVFile(t, filepath.Join(dir, "vi", "chào-mừng.wav"), make([]int16, 1600)) // UTF-8 name
	writeWAVFile(t, filepath.Join(dir, "th", "สวัสดี.wav"), make([]int16, 160))
	if err := os.WriteFile(filepath.Join(dir, "en", "README.txt"), []byte("not a prompt"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib, err := LoadLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := lib.Languages(); !slices.Equal(got, []string{"en", "th", "vi"}) {
		t.Fatalf("Languages = %v", got)
	}
	if got := lib.Names("en"); !slices.Equal(got, []string{"digit-1", "welcome"}) {
		t.Fatalf("Names(en) = %v", got)
	}
	p, err := lib.Prompt("vi", "chào-mừng")
	if err != nil {
		t.Fatal(err)
	}
	if p.Duration() != 200*time.Millisecond || p.Name != "vi/chào-mừng" {
		t.Fatalf("prompt %q duration %v", p.Name, p.Duration())
	}
	if !lib.Has("th", "สวัสดี") || lib.Has("th", "welcome") || lib.Has("xx", "welcome") {
		t.Fatal("Has is wrong")
	}
	_, err = lib.Prompt("en", "missing")
	if !errors.Is(err, ErrPromptNotFound) || !strings.Contains(err.Error(), `"missing"`) || !strings.Contains(err.Error(), `"en"`) {
		t.Fatalf("err = %v, want ErrPromptNotFound naming lang and name", err)
	}
}

func TestLoadLibraryCorruptFileFailsWholeLoad(t *testing.T) {
	dir := t.TempDir()
	writeWAVFile(t, filepath.Join(dir, "en", "ok.wav"), make([]int16, 800))
	bad := filepath.Join(dir, "en", "broken.wav")
	if err := os.WriteFile(bad, []byte("RIFF\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib, err := LoadLibrary(dir)
	if lib != nil || !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("lib %v err %v, want ErrBadWAV naming %s", lib, err, bad)
	}
	if _, err := LoadLibrary(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing directory loaded")
	}
}

func TestPromptEncodedOnce(t *testing.T) {
	pcm := Tone([]float64{1000}, 20*time.Millisecond)
	p := NewPromptPCM("t", pcm)
	for _, c := range []Codec{PCMU, PCMA} {
		want := make([]byte, len(pcm))
		encodeG711(c, want, pcm)
		if !bytes.Equal(p.Payload(c), want) {
			t.Fatalf("%v payload differs from encoding", c)
		}
	}
	if p.Payload(Codec(9)) != nil {
		t.Fatal("payload for unknown codec")
	}
}

func TestG711Silence(t *testing.T) {
	var b [1]byte
	for _, c := range []Codec{PCMU, PCMA} {
		encodeG711(c, b[:], []int16{0})
		if b[0] != silenceByte(c) {
			t.Errorf("%v encodes 0 as %#x, silence byte is %#x", c, b[0], silenceByte(c))
		}
	}
}

func TestDTMFTone(t *testing.T) {
	if _, err := DTMFTone('x', time.Second); !errors.Is(err, ErrBadDigit) {
		t.Fatalf("err = %v", err)
	}
	pcm, err := DTMFTone('5', 100*time.Millisecond)
	if err != nil || len(pcm) != 800 {
		t.Fatalf("len %d err %v", len(pcm), err)
	}
}

func BenchmarkEncodePCMU(b *testing.B) {
	pcm := Tone([]float64{440, 1000}, 20*time.Millisecond)
	dst := make([]byte, len(pcm))
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		encodeG711(PCMU, dst, pcm)
	}
}

func BenchmarkEncodePCMA(b *testing.B) {
	pcm := Tone([]float64{440, 1000}, 20*time.Millisecond)
	dst := make([]byte, len(pcm))
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		encodeG711(PCMA, dst, pcm)
	}
}
