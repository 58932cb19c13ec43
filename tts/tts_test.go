package tts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestEspeakCached: real espeak-ng says a Vietnamese text; the WAV is
// cached under the key's name and a second Cache on the same dir answers
// without the engine.
func TestEspeakCached(t *testing.T) {
	e, err := Find()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	c := NewCache(dir, e)
	defer c.Close()
	p, err := c.Prompt(t.Context(), "Đơn hàng của quý khách đã được giao.", "vi", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Duration() < 500*time.Millisecond {
		t.Errorf("prompt lasts %v, want speech", p.Duration())
	}
	if _, err := os.Stat(filepath.Join(dir, c.Key("Đơn hàng của quý khách đã được giao.", "vi")+".wav")); err != nil {
		t.Fatal(err)
	}
	calls := &counting{Engine: e}
	c2 := NewCache(dir, calls)
	defer c2.Close()
	if _, err := c2.Prompt(t.Context(), "Đơn hàng của quý khách đã được giao.", "vi", 0); err != nil {
		t.Fatal(err)
	}
	if n := calls.n.Load(); n != 0 {
		t.Errorf("engine ran %d times for a cached text", n)
	}
	if c.Key("a", "vi") == c.Key("a", "en") || c.Key("a", "vi") == c.Key("b", "vi") {
		t.Error("keys do not depend on voice and text")
	}
}

type counting struct {
	Engine
	n atomic.Int32
}

func (c *counting) Synthesize(ctx context.Context, text, voice string) ([]byte, error) {
	c.n.Add(1)
	return c.Engine.Synthesize(ctx, text, voice)
}

// gated is an engine that answers when released: the bounded wait.
type gated struct {
	release chan struct{}
	wav     []byte
	err     error
	n       atomic.Int32
}

func (g *gated) Name() string { return "gated" }
func (g *gated) Synthesize(ctx context.Context, _, _ string) ([]byte, error) {
	g.n.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.wav, g.err
}

func TestBoundedWaitThenCached(t *testing.T) {
	e, err := Find()
	if err != nil {
		t.Skip(err)
	}
	wav, err := e.Synthesize(t.Context(), "hello", "en")
	if err != nil {
		t.Fatal(err)
	}
	g := &gated{release: make(chan struct{}), wav: wav}
	c := NewCache(t.TempDir(), g)
	defer c.Close()
	if _, err := c.Prompt(t.Context(), "hello", "en", 10*time.Millisecond); !errors.Is(err, ErrPending) {
		t.Fatalf("slow engine: %v, want ErrPending", err)
	}
	if _, err := c.Prompt(t.Context(), "hello", "en", 10*time.Millisecond); !errors.Is(err, ErrPending) {
		t.Fatalf("slow engine again: %v, want ErrPending", err)
	}
	close(g.release)
	if _, err := c.Prompt(t.Context(), "hello", "en", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := g.n.Load(); n != 1 {
		t.Errorf("engine ran %d times for one text, want 1", n)
	}
}

func TestFailuresAndLimits(t *testing.T) {
	g := &gated{release: make(chan struct{}), wav: []byte("not a wav")}
	close(g.release)
	c := NewCache(t.TempDir(), g)
	defer c.Close()
	for i := 0; i < 2; i++ {
		if _, err := c.Prompt(t.Context(), "x", "en", 10*time.Second); err == nil || errors.Is(err, ErrPending) {
			t.Fatalf("unusable WAV: %v", err)
		}
	}
	if n := g.n.Load(); n != 1 {
		t.Errorf("a failed text ran the engine %d times, want 1", n)
	}
	if _, err := c.Prompt(t.Context(), "", "en", time.Second); err == nil {
		t.Error("empty text accepted")
	}
	if _, err := c.Prompt(t.Context(), string(make([]byte, MaxText+1)), "en", time.Second); err == nil {
		t.Error("over-long text accepted")
	}
}

// Close stops a generation in progress.
func TestCloseStops(t *testing.T) {
	g := &gated{release: make(chan struct{})}
	c := NewCache(t.TempDir(), g)
	if _, err := c.Prompt(t.Context(), "x", "en", time.Millisecond); !errors.Is(err, ErrPending) {
		t.Fatal(err)
	}
	c.Close() // returns: the engine saw its context cancelled
}

// TestWarm: Warm returns at once and synthesises in the background; the
// text is then a cache hit (the call path waits for nothing), a second
// Warm or a Warm of a cached text runs no engine, a too-long text none.
func TestWarm(t *testing.T) {
	e, err := Find()
	if err != nil {
		t.Skip(err)
	}
	wav, err := e.Synthesize(t.Context(), "สวัสดี", "th")
	if err != nil {
		t.Fatal(err)
	}
	g := &gated{release: make(chan struct{}), wav: wav}
	dir := t.TempDir()
	c := NewCache(dir, g)
	defer c.Close()
	c.Warm("สวัสดี", "th") // held by the gate: returns while the engine works
	c.Warm("สวัสดี", "th")
	c.Warm(string(make([]byte, MaxText+1)), "th")
	c.Warm("", "th")
	close(g.release)
	file := filepath.Join(dir, c.Key("สวัสดี", "th")+".wav")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(file); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("warmed text never cached")
		}
		time.Sleep(10 * time.Millisecond) // polling the file, not synchronising
	}
	if _, err := c.Prompt(t.Context(), "สวัสดี", "th", 0); err != nil {
		t.Fatalf("warmed text: %v", err)
	}
	c.Warm("สวัสดี", "th")
	if n := g.n.Load(); n != 1 {
		t.Errorf("engine ran %d times, want 1", n)
	}
}
