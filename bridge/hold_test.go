package bridge

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// prompt is a named prompt of d's length (8 kHz samples).
func prompt(name string, d time.Duration) *media.Prompt {
	return media.NewPromptPCM(name, make([]int16, int(d*media.SampleRate/time.Second)))
}

// player records what it was asked to play and when (fake time); a prompt
// "plays" for its length unless ctx ends. fail makes every Play fail at once.
type player struct {
	mu    sync.Mutex
	start time.Time
	plays []string // "name@seconds", cut ones marked "!"
	fail  bool
}

func (p *player) Play(ctx context.Context, ps ...*media.Prompt) error {
	p.mu.Lock()
	fail := p.fail
	p.mu.Unlock()
	if fail {
		return errors.New("leg gone")
	}
	for _, pr := range ps {
		at := time.Since(p.start).Round(time.Second)
		d := pr.Duration()
		select {
		case <-time.After(d):
			p.record(pr.Name + "@" + at.String())
		case <-ctx.Done():
			p.record(pr.Name + "@" + at.String() + "!")
			return ctx.Err()
		}
	}
	return nil
}

func (p *player) record(s string) { p.mu.Lock(); p.plays = append(p.plays, s); p.mu.Unlock() }
func (p *player) got() []string   { p.mu.Lock(); defer p.mu.Unlock(); return slices.Clone(p.plays) }

func TestHold(t *testing.T) {
	music, ann := prompt("music", 4*time.Second), prompt("ann", 2*time.Second)
	tests := []struct {
		name     string
		music    *media.Prompt
		every    time.Duration
		announce func() []*media.Prompt
		want     []string
	}{
		{"music cut at every, then the announcement", music, 10 * time.Second, func() []*media.Prompt { return []*media.Prompt{ann} },
			[]string{"music@0s", "music@4s", "music@8s!", "ann@10s", "music@12s", "music@16s", "music@20s!", "ann@22s", "music@24s!"}},
		{"silence between announcements", nil, 10 * time.Second, func() []*media.Prompt { return []*media.Prompt{ann} },
			[]string{"ann@10s", "ann@22s"}},
		{"nothing to announce", music, 10 * time.Second, func() []*media.Prompt { return nil },
			[]string{"music@0s", "music@4s", "music@8s!", "music@10s", "music@14s", "music@18s!", "music@20s", "music@24s!"}},
		{"no interruptions", music, 0, func() []*media.Prompt { t.Error("announce called with every 0"); return nil },
			[]string{"music@0s", "music@4s", "music@8s", "music@12s", "music@16s", "music@20s", "music@24s!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &player{start: time.Now()}
				ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
				defer cancel()
				Hold(ctx, p, tt.music, tt.every, tt.announce)
				if got := p.got(); !slices.Equal(got, tt.want) {
					t.Fatalf("played %v\nwant   %v", got, tt.want)
				}
			})
		})
	}
}

// TestHoldLegThatCannotPlay: a leg whose Play fails at once (its media is
// gone) is waited on, not spun on: a couple of tries per slot.
func TestHoldLegThatCannotPlay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tries int
		var mu sync.Mutex
		p := playFunc(func(ctx context.Context, _ ...*media.Prompt) error {
			mu.Lock()
			tries++
			mu.Unlock()
			return errors.New("leg gone")
		})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		music, ann := prompt("music", time.Second), prompt("ann", time.Second)
		Hold(ctx, p, music, 10*time.Second, func() []*media.Prompt { return []*media.Prompt{ann} })
		// Two tries per slot (music, announcement), six slots, and one more
		// when the last slot and ctx end in the same instant; a spinning
		// Hold would never let fake time reach the minute.
		if tries < 6 || tries > 14 {
			t.Fatalf("%d Play attempts in a minute of 10 s slots", tries)
		}
		done := make(chan struct{})
		go func() { defer close(done); Hold(ctx, p, music, 0, nil) }() // ctx already over
		<-done
	})
}

type playFunc func(ctx context.Context, ps ...*media.Prompt) error

func (f playFunc) Play(ctx context.Context, ps ...*media.Prompt) error { return f(ctx, ps...) }

type library map[string]*media.Prompt

func (l library) Prompt(lang, name string) (*media.Prompt, error) {
	if p, ok := l[lang+"/"+name]; ok {
		return p, nil
	}
	return nil, errors.New("no such prompt")
}

func TestLookupAndSayDigits(t *testing.T) {
	lib := library{}
	for _, n := range []string{"position", "digit-0", "digit-4", "digit-7", "ending-in"} {
		lib["en/"+n] = prompt(n, time.Second)
	}
	names := func(ps []*media.Prompt) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	tests := []struct {
		name string
		got  []*media.Prompt
		want []string
	}{
		{"known names in order", Lookup(lib, "en", "digit-7", "position"), []string{"digit-7", "position"}},
		{"missing and empty skipped", Lookup(lib, "en", "", "music", "position"), []string{"position"}},
		{"other language", Lookup(lib, "vi", "position"), nil},
		{"nil library", Lookup(nil, "en", "position"), nil},
		{"position 40", SayDigits(lib, "en", "position", "40"), []string{"position", "digit-4", "digit-0"}},
		{"digits without prompts skipped", SayDigits(lib, "en", "ending-in", "+678"), []string{"ending-in", "digit-7"}},
		{"no lead", SayDigits(lib, "en", "", "7"), []string{"digit-7"}},
	}
	for _, tt := range tests {
		if got := names(tt.got); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// looper records the loops StartHold starts ("first+...+loop@seconds") and
// how many were stopped.
type looper struct {
	mu      sync.Mutex
	start   time.Time
	loops   []string
	stopped int
}

func (l *looper) Play(context.Context, ...*media.Prompt) error { panic("StartHold must Loop a Looper") }

func (l *looper) Loop(loop *media.Prompt, first ...*media.Prompt) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := ""
	for _, p := range first {
		name += p.Name + "+"
	}
	l.loops = append(l.loops, name+loop.Name+"@"+time.Since(l.start).Round(time.Second).String())
	var once sync.Once
	return func() { once.Do(func() { l.mu.Lock(); l.stopped++; l.mu.Unlock() }) }, nil
}

// TestStartHoldLoops: on a Looper, StartHold returns at once and starts
// the music, then every `every` after the last announcement's end a loop
// that says the announcement first; stop stops the current loop and no
// timer fires after it.
func TestStartHoldLoops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		music, ann := prompt("music", 4*time.Second), prompt("ann", 2*time.Second)
		l := &looper{start: time.Now()}
		stop := StartHold(l, music, 10*time.Second, func() []*media.Prompt { return []*media.Prompt{ann} })
		time.Sleep(25 * time.Second) // fake time
		synctest.Wait()
		stop()
		time.Sleep(time.Minute)
		synctest.Wait()
		l.mu.Lock()
		defer l.mu.Unlock()
		want := []string{"music@0s", "ann+music@10s", "ann+music@22s"}
		if !slices.Equal(l.loops, want) {
			t.Errorf("loops %q, want %q", l.loops, want)
		}
		if l.stopped != len(want) {
			t.Errorf("%d loops stopped, want %d (each superseded one and the last)", l.stopped, len(want))
		}
	})
}

// TestStartHoldBlockingPlayer: a Player that can only block gets Hold in a
// goroutine, which stop ends and waits for.
func TestStartHoldBlockingPlayer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &player{start: time.Now()}
		stop := StartHold(p, prompt("music", 4*time.Second), 0, nil)
		time.Sleep(9 * time.Second)
		stop()
		if got, want := p.got(), []string{"music@0s", "music@4s", "music@8s!"}; !slices.Equal(got, want) {
			t.Errorf("plays %q, want %q", got, want)
		}
	})
}
