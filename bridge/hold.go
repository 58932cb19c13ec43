package bridge

import (
	"context"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// Prompts finds a prompt by language and name; ivr.Prompts (the prompt
// library) satisfies it.
type Prompts interface {
	Prompt(lang, name string) (*media.Prompt, error)
}

// Lookup returns the prompts among names that p has, in order. A nil p, an
// empty name and a prompt p does not have are skipped: a caller hears
// silence rather than losing the call over a missing recording.
func Lookup(p Prompts, lang string, names ...string) []*media.Prompt {
	if p == nil {
		return nil
	}
	var ps []*media.Prompt
	for _, n := range names {
		if n == "" {
			continue
		}
		if pr, err := p.Prompt(lang, n); err == nil && pr != nil {
			ps = append(ps, pr)
		}
	}
	return ps
}

// SayDigits is the lead-in prompt, then digits read one by one (prompts
// named digit-0 .. digit-9; other characters and missing prompts are
// skipped): "position" 4, "number ending in" 678.
func SayDigits(p Prompts, lang, lead, digits string) []*media.Prompt {
	names := []string{lead}
	for _, c := range digits {
		names = append(names, "digit-"+string(c))
	}
	return Lookup(p, lang, names...)
}

// Looper plays in the background: first, then loop over and over, until
// stop or a newer play; *media.Session and *sip.Call satisfy it.
type Looper interface {
	Loop(loop *media.Prompt, first ...*media.Prompt) (stop func(), err error)
}

// StartHold is Hold without a goroutine waiting on it: it returns at once
// and the leg is kept company until stop, which returns once nothing of
// the hold runs any more. With a Looper the music is one background loop
// (Looper.Loop), and every `every` a timer (time.AfterFunc) asks announce
// and starts a new loop that says it first; so a held call costs no
// goroutine (issue 15: ~8 KiB of stack each). A Player that can only block
// gets Hold in a goroutine. A leg whose Loop fails is left silent.
func StartHold(p Player, music *media.Prompt, every time.Duration, announce func() []*media.Prompt) (stop func()) {
	l, ok := p.(Looper)
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); Hold(ctx, p, music, every, announce) }()
		return func() { cancel(); <-done }
	}
	h := &looping{l: l, music: music, every: every, announce: announce}
	h.mu.Lock()
	h.stopPlay, _ = l.Loop(music)
	if every > 0 && announce != nil {
		h.timer = time.AfterFunc(every, h.announceNow)
	}
	h.mu.Unlock()
	return h.stop
}

// looping is one StartHold on a Looper.
type looping struct {
	l        Looper
	music    *media.Prompt
	every    time.Duration
	announce func() []*media.Prompt

	run      sync.Mutex // held by announceNow: stop waits for it
	mu       sync.Mutex
	stopped  bool
	stopPlay func() // the current loop's; nil if Loop failed
	timer    *time.Timer
}

// announceNow, on the timer, says the announcement then the music again,
// and sets the timer for `every` after the announcement's end (the music
// plays every, as Hold's slots do; a leg put on hold during the
// announcement shortens the next slot by the pause).
func (h *looping) announceNow() {
	h.run.Lock()
	defer h.run.Unlock()
	if h.isStopped() {
		return
	}
	ps := h.announce()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	var says time.Duration
	for _, p := range ps {
		if p != nil {
			says += p.Duration()
		}
	}
	if len(ps) > 0 {
		if h.stopPlay != nil {
			h.stopPlay()
		}
		h.stopPlay, _ = h.l.Loop(h.music, ps...)
	}
	h.timer.Reset(h.every + says)
}

func (h *looping) isStopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped
}

func (h *looping) stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	if h.timer != nil {
		h.timer.Stop()
	}
	if h.stopPlay != nil {
		h.stopPlay()
	}
	h.mu.Unlock()
	h.run.Lock() // an announceNow under way has seen stopped, or finishes first
	h.run.Unlock()
}

// Hold keeps a leg company until ctx ends: music (nil: silence) for every,
// then what announce returns (nil announce or no prompts: nothing), then
// music again. every <= 0 means music only, never interrupted. announce is
// called each time, so it may say something new (a caller's position).
func Hold(ctx context.Context, p Player, music *media.Prompt, every time.Duration, announce func() []*media.Prompt) {
	if every <= 0 {
		for ctx.Err() == nil {
			if music == nil || p.Play(ctx, music) != nil {
				<-ctx.Done()
			}
		}
		return
	}
	for ctx.Err() == nil {
		slot, cancel := context.WithTimeout(ctx, every)
		for slot.Err() == nil {
			if music == nil || p.Play(slot, music) != nil {
				<-slot.Done() // silence, or a leg that cannot play: wait out the slot
			}
		}
		cancel()
		if ctx.Err() != nil || announce == nil {
			continue
		}
		if ps := announce(); len(ps) > 0 {
			_ = p.Play(ctx, ps...)
		}
	}
}
