package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// Library holds every prompt of a prompts directory:
// <dir>/<lang>/<name>.{wav,flac,mp3}. It is safe for concurrent use, and
// Replace swaps in a newly loaded set at once (the flows registry reloads
// prompts with the flows): a call always plays whole, checked files.
type Library struct {
	dir string
	cur atomic.Pointer[catalog]

	mu   sync.Mutex           // one Load at a time updates memo
	memo map[string]memoEntry // path -> the prompt the last Load decoded from it
}

// memoEntry lets a reload skip decoding a file that has not changed (same
// size and modification time): resampling a long 44.1 kHz recording costs
// tens of milliseconds, and a reload re-reads every prompt.
type memoEntry struct {
	size  int64
	mtime int64
	p     *Prompt
}

type catalog struct {
	prompts  map[string]map[string]*Prompt // lang -> name -> prompt
	unusable map[string]bool               // "lang/name" of files Load refused
}

// LibraryError lists every prompt file of a directory that cannot be used,
// one error per file (a *WAVError or *PromptError naming it), or the
// directory itself when it cannot be read. It matches ErrBadPrompt when a
// file is bad.
type LibraryError struct {
	Dir   string
	Files []error
	// DirUnreadable: the directory itself could not be read (Files holds
	// that error alone), so nothing is known about its prompts.
	DirUnreadable bool
}

func (e *LibraryError) Error() string {
	msgs := make([]string, len(e.Files))
	for i, err := range e.Files {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("media: prompt library %s: %d unusable: %s", e.Dir, len(e.Files), strings.Join(msgs, "; "))
}

// Unwrap returns the per-file errors.
func (e *LibraryError) Unwrap() []error { return e.Files }

// ErrorFile splits a prompt file error into the file it names and what is
// wrong; ok is false for an error that names no file.
func ErrorFile(err error) (file, msg string, ok bool) {
	var we *WAVError
	if errors.As(err, &we) {
		m := we.Msg
		if we.Field != "" {
			m = we.Field + " " + we.Msg
		}
		return we.File, m, true
	}
	var pe *PromptError
	if errors.As(err, &pe) {
		return pe.File, pe.Msg, true
	}
	return "", "", false
}

// NewLibrary returns an empty library over dir; Load reads it.
func NewLibrary(dir string) *Library {
	l := &Library{dir: dir}
	l.cur.Store(&catalog{prompts: map[string]map[string]*Prompt{}})
	return l
}

// LoadLibrary loads every prompt of dir. Names are UTF-8 (Vietnamese and
// Thai prompts). Any unusable file fails the whole load, and the error (a
// *LibraryError) names every such file: callers must never hear a half
// library.
func LoadLibrary(dir string) (*Library, error) {
	l, err := NewLibrary(dir).Load()
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Dir is the directory the library reads.
func (l *Library) Dir() string { return l.dir }

// Load reads the library's directory again into a new library, leaving l as
// it is. With unusable files the new library holds the good ones (so flows
// can still be checked against them) and err is a *LibraryError naming
// every bad one; such a library must not be served.
func (l *Library) Load() (*Library, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	memo := make(map[string]memoEntry)
	defer func() { l.memo = memo }()
	dir := l.dir
	out := NewLibrary(dir)
	lerr := &LibraryError{Dir: dir}
	langs, err := os.ReadDir(dir)
	if err != nil {
		lerr.Files = append(lerr.Files, fmt.Errorf("media: load prompt library: %w", err))
		lerr.DirUnreadable = true
		return out, lerr
	}
	cat := &catalog{prompts: make(map[string]map[string]*Prompt), unusable: make(map[string]bool)}
	for _, lg := range langs {
		if !lg.IsDir() || strings.HasPrefix(lg.Name(), ".") {
			continue
		}
		lang := lg.Name()
		files, err := os.ReadDir(filepath.Join(dir, lang))
		if err != nil {
			lerr.Files = append(lerr.Files, fmt.Errorf("media: load prompt library: %w", err))
			continue
		}
		m := make(map[string]*Prompt)
		from := make(map[string]string)
		for _, f := range files {
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || !IsPromptFile(f.Name()) {
				continue
			}
			path := filepath.Join(dir, lang, f.Name())
			if !utf8.ValidString(f.Name()) {
				lerr.Files = append(lerr.Files, &PromptError{File: path, Msg: "file name is not UTF-8"})
				continue
			}
			name := strings.TrimSuffix(f.Name(), filepath.Ext(f.Name()))
			if prev, dup := from[name]; dup {
				lerr.Files = append(lerr.Files, &PromptError{File: path, Msg: fmt.Sprintf("prompt %q is also %s: keep one file per name", lang+"/"+name, filepath.Base(prev))})
				continue
			}
			from[name] = path
			var size, mtime int64
			if info, err := os.Stat(path); err == nil { // through a symlink
				size, mtime = info.Size(), info.ModTime().UnixNano()
			}
			if e, ok := l.memo[path]; ok && e.size == size && e.mtime == mtime && mtime != 0 {
				memo[path] = e
				m[name] = e.p
				continue
			}
			p, err := LoadPrompt(path)
			if err != nil {
				cat.unusable[lang+"/"+name] = true
				lerr.Files = append(lerr.Files, err)
				continue
			}
			p.Name = lang + "/" + name
			m[name] = p
			memo[path] = memoEntry{size: size, mtime: mtime, p: p}
		}
		cat.prompts[lang] = m
	}
	out.cur.Store(cat)
	if len(lerr.Files) > 0 {
		return out, lerr
	}
	return out, nil
}

// Replace makes l serve the prompts of next (a library Load returned
// without error) from now on. Calls playing a prompt finish it: prompts
// are immutable.
func (l *Library) Replace(next *Library) { l.cur.Store(next.cur.Load()) }

// Stamp is a cheap fingerprint of the prompt files (names, sizes and
// modification times), for a watcher to notice a change without decoding.
func (l *Library) Stamp() string {
	h := sha256.New()
	langs, err := os.ReadDir(l.dir)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	for _, lg := range langs {
		if !lg.IsDir() || strings.HasPrefix(lg.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(filepath.Join(l.dir, lg.Name()))
		if err != nil {
			fmt.Fprintf(h, "%s unreadable\x00", lg.Name())
			continue
		}
		for _, f := range files {
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || !IsPromptFile(f.Name()) {
				continue
			}
			info, err := os.Stat(filepath.Join(l.dir, lg.Name(), f.Name())) // through a symlink
			if err != nil {
				continue
			}
			fmt.Fprintf(h, "%s/%s\x00%d\x00%d\x00", lg.Name(), f.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Prompt returns the prompt lang/name or an error wrapping ErrPromptNotFound.
func (l *Library) Prompt(lang, name string) (*Prompt, error) {
	if p, ok := l.cur.Load().prompts[lang][name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: language %q, name %q", ErrPromptNotFound, lang, name)
}

// Unusable reports whether lang/name has a file that Load refused (so a
// checker need not call it missing too: the file's error says why).
func (l *Library) Unusable(lang, name string) bool { return l.cur.Load().unusable[lang+"/"+name] }

// Has reports whether lang/name exists.
func (l *Library) Has(lang, name string) bool {
	_, ok := l.cur.Load().prompts[lang][name]
	return ok
}

// Languages returns the language directories, sorted.
func (l *Library) Languages() []string {
	prompts := l.cur.Load().prompts
	out := make([]string, 0, len(prompts))
	for lang := range prompts {
		out = append(out, lang)
	}
	slices.Sort(out)
	return out
}

// Names returns the prompt names of lang, sorted.
func (l *Library) Names(lang string) []string {
	prompts := l.cur.Load().prompts[lang]
	out := make([]string, 0, len(prompts))
	for n := range prompts {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
