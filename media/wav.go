package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// WAV format tags (RIFF WAVE fmt chunk wFormatTag).
const (
	wavFormatPCM        = 1
	wavFormatFloat      = 3
	wavFormatALaw       = 6
	wavFormatMuLaw      = 7
	wavFormatExtensible = 0xFFFE
)

// maxPromptBytes bounds what we read for one prompt file, and
// maxPromptSeconds what it may hold: prompts are short, anything larger is
// a mistake (10 minutes of 48 kHz stereo 16-bit is 115 MB).
const (
	maxPromptBytes   = 128 << 20
	maxPromptSeconds = 10 * 60
	// maxSourceFrames bounds the decoded audio before resampling (4 bytes a
	// frame): 10 minutes at 48 kHz, so a 192 kHz file may hold 2.5 minutes.
	maxSourceFrames = maxPromptSeconds * 48000
)

// WAVError names the file and the field that made a WAV file unusable.
// It matches ErrBadWAV and ErrBadPrompt with errors.Is.
type WAVError struct {
	File  string // file name or path as given to DecodeWAV
	Field string // e.g. "fmt sample rate", "data chunk"; "" when Msg says it all
	Msg   string // what is wrong, e.g. "12-bit PCM is not supported"
}

func (e *WAVError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Field + " " + e.Msg
}

// Unwrap makes errors.Is(err, ErrBadWAV) and errors.Is(err, ErrBadPrompt) true.
func (e *WAVError) Unwrap() []error { return []error{ErrBadWAV, ErrBadPrompt} }

func wavErr(file, field, format string, args ...any) error {
	return &WAVError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// LoadWAV reads a prompt from a WAV file; the prompt is named after path.
func LoadWAV(path string) (*Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: load prompt: %w", err)
	}
	defer f.Close()
	return DecodeWAV(path, f)
}

// wavFormat is the part of the fmt chunk we use.
type wavFormat struct {
	tag        uint16 // the SubFormat's for WAVE_FORMAT_EXTENSIBLE
	channels   uint16
	rate       uint32
	byteRate   uint32
	blockAlign uint16
	bits       uint16 // container bits per sample
}

// DecodeWAV parses a RIFF/WAVE stream into an 8 kHz mono prompt. It takes
// linear PCM (8-bit unsigned, 16, 24 or 32-bit signed), 32 or 64-bit IEEE
// float and G.711 A-law / µ-law, plain or WAVE_FORMAT_EXTENSIBLE, at any
// rate from 4 to 192 kHz and with up to 8 channels: channels are averaged to
// mono and the rate converted by the low-pass resampler (resample.go).
// 8 kHz mono G.711 is kept bit-exact. Unknown chunks (LIST, fact, cue, ...)
// are skipped. Everything else is refused with a *WAVError naming name and
// what is wrong.
func DecodeWAV(name string, r io.Reader) (*Prompt, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPromptBytes+1))
	if err != nil {
		return nil, fmt.Errorf("media: read %s: %w", name, err)
	}
	if len(data) > maxPromptBytes {
		return nil, wavErr(name, "", "file is over %d MiB: too long for a prompt", maxPromptBytes>>20)
	}
	fm, body, err := parseWAV(name, data)
	if err != nil {
		return nil, err
	}
	frames := len(body) / int(fm.blockAlign)
	if frames/int(fm.rate) > maxPromptSeconds || frames > maxSourceFrames {
		return nil, wavErr(name, "", "%d s of audio at %d Hz: too long for a prompt (at most %d s, %d samples)", frames/int(fm.rate), fm.rate, maxPromptSeconds, maxSourceFrames)
	}
	if (fm.tag == wavFormatALaw || fm.tag == wavFormatMuLaw) && fm.channels == 1 && fm.rate == SampleRate {
		c := PCMU
		if fm.tag == wavFormatALaw {
			c = PCMA
		}
		pcm := make([]int16, len(body))
		decodeG711(c, pcm, body)
		p := NewPromptPCM(name, pcm)
		// Keep the file's own law bit-exact rather than re-encoding it.
		if c == PCMA {
			p.pcma = bytes.Clone(body)
		} else {
			p.pcmu = bytes.Clone(body)
		}
		return p, nil
	}
	if fm.tag == wavFormatPCM && fm.bits == 16 && fm.channels == 1 && fm.rate == SampleRate {
		pcm := make([]int16, frames)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
		}
		return NewPromptPCM(name, pcm), nil
	}
	return NewPromptPCM(name, toPCM8k(wavMono(fm, body, frames), int(fm.rate))), nil
}

// wavMono averages the channels of every frame into one sample, full
// scale ±1.
func wavMono(fm wavFormat, body []byte, frames int) []float32 {
	le := binary.LittleEndian
	ch := int(fm.channels)
	width := int(fm.bits) / 8
	sample := func(b []byte) float32 {
		switch fm.tag {
		case wavFormatALaw:
			return float32(alawToLinear(b[0])) / 32768
		case wavFormatMuLaw:
			return float32(ulawToLinear(b[0])) / 32768
		case wavFormatFloat:
			var v float64
			if width == 4 {
				v = float64(math.Float32frombits(le.Uint32(b)))
			} else {
				v = math.Float64frombits(le.Uint64(b))
			}
			if math.IsNaN(v) {
				return 0
			}
			return float32(max(-1, min(1, v)))
		}
		switch width {
		case 1:
			return (float32(b[0]) - 128) / 128 // 8-bit WAV is unsigned
		case 2:
			return float32(int16(le.Uint16(b))) / (1 << 15)
		case 3:
			return float32(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8) / (1 << 23)
		default:
			return float32(float64(int32(le.Uint32(b))) / (1 << 31))
		}
	}
	mono := make([]float32, frames)
	scale := 1 / float32(ch)
	for i := range mono {
		f := body[i*int(fm.blockAlign):]
		var acc float32
		for c := range ch {
			acc += sample(f[c*width:])
		}
		mono[i] = acc * scale
	}
	return mono
}

// parseWAV walks the RIFF chunks (RIFF: 4-byte id, little-endian 32-bit
// size, body padded to an even length) and returns the checked format and
// the data chunk body, aliasing data.
func parseWAV(name string, data []byte) (wavFormat, []byte, error) {
	var fm wavFormat
	if len(data) < 12 {
		return fm, nil, wavErr(name, "RIFF header", "truncated: %d bytes, need 12", len(data))
	}
	if string(data[0:4]) != "RIFF" {
		return fm, nil, wavErr(name, "RIFF header", "id %q, need \"RIFF\"", data[0:4])
	}
	if string(data[8:12]) != "WAVE" {
		return fm, nil, wavErr(name, "RIFF form type", "%q, need \"WAVE\"", data[8:12])
	}
	riffSize := uint64(binary.LittleEndian.Uint32(data[4:8]))
	if riffSize < 4 {
		return fm, nil, wavErr(name, "RIFF size", "%d too small", riffSize)
	}
	// A truncated file is still walked chunk by chunk first, so the error
	// names the chunk that was cut (usually "data") and where.
	truncated := riffSize+8 > uint64(len(data))
	rest := data[12:min(8+riffSize, uint64(len(data)))]
	var haveFmt bool
	var body []byte
	var haveData bool
	for len(rest) > 0 {
		if len(rest) < 8 {
			return fm, nil, wavErr(name, "chunk header", "truncated: %d bytes left", len(rest))
		}
		id := string(rest[0:4])
		size := uint64(binary.LittleEndian.Uint32(rest[4:8]))
		rest = rest[8:]
		if size > uint64(len(rest)) {
			return fm, nil, wavErr(name, "", "truncated %q chunk at byte %d: its header says %d bytes, %d are left", id, len(data)-len(rest), size, len(rest))
		}
		chunk := rest[:size]
		rest = rest[size:]
		if size%2 == 1 && len(rest) > 0 {
			rest = rest[1:] // RIFF pad byte after an odd-sized chunk
		}
		switch id {
		case "fmt ":
			if haveFmt {
				return fm, nil, wavErr(name, "fmt chunk", "appears twice")
			}
			f, err := parseFmt(name, chunk)
			if err != nil {
				return fm, nil, err
			}
			fm, haveFmt = f, true
		case "data":
			if haveData {
				return fm, nil, wavErr(name, "data chunk", "appears twice")
			}
			body, haveData = chunk, true
		}
	}
	if truncated {
		return fm, nil, wavErr(name, "RIFF size", "%d exceeds file size %d (truncated file at byte %d)", riffSize, len(data)-8, len(data))
	}
	if !haveFmt {
		return fm, nil, wavErr(name, "fmt chunk", "missing")
	}
	if !haveData {
		return fm, nil, wavErr(name, "data chunk", "missing")
	}
	if len(body) == 0 {
		return fm, nil, wavErr(name, "data chunk", "empty")
	}
	if len(body)%int(fm.blockAlign) != 0 {
		return fm, nil, wavErr(name, "data chunk size", "%d is not a multiple of block align %d", len(body), fm.blockAlign)
	}
	return fm, body, nil
}

func parseFmt(name string, b []byte) (wavFormat, error) {
	var f wavFormat
	if len(b) < 16 {
		return f, wavErr(name, "fmt chunk size", "%d, need at least 16", len(b))
	}
	le := binary.LittleEndian
	f = wavFormat{
		tag: le.Uint16(b[0:]), channels: le.Uint16(b[2:]), rate: le.Uint32(b[4:]),
		byteRate: le.Uint32(b[8:]), blockAlign: le.Uint16(b[12:]), bits: le.Uint16(b[14:]),
	}
	if f.tag == wavFormatExtensible {
		// WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of
		// the SubFormat GUID at offset 24 (wValidBitsPerSample at 18 may be
		// less than the container: the low bits are then zero, and reading
		// the whole container is right).
		if len(b) < 40 {
			return f, wavErr(name, "fmt extensible size", "%d, need 40", len(b))
		}
		f.tag = le.Uint16(b[24:])
	}
	switch f.tag {
	case wavFormatPCM:
		if f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32 {
			return f, wavErr(name, "", "%d-bit PCM is not supported (8, 16, 24 or 32-bit)", f.bits)
		}
	case wavFormatFloat:
		if f.bits != 32 && f.bits != 64 {
			return f, wavErr(name, "", "%d-bit float is not supported (32 or 64-bit)", f.bits)
		}
	case wavFormatALaw, wavFormatMuLaw:
		if f.bits != 8 {
			return f, wavErr(name, "fmt bits per sample", "%d, need 8 for G.711 (format %d)", f.bits, f.tag)
		}
	default:
		return f, wavErr(name, "", "format %d is not supported: convert to PCM, float or G.711 (compressed WAV such as ADPCM or GSM is not read)", f.tag)
	}
	if f.channels < 1 || f.channels > 8 {
		return f, wavErr(name, "fmt channels", "%d, need 1 to 8", f.channels)
	}
	if f.rate < 4000 || f.rate > 192000 {
		return f, wavErr(name, "fmt sample rate", "%d Hz, need 4000 to 192000", f.rate)
	}
	if want := f.channels * (f.bits / 8); f.blockAlign != want {
		return f, wavErr(name, "fmt block align", "%d, need %d (%d channel(s) of %d bits)", f.blockAlign, want, f.channels, f.bits)
	}
	// The byte rate is informative only (players ignore it), so a wrong
	// one is not worth refusing a recording for.
	return f, nil
}

// WriteWAV writes pcm as a 16-bit 8 kHz mono PCM WAV file (recordings).
func WriteWAV(w io.Writer, pcm []int16) error {
	dataLen := uint64(len(pcm)) * 2
	if dataLen+36 > 0xFFFFFFFF {
		return errors.New("media: write WAV: recording too long for RIFF")
	}
	le := binary.LittleEndian
	hdr := make([]byte, 44, 44+2*len(pcm))
	copy(hdr[0:], "RIFF")
	le.PutUint32(hdr[4:], uint32(36+dataLen))
	copy(hdr[8:], "WAVEfmt ")
	le.PutUint32(hdr[16:], 16)
	le.PutUint16(hdr[20:], wavFormatPCM)
	le.PutUint16(hdr[22:], 1)
	le.PutUint32(hdr[24:], SampleRate)
	le.PutUint32(hdr[28:], SampleRate*2)
	le.PutUint16(hdr[32:], 2)
	le.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	le.PutUint32(hdr[40:], uint32(dataLen))
	buf := hdr
	for _, v := range pcm {
		buf = le.AppendUint16(buf, uint16(v))
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("media: write WAV: %w", err)
	}
	return nil
}
