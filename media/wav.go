package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// WAV format tags (RIFF WAVE fmt chunk wFormatTag).
const (
	wavFormatPCM        = 1
	wavFormatALaw       = 6
	wavFormatMuLaw      = 7
	wavFormatExtensible = 0xFFFE
)

// maxWAVBytes bounds what we read for one prompt: 10 minutes of 16-bit
// 8 kHz audio. Prompts are short; anything larger is a mistake.
const maxWAVBytes = 10 * 60 * SampleRate * 2

// WAVError names the file and the field that made a WAV file unusable.
// It matches ErrBadWAV with errors.Is.
type WAVError struct {
	File  string // file name or path as given to DecodeWAV
	Field string // e.g. "fmt sample rate", "data chunk"
	Msg   string // what is wrong, e.g. "16000 Hz, need 8000"
}

func (e *WAVError) Error() string { return e.File + ": " + e.Field + " " + e.Msg }

// Unwrap makes errors.Is(err, ErrBadWAV) true.
func (e *WAVError) Unwrap() error { return ErrBadWAV }

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

// wavFormat is the part of the fmt chunk we check.
type wavFormat struct {
	tag        uint16
	channels   uint16
	rate       uint32
	byteRate   uint32
	blockAlign uint16
	bits       uint16
}

// DecodeWAV parses a RIFF/WAVE stream holding 8 kHz mono audio: 16-bit
// linear PCM (format 1), or 8-bit G.711 A-law (6) / µ-law (7). Unknown chunks
// (LIST, fact, cue, ...) are skipped. Everything else is refused with a
// *WAVError naming name and the field.
func DecodeWAV(name string, r io.Reader) (*Prompt, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxWAVBytes+1))
	if err != nil {
		return nil, fmt.Errorf("media: read %s: %w", name, err)
	}
	if len(data) > maxWAVBytes {
		return nil, wavErr(name, "file size", "over %d bytes", maxWAVBytes)
	}
	fm, body, err := parseWAV(name, data)
	if err != nil {
		return nil, err
	}
	switch fm.tag {
	case wavFormatPCM:
		pcm := make([]int16, len(body)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
		}
		return NewPromptPCM(name, pcm), nil
	default:
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
	if riffSize+8 > uint64(len(data)) {
		return fm, nil, wavErr(name, "RIFF size", "%d exceeds file size %d (truncated file)", riffSize, len(data)-8)
	}
	if riffSize < 4 {
		return fm, nil, wavErr(name, "RIFF size", "%d too small", riffSize)
	}
	rest := data[12 : 8+riffSize]
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
			return fm, nil, wavErr(name, fmt.Sprintf("%q chunk size", id), "%d exceeds the %d bytes left (truncated chunk)", size, len(rest))
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
		// the SubFormat GUID at offset 24.
		if len(b) < 40 {
			return f, wavErr(name, "fmt extensible size", "%d, need 40", len(b))
		}
		f.tag = le.Uint16(b[24:])
	}
	var wantBits uint16
	switch f.tag {
	case wavFormatPCM:
		wantBits = 16
	case wavFormatALaw, wavFormatMuLaw:
		wantBits = 8
	default:
		return f, wavErr(name, "fmt format", "%d, need 1 (PCM), 6 (A-law) or 7 (µ-law)", f.tag)
	}
	if f.channels != 1 {
		return f, wavErr(name, "fmt channels", "%d, need 1 (mono)", f.channels)
	}
	if f.rate != SampleRate {
		return f, wavErr(name, "fmt sample rate", "%d Hz, need %d", f.rate, SampleRate)
	}
	if f.bits != wantBits {
		return f, wavErr(name, "fmt bits per sample", "%d, need %d for format %d", f.bits, wantBits, f.tag)
	}
	if f.blockAlign != wantBits/8 {
		return f, wavErr(name, "fmt block align", "%d, need %d", f.blockAlign, wantBits/8)
	}
	if f.byteRate != SampleRate*uint32(f.blockAlign) {
		return f, wavErr(name, "fmt byte rate", "%d, need %d", f.byteRate, SampleRate*uint32(f.blockAlign))
	}
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
