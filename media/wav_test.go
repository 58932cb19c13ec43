package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wavSpec describes a WAV file to synthesise; zero fields get sane values.
type wavSpec struct {
	tag, channels, bits uint16
	rate                uint32
	byteRate            uint32 // 0: computed
	blockAlign          uint16 // 0: computed
	data                []byte
	extra               []string // chunk ids inserted before fmt (e.g. "LIST")
	noFmt, noData       bool
	riffDelta           int // added to the RIFF size
	dataDelta           int // added to the data chunk size field
}

func buildWAV(s wavSpec) []byte {
	le := binary.LittleEndian
	var body []byte
	for _, id := range s.extra {
		body = append(body, id...)
		body = le.AppendUint32(body, 5)
		body = append(body, "hello"...)
		body = append(body, 0) // pad byte of the odd-sized chunk
	}
	if !s.noFmt {
		ba := s.blockAlign
		if ba == 0 {
			ba = s.channels * s.bits / 8
		}
		br := s.byteRate
		if br == 0 {
			br = s.rate * uint32(ba)
		}
		body = append(body, "fmt "...)
		body = le.AppendUint32(body, 16)
		body = le.AppendUint16(body, s.tag)
		body = le.AppendUint16(body, s.channels)
		body = le.AppendUint32(body, s.rate)
		body = le.AppendUint32(body, br)
		body = le.AppendUint16(body, ba)
		body = le.AppendUint16(body, s.bits)
	}
	if !s.noData {
		body = append(body, "data"...)
		body = le.AppendUint32(body, uint32(len(s.data)+s.dataDelta))
		body = append(body, s.data...)
	}
	out := []byte("RIFF")
	out = le.AppendUint32(out, uint32(4+len(body)+s.riffDelta))
	out = append(out, "WAVE"...)
	return append(out, body...)
}

func pcm16Bytes(pcm []int16) []byte {
	var b []byte
	for _, v := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func TestDecodeWAVAccepts(t *testing.T) {
	pcm := Tone([]float64{440}, 50_000_000) // 50 ms
	ulaw := make([]byte, len(pcm))
	encodeG711(PCMU, ulaw, pcm)
	alaw := make([]byte, len(pcm))
	encodeG711(PCMA, alaw, pcm)
	tests := []struct {
		name     string
		spec     wavSpec
		samples  int
		exactLaw Codec // payload that must equal spec.data bit for bit
	}{
		{"pcm16", wavSpec{tag: 1, channels: 1, bits: 16, rate: 8000, data: pcm16Bytes(pcm)}, len(pcm), 255},
		{"pcm16 with LIST and fact", wavSpec{tag: 1, channels: 1, bits: 16, rate: 8000, data: pcm16Bytes(pcm), extra: []string{"LIST", "fact"}}, len(pcm), 255},
		{"mulaw", wavSpec{tag: 7, channels: 1, bits: 8, rate: 8000, data: ulaw}, len(pcm), PCMU},
		{"alaw", wavSpec{tag: 6, channels: 1, bits: 8, rate: 8000, data: alaw}, len(pcm), PCMA},
		{"odd-length alaw", wavSpec{tag: 6, channels: 1, bits: 8, rate: 8000, data: alaw[:399]}, 399, PCMA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodeWAV("x.wav", bytes.NewReader(buildWAV(tt.spec)))
			if err != nil {
				t.Fatal(err)
			}
			if p.Samples() != tt.samples || len(p.Payload(PCMU)) != tt.samples || len(p.Payload(PCMA)) != tt.samples {
				t.Fatalf("samples %d, payloads %d/%d, want %d", p.Samples(), len(p.Payload(PCMU)), len(p.Payload(PCMA)), tt.samples)
			}
			if tt.exactLaw != 255 && !bytes.Equal(p.Payload(tt.exactLaw), tt.spec.data) {
				t.Fatal("G.711 payload was not kept bit-exact")
			}
			if tt.exactLaw == 255 {
				for i, v := range p.PCM() {
					if v != pcm[i] {
						t.Fatalf("sample %d = %d, want %d", i, v, pcm[i])
					}
				}
			}
		})
	}
}

func TestDecodeWAVRefuses(t *testing.T) {
	ok := wavSpec{tag: 1, channels: 1, bits: 16, rate: 8000, data: make([]byte, 320)}
	with := func(f func(*wavSpec)) []byte { s := ok; f(&s); return buildWAV(s) }
	tests := []struct {
		name string
		in   []byte
		want string // substring of the error, which must name the file
	}{
		{"empty", nil, "RIFF header truncated"},
		{"not RIFF", []byte("RIFX\x00\x00\x00\x00WAVE"), `id "RIFX"`},
		{"not WAVE", append([]byte("RIFF\x04\x00\x00\x00"), "AVI "...), "RIFF form type"},
		{"9 channels", with(func(s *wavSpec) { s.channels = 9 }), "fmt channels 9, need 1 to 8"},
		{"2 kHz", with(func(s *wavSpec) { s.rate = 2000 }), "fmt sample rate 2000 Hz, need 4000 to 192000"},
		{"12-bit", with(func(s *wavSpec) { s.bits = 12; s.blockAlign = 2 }), "x.wav: 12-bit PCM is not supported"},
		{"16-bit float", with(func(s *wavSpec) { s.tag = 3 }), "16-bit float is not supported"},
		{"ADPCM", with(func(s *wavSpec) { s.tag = 2 }), "format 2 is not supported"},
		{"bad block align", with(func(s *wavSpec) { s.blockAlign = 4 }), "fmt block align 4"},
		{"missing fmt", with(func(s *wavSpec) { s.noFmt = true }), "fmt chunk missing"},
		{"missing data", with(func(s *wavSpec) { s.noData = true }), "data chunk missing"},
		{"empty data", with(func(s *wavSpec) { s.data = nil }), "data chunk empty"},
		{"odd data size", with(func(s *wavSpec) { s.data = make([]byte, 321) }), "data chunk size 321 is not a multiple of block align 2"},
		{"truncated chunk", with(func(s *wavSpec) { s.dataDelta = 100; s.riffDelta = 0 }), `truncated "data" chunk at byte 44: its header says 420 bytes, 320 are left`},
		{"truncated file", with(func(s *wavSpec) { s.riffDelta = 50 }), "RIFF size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeWAV("prompts/en/x.wav", bytes.NewReader(tt.in))
			if !errors.Is(err, ErrBadWAV) {
				t.Fatalf("err = %v, want ErrBadWAV", err)
			}
			var we *WAVError
			if !errors.As(err, &we) || we.File != "prompts/en/x.wav" {
				t.Fatalf("err %v does not name the file", err)
			}
			if !strings.HasPrefix(err.Error(), "prompts/en/x.wav: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWriteWAVRoundTrip(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	var buf bytes.Buffer
	if err := WriteWAV(&buf, pcm); err != nil {
		t.Fatal(err)
	}
	p, err := DecodeWAV("rec.wav", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.PCM(); !equal16(got, pcm) {
		t.Fatalf("round trip = %v, want %v", got, pcm)
	}
}

// TestGoldenWAVs decodes the committed files in testdata: sox-*.wav were
// written by sox (an independent writer: fmt extension, fact chunk,
// WAVE_FORMAT_EXTENSIBLE for 24-bit), the others by TestGenerateGoldenWAVs.
func TestGoldenWAVs(t *testing.T) {
	tests := []struct {
		file    string
		samples int // 0: must fail
	}{
		{"pcm16.wav", 800}, {"alaw.wav", 800}, {"ulaw.wav", 800}, {"list-chunk.wav", 800},
		{"stereo.wav", 400}, {"16khz.wav", 400}, {"truncated.wav", 0},
		{"sox-pcm16.wav", 800}, {"sox-ulaw.wav", 800}, {"sox-alaw.wav", 800},
		{"sox-16k.wav", 800}, {"sox-stereo.wav", 800}, {"sox-24bit.wav", 800},
		{"sox-44k-stereo.wav", 160}, {"sox-48k-6ch-ext.wav", 80}, {"sox-22k-u8.wav", 160}, {"sox-44k-float.wav", 80},
		{"sox-16k.flac", 800},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := LoadPrompt(filepath.Join("testdata", tt.file))
			if tt.samples == 0 {
				if !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), tt.file) {
					t.Fatalf("err = %v, want ErrBadWAV naming the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Samples() != tt.samples {
				t.Fatalf("samples = %d, want %d", p.Samples(), tt.samples)
			}
		})
	}
}

func FuzzDecodeWAV(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.wav")
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(buildWAV(wavSpec{tag: 7, channels: 1, bits: 8, rate: 8000, data: []byte{1, 2, 3}, extra: []string{"LIST"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeWAV("fuzz.wav", bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadWAV) {
				t.Fatalf("error %v does not wrap ErrBadWAV", err)
			}
			return
		}
		if p.Samples() == 0 || len(p.Payload(PCMU)) != p.Samples() || len(p.Payload(PCMA)) != p.Samples() {
			t.Fatalf("inconsistent prompt: %d samples, %d/%d payload", p.Samples(), len(p.Payload(PCMU)), len(p.Payload(PCMA)))
		}
	})
}

func equal16(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
