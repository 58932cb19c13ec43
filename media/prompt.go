package media

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SampleRate is the G.711 clock rate (RFC 3551 §4.5.14): 8000 samples/s,
// which is also the RTP timestamp rate of PCMU, PCMA and telephone-event.
const SampleRate = 8000

// Prompt is an immutable audio clip, encoded to both G.711 laws once at load
// so every call that plays it only slices shared bytes.
type Prompt struct {
	Name string
	pcm  []int16
	pcmu []byte
	pcma []byte
}

// NewPromptPCM makes a prompt from 8 kHz linear PCM (not copied: the caller
// must not modify pcm afterwards).
func NewPromptPCM(name string, pcm []int16) *Prompt {
	p := &Prompt{Name: name, pcm: pcm, pcmu: make([]byte, len(pcm)), pcma: make([]byte, len(pcm))}
	encodeG711(PCMU, p.pcmu, pcm)
	encodeG711(PCMA, p.pcma, pcm)
	return p
}

// Duration is the playing time of the prompt.
func (p *Prompt) Duration() time.Duration {
	return time.Duration(len(p.pcm)) * time.Second / SampleRate
}

// Samples returns the number of 8 kHz samples.
func (p *Prompt) Samples() int { return len(p.pcm) }

// PCM returns the linear samples (shared: do not modify).
func (p *Prompt) PCM() []int16 { return p.pcm }

// Payload returns the prompt encoded for c (shared: do not modify), or nil
// for a codec we do not carry.
func (p *Prompt) Payload(c Codec) []byte {
	switch c {
	case PCMU:
		return p.pcmu
	case PCMA:
		return p.pcma
	}
	return nil
}

// Library holds every prompt of a prompts directory: <dir>/<lang>/<name>.wav.
type Library struct {
	prompts map[string]map[string]*Prompt // lang -> name -> prompt
}

// LoadLibrary loads <dir>/<lang>/<name>.wav for every language directory.
// Names are UTF-8 (Vietnamese and Thai prompts). Any corrupt file fails the
// whole load with that file named: callers must never hear a half library.
func LoadLibrary(dir string) (*Library, error) {
	langs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("media: load prompt library: %w", err)
	}
	lib := &Library{prompts: make(map[string]map[string]*Prompt)}
	for _, l := range langs {
		if !l.IsDir() || strings.HasPrefix(l.Name(), ".") {
			continue
		}
		lang := l.Name()
		files, err := os.ReadDir(filepath.Join(dir, lang))
		if err != nil {
			return nil, fmt.Errorf("media: load prompt library: %w", err)
		}
		m := make(map[string]*Prompt)
		for _, f := range files {
			if f.IsDir() || !strings.EqualFold(filepath.Ext(f.Name()), ".wav") {
				continue
			}
			path := filepath.Join(dir, lang, f.Name())
			if !utf8.ValidString(f.Name()) {
				return nil, fmt.Errorf("media: load prompt library: %q: file name is not UTF-8: %w", path, fs.ErrInvalid)
			}
			p, err := LoadWAV(path)
			if err != nil {
				return nil, err
			}
			name := strings.TrimSuffix(f.Name(), filepath.Ext(f.Name()))
			p.Name = lang + "/" + name
			m[name] = p
		}
		lib.prompts[lang] = m
	}
	return lib, nil
}

// Prompt returns the prompt lang/name or an error wrapping ErrPromptNotFound.
func (l *Library) Prompt(lang, name string) (*Prompt, error) {
	if p, ok := l.prompts[lang][name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: language %q, name %q", ErrPromptNotFound, lang, name)
}

// Has reports whether lang/name exists.
func (l *Library) Has(lang, name string) bool {
	_, ok := l.prompts[lang][name]
	return ok
}

// Languages returns the language directories, sorted.
func (l *Library) Languages() []string {
	out := make([]string, 0, len(l.prompts))
	for lang := range l.prompts {
		out = append(out, lang)
	}
	slices.Sort(out)
	return out
}

// Names returns the prompt names of lang, sorted.
func (l *Library) Names(lang string) []string {
	out := make([]string, 0, len(l.prompts[lang]))
	for n := range l.prompts[lang] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
