package bridge

import (
	"context"
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
