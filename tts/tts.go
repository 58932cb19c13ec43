// Package tts turns free text (a lookup's message) into a prompt with a
// text-to-speech engine, cached on disk per text and voice so that a text
// is synthesised once, outside the call path where possible.
package tts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// Engine synthesises text in a voice as a WAV file's bytes (any rate and
// depth: media.DecodePrompt resamples).
type Engine interface {
	Name() string
	Synthesize(ctx context.Context, text, voice string) ([]byte, error)
}

// ErrPending is returned when a text is still being synthesised after the
// caller's wait: the caller plays its fallback prompt; the result is cached
// when it is ready.
var ErrPending = errors.New("tts: still synthesising")

// ErrNoEngine is returned by Find when no engine is installed.
var ErrNoEngine = errors.New("tts: no engine (espeak-ng is not installed)")

// MaxText bounds a text, so a lookup cannot make the engine talk for hours.
const MaxText = 1000

// Espeak is espeak-ng run as a program: the embedded default.
type Espeak struct{ Path string }

// Find returns espeak-ng when it is on PATH.
func Find() (Espeak, error) {
	p, err := exec.LookPath("espeak-ng")
	if err != nil {
		return Espeak{}, ErrNoEngine
	}
	return Espeak{Path: p}, nil
}

// Name is part of the cache key.
func (e Espeak) Name() string { return "espeak-ng" }

// Synthesize runs espeak-ng -v voice -w <temp file>; the text goes on
// stdin, so it is never parsed as an option. A file, not --stdout:
// espeak-ng streams to stdout with a placeholder length in the WAV header.
func (e Espeak) Synthesize(ctx context.Context, text, voice string) ([]byte, error) {
	f, err := os.CreateTemp("", "hotline-tts-*.wav")
	if err != nil {
		return nil, fmt.Errorf("tts: temp file: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.CommandContext(ctx, e.Path, "-v", voice, "-w", f.Name())
	cmd.Stdin = bytes.NewBufferString(text)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tts: espeak-ng -v %s: %w: %s", voice, err, bytes.TrimSpace(errb.Bytes()))
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("tts: espeak-ng output %s: %w", f.Name(), err)
	}
	return data, nil
}

// Cache keeps synthesised prompts under dir, named by the SHA-256 of
// engine, voice and text. Generations run in goroutines the Cache owns;
// Close cancels them and waits.
type Cache struct {
	dir    string
	engine Engine

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]chan struct{} // closed when the key's file is written (or failed)
	failed   map[string]error
}

// NewCache caches engine's results under dir (created when needed).
func NewCache(dir string, engine Engine) *Cache {
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{dir: dir, engine: engine, ctx: ctx, cancel: cancel,
		inflight: map[string]chan struct{}{}, failed: map[string]error{}}
}

// Close stops generations in progress and waits for them.
func (c *Cache) Close() {
	c.cancel()
	c.wg.Wait()
}

// Key names the cache file of text in voice.
func (c *Cache) Key(text, voice string) string {
	h := sha256.Sum256([]byte(c.engine.Name() + "\x00" + voice + "\x00" + text))
	return hex.EncodeToString(h[:])
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key+".wav") }

// Prompt returns text said in voice: from the cache, else synthesised in
// the background while the caller waits at most wait (ErrPending after
// that; the result is cached for the next call). A failed synthesis is
// remembered until Close, so a broken text does not run the engine per call.
func (c *Cache) Prompt(ctx context.Context, text, voice string, wait time.Duration) (*media.Prompt, error) {
	if text == "" {
		return nil, fmt.Errorf("tts: empty text")
	}
	if len(text) > MaxText {
		return nil, fmt.Errorf("tts: text of %d bytes is over %d", len(text), MaxText)
	}
	key := c.Key(text, voice)
	if p, err := c.load(key); err == nil {
		return p, nil
	}
	done := c.start(key, text, voice)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return nil, ErrPending
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	err := c.failed[key]
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return c.load(key)
}

// Warm starts synthesising text in voice unless it is cached, in progress
// or failed, and returns at once: Hotline warms the flows' static texts at
// start and on reload so that the first caller does not wait. Texts the
// call path would refuse are skipped.
func (c *Cache) Warm(text, voice string) {
	if text == "" || len(text) > MaxText {
		return
	}
	key := c.Key(text, voice)
	if _, err := os.Stat(c.path(key)); err == nil {
		return
	}
	c.start(key, text, voice)
}

func (c *Cache) load(key string) (*media.Prompt, error) {
	f, err := os.Open(c.path(key))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return media.DecodePrompt(key, f)
}

// start begins synthesising key unless it is already running or failed;
// the channel is closed when it is done.
func (c *Cache) start(key, text, voice string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.inflight[key]; ok {
		return ch
	}
	ch := make(chan struct{})
	c.inflight[key] = ch
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := c.generate(key, text, voice)
		c.mu.Lock()
		if err != nil {
			c.failed[key] = err
		} else {
			delete(c.inflight, key) // the file answers from now on
		}
		c.mu.Unlock()
		close(ch)
	}()
	return ch
}

// generate writes the engine's WAV atomically (temp file, then rename), so
// a reader never sees half a file; an unusable WAV is refused before it is
// cached.
func (c *Cache) generate(key, text, voice string) error {
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	data, err := c.engine.Synthesize(ctx, text, voice)
	if err != nil {
		return err
	}
	if _, err := media.DecodePrompt(key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("tts: %s made an unusable WAV: %w", c.engine.Name(), err)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("tts: cache dir %s: %w", c.dir, err)
	}
	tmp, err := os.CreateTemp(c.dir, key+".*.tmp")
	if err != nil {
		return fmt.Errorf("tts: cache dir %s: %w", c.dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("tts: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tts: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return fmt.Errorf("tts: cache %s: %w", c.path(key), err)
	}
	return nil
}
