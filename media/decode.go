package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hajimehoshi/go-mp3"
	"github.com/mewkiz/flac"
)

// PromptExts are the file extensions a prompt library loads, lower case.
var PromptExts = []string{".wav", ".flac", ".mp3"}

// IsPromptFile reports whether name has one of PromptExts (any case).
func IsPromptFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range PromptExts {
		if ext == e {
			return true
		}
	}
	return false
}

// PromptError names a FLAC or MP3 prompt file and what is wrong with it. It
// matches ErrBadPrompt with errors.Is (WAV files have *WAVError).
type PromptError struct {
	File string
	Msg  string
}

func (e *PromptError) Error() string { return e.File + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrBadPrompt) true.
func (e *PromptError) Unwrap() error { return ErrBadPrompt }

func promptErr(file, format string, args ...any) error {
	return &PromptError{File: file, Msg: fmt.Sprintf(format, args...)}
}

// LoadPrompt reads a prompt file (WAV, FLAC or MP3, chosen by its content,
// not its name); the prompt is named after path.
func LoadPrompt(path string) (*Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: load prompt: %w", err)
	}
	defer f.Close()
	return DecodePrompt(path, f)
}

// DecodePrompt decodes a WAV, FLAC or MP3 stream into an 8 kHz mono prompt
// (see DecodeWAV for WAV; FLAC and MP3 are mixed down and resampled the
// same way). This is the one validation of a prompt file: the library at
// start, on reload and under `hotline flows check` all come here.
func DecodePrompt(name string, r io.Reader) (*Prompt, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPromptBytes+1))
	if err != nil {
		return nil, fmt.Errorf("media: read %s: %w", name, err)
	}
	if len(data) > maxPromptBytes {
		return nil, promptErr(name, "file is over %d MiB: too long for a prompt", maxPromptBytes>>20)
	}
	switch {
	case bytes.HasPrefix(data, []byte("RIFF")):
		return DecodeWAV(name, bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("fLaC")):
		return decodeFLAC(name, data)
	case bytes.HasPrefix(data, []byte("ID3")) || len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0:
		return decodeMP3(name, data)
	case len(data) == 0:
		return nil, promptErr(name, "empty file")
	}
	return nil, promptErr(name, "not a WAV, FLAC or MP3 file (starts with % x)", data[:min(4, len(data))])
}

// guard turns a panic inside a third-party decoder into an error naming the
// file: a corrupt prompt must never take the server down.
func guard(name, what string, err *error) {
	if v := recover(); v != nil {
		*err = promptErr(name, "corrupt %s data (decoder failed: %v)", what, v)
	}
}

func decodeFLAC(name string, data []byte) (p *Prompt, err error) {
	defer guard(name, "FLAC", &err)
	s, err := flac.New(bytes.NewReader(data))
	if err != nil {
		return nil, promptErr(name, "FLAC header: %v", err)
	}
	info := s.Info
	rate, ch, bits := int(info.SampleRate), int(info.NChannels), int(info.BitsPerSample)
	if rate < 4000 || rate > 192000 {
		return nil, promptErr(name, "FLAC sample rate %d Hz, need 4000 to 192000", rate)
	}
	if ch < 1 || bits < 4 || bits > 32 {
		return nil, promptErr(name, "FLAC stream info: %d channels of %d bits", ch, bits)
	}
	limit := min(maxPromptSeconds*rate, maxSourceFrames)
	scale := 1 / (float32(int64(1)<<(bits-1)) * float32(ch))
	var mono []float32
	for {
		fr, err := s.ParseNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, promptErr(name, "FLAC frame after %d samples: %v", len(mono), err)
		}
		if len(fr.Subframes) != ch {
			return nil, promptErr(name, "FLAC frame after %d samples has %d channels, stream info says %d", len(mono), len(fr.Subframes), ch)
		}
		n := fr.Subframes[0].NSamples
		for _, sf := range fr.Subframes {
			if len(sf.Samples) < n {
				return nil, promptErr(name, "FLAC frame after %d samples: short subframe", len(mono))
			}
		}
		if len(mono)+n > limit {
			return nil, promptErr(name, "too long for a prompt (at most %d s, %d samples)", maxPromptSeconds, maxSourceFrames)
		}
		for i := range n {
			var acc float32
			for _, sf := range fr.Subframes {
				acc += float32(sf.Samples[i])
			}
			mono = append(mono, acc*scale)
		}
	}
	if len(mono) == 0 {
		return nil, promptErr(name, "FLAC stream holds no audio")
	}
	return NewPromptPCM(name, toPCM8k(mono, rate)), nil
}

func decodeMP3(name string, data []byte) (p *Prompt, err error) {
	defer guard(name, "MP3", &err)
	d, err := mp3.NewDecoder(bytes.NewReader(data))
	if err != nil {
		return nil, promptErr(name, "MP3: %v", err)
	}
	rate := d.SampleRate()
	if rate < 4000 || rate > 192000 {
		return nil, promptErr(name, "MP3 sample rate %d Hz, need 4000 to 192000", rate)
	}
	// go-mp3 always yields 16-bit little-endian stereo (a mono file twice).
	limit := min(maxPromptSeconds*rate, maxSourceFrames)
	var mono []float32
	buf := make([]byte, 4*1152)
	var carry []byte
	for {
		n, rerr := d.Read(buf)
		b := append(carry, buf[:n]...)
		whole := len(b) / 4 * 4
		for i := 0; i < whole; i += 4 {
			l := int16(uint16(b[i]) | uint16(b[i+1])<<8)
			r := int16(uint16(b[i+2]) | uint16(b[i+3])<<8)
			mono = append(mono, (float32(l)+float32(r))/65536)
		}
		carry = append(carry[:0], b[whole:]...)
		if len(mono) > limit {
			return nil, promptErr(name, "too long for a prompt (at most %d s, %d samples)", maxPromptSeconds, maxSourceFrames)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, promptErr(name, "MP3 frame after %d samples: %v", len(mono), rerr)
		}
		if n == 0 {
			return nil, promptErr(name, "MP3 decoder made no progress after %d samples", len(mono))
		}
	}
	if len(mono) == 0 {
		return nil, promptErr(name, "MP3 stream holds no audio")
	}
	return NewPromptPCM(name, toPCM8k(mono, rate)), nil
}
