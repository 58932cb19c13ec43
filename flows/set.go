package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/media"
)

// PromptLibrary says whether a prompt exists; *media.Library satisfies it.
type PromptLibrary interface {
	Has(lang, name string) bool
}

// Env is what the checker knows about the world outside the flow files. A
// nil map or library means "unknown": those names are not checked (the
// `flows check` command says so), while an empty map means "none exist".
type Env struct {
	Queues    map[string]config.Queue
	Lookups   map[string]config.Lookup
	Calendars map[string]config.Calendar
	Prompts   PromptLibrary
	// TTS is the text-to-speech engine in use ("" none): a flow with a
	// {tts: var} entry fails the check without one.
	TTS string
}

// EnvFromConfig takes queues, lookups and calendars from the configuration.
// A nil prompts (also a typed nil such as a nil *media.Library) leaves
// prompts unchecked.
func EnvFromConfig(c config.Config, prompts PromptLibrary) Env {
	if v := reflect.ValueOf(prompts); prompts != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		prompts = nil
	}
	return Env{Queues: orEmpty(c.Queues), Lookups: orEmpty(c.Lookups), Calendars: orEmpty(c.Calendars), Prompts: prompts, TTS: c.TTS.EngineName()}
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// Set is every flow of one directory, as loaded at one moment. It is
// immutable: a reload builds a new Set.
type Set struct {
	flows    []*Flow
	byName   map[string]*Flow
	byNumber map[string]*Flow
	version  string
}

// NewSet indexes flows by name and number; on duplicates the first flow (in
// the given order) wins, and Check reports the others.
func NewSet(flows ...*Flow) *Set {
	s := &Set{byName: map[string]*Flow{}, byNumber: map[string]*Flow{}}
	h := sha256.New()
	for _, f := range flows {
		if f == nil {
			continue
		}
		s.flows = append(s.flows, f)
		fmt.Fprintf(h, "%s\x00%s\x00", f.File, f.Hash)
		if _, dup := s.byName[f.Name]; !dup && f.Name != "" {
			s.byName[f.Name] = f
		}
		for _, n := range f.Numbers {
			if _, dup := s.byNumber[n]; !dup {
				s.byNumber[n] = f
			}
		}
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	return s
}

// ByNumber returns the flow answering the dialled number.
func (s *Set) ByNumber(called string) (*Flow, bool) {
	if s == nil {
		return nil, false
	}
	f, ok := s.byNumber[called]
	return f, ok
}

// ByName returns the named flow.
func (s *Set) ByName(name string) (*Flow, bool) {
	if s == nil {
		return nil, false
	}
	f, ok := s.byName[name]
	return f, ok
}

// Flows returns the flows in file order.
func (s *Set) Flows() []*Flow {
	if s == nil {
		return nil
	}
	return append([]*Flow(nil), s.flows...)
}

// Version identifies the set's content (changes when any file changes).
func (s *Set) Version() string {
	if s == nil {
		return ""
	}
	return s.version
}

// LoadDir parses and checks every *.yaml and *.yml file directly in dir
// (hidden files skipped). The set is returned even when there are errors so
// that a tool can show what it understood; a server must not use it then.
func LoadDir(dir string, env Env) (*Set, []Problem) {
	files, err := readDir(dir)
	if err != nil {
		return NewSet(), []Problem{{File: dir, Severity: Error, Message: err.Error()}}
	}
	return loadFiles(dir, files, env)
}

type file struct {
	path string
	data []byte
}

func readDir(dir string) ([]file, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrNoDir, dir, err)
	}
	var out []file
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoDir, err)
		}
		out = append(out, file{path: path, data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

func fingerprint(files []file) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.path, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LoadAll is LoadDir with the prompt library read again first, from the
// directory of prompts: every prompt file that cannot be used is an error
// naming it (prompts/en/welcome.wav: 12-bit PCM is not supported), and the
// flows are checked against the prompts that loaded. It is the one
// validation `hotline flows check`, start-up and every reload share, so
// they agree on what is valid. The returned library is the candidate: serve
// it (prompts.Replace) only when no problem is an error. A nil prompts
// leaves prompts unchecked, as LoadDir does.
func LoadAll(dir string, env Env, prompts *media.Library) (*Set, *media.Library, []Problem) {
	files, err := readDir(dir)
	if err != nil {
		staged, _, ps := loadPrompts(prompts)
		return NewSet(), staged, append(ps, Problem{File: dir, Severity: Error, Message: err.Error()})
	}
	return loadAll(dir, files, env, prompts)
}

func loadAll(dir string, files []file, env Env, prompts *media.Library) (*Set, *media.Library, []Problem) {
	staged, known, ps := loadPrompts(prompts)
	switch {
	case !known:
		// Nothing is known of the prompts: one error for the directory,
		// not one "missing" per prompt.
		env.Prompts = nil
	case staged != nil:
		env.Prompts = staged
	}
	set, fps := loadFiles(dir, files, env)
	ps = append(ps, fps...)
	Sort(ps)
	return set, staged, ps
}

// loadPrompts reads the library's directory again: one error per unusable
// file, or one for the directory when it cannot be read (known is false
// then: which prompts exist is unknown).
func loadPrompts(prompts *media.Library) (staged *media.Library, known bool, ps []Problem) {
	if prompts == nil {
		return nil, true, nil
	}
	staged, err := prompts.Load()
	if err == nil {
		return staged, true, nil
	}
	errs := []error{err}
	var le *media.LibraryError
	if errors.As(err, &le) {
		errs = le.Files
	}
	if le != nil && le.DirUnreadable {
		return staged, false, []Problem{{File: prompts.Dir(), Severity: Error,
			Message: "cannot read the prompt directory (media.prompts): " + errors.Unwrap(le.Files[0]).Error()}}
	}
	for _, e := range errs {
		if file, msg, ok := media.ErrorFile(e); ok {
			ps = append(ps, Problem{File: file, Severity: Error, Message: msg})
		} else {
			ps = append(ps, Problem{File: prompts.Dir(), Severity: Error, Message: "prompts: " + e.Error()})
		}
	}
	return staged, true, ps
}

func loadFiles(dir string, files []file, env Env) (*Set, []Problem) {
	var all []Problem
	var flows []*Flow
	for _, f := range files {
		fl, ps := Parse(f.path, f.data)
		all = append(all, ps...)
		if fl != nil {
			flows = append(flows, fl)
		}
	}
	if len(files) == 0 {
		all = append(all, Problem{File: dir, Severity: Error, Message: "no flow files (*.yaml, *.yml): every call would be refused"})
	}
	set := NewSet(flows...)
	all = append(all, Check(set, env)...)
	Sort(all)
	return set, all
}
