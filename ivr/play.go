package ivr

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/say"
)

// resolved is one prompt ready to play.
type resolved struct {
	name     string // after {var} expansion
	lang     string // language actually played
	fallback bool   // lang is the fallback language
	p        *media.Prompt
}

// resolve turns prompt references into prompts in the current language,
// falling back to the flow's fallback_language; a prompt missing in both is
// logged (ErrNoPrompt), published with missing=true and skipped.
func (r *run) resolve(refs []flows.PromptRef) []resolved {
	var out []resolved
	for _, ref := range refs {
		if ref.Say != "" {
			out = append(out, r.sayVar(ref)...)
			continue
		}
		if ref.TTS != "" {
			out = append(out, r.speak(ref)...)
			continue
		}
		if ref.Digits != "" {
			v, ok := r.vars[ref.Digits]
			if !ok {
				r.log.Warn("ivr: read-back of an unset variable", "var", ref.Digits)
			}
			out = append(out, r.resolveDigits(v)...)
			continue
		}
		name, missing := flows.Expand(ref.Name, r.lookupVar, nil)
		if len(missing) > 0 {
			r.log.Warn("ivr: prompt names an unset variable", "prompt", ref.Name, "vars", missing)
		}
		if rp, ok := r.resolveName(name); ok {
			out = append(out, rp)
		}
	}
	return out
}

func (r *run) resolveDigits(s string) []resolved {
	var out []resolved
	for _, k := range s {
		if rp, ok := r.resolveName(flows.DigitPrompt(k)); ok {
			out = append(out, rp)
		}
	}
	return out
}

func (r *run) resolveName(name string) (resolved, bool) {
	lib := r.e.cfg.Prompts
	if lib == nil {
		return resolved{}, false
	}
	if p, err := lib.Prompt(r.lang, name); err == nil {
		return resolved{name: name, lang: r.lang, p: p}, true
	}
	if fb := r.flow.FallbackLanguage; fb != "" && fb != r.lang {
		if p, err := lib.Prompt(fb, name); err == nil {
			r.log.Info("ivr: prompt played in the fallback language", "prompt", name, "lang", r.lang, "fallback", fb)
			return resolved{name: name, lang: fb, fallback: true, p: p}, true
		}
	}
	r.log.Warn("ivr: prompt skipped", "prompt", name, "lang", r.lang, "err", ErrNoPrompt)
	r.publish(events.PromptPlayed, PromptPlay{Prompt: name, Lang: r.lang, Missing: true})
	return resolved{}, false
}

// playRefs plays the prompts in order. With bargeIn, a digit stops the
// playing prompt and skips the rest; the digit is kept as type-ahead for the
// next input, and when type-ahead is already waiting nothing is played.
// Without bargeIn the prompts play to the end and digits pressed meanwhile
// are discarded (published with discarded=true): the caller must hear them.
func (r *run) playRefs(ctx context.Context, refs []flows.PromptRef, bargeIn bool) error {
	return r.playResolved(ctx, r.resolve(refs), bargeIn)
}

func (r *run) playResolved(ctx context.Context, list []resolved, bargeIn bool) error {
	for _, rp := range list {
		if bargeIn && len(r.pending) > 0 {
			return nil
		}
		if err := r.playOne(ctx, rp, bargeIn); err != nil {
			return err
		}
	}
	return nil
}

// playOne plays one prompt on its own goroutine, which it always waits for,
// so that a digit or a hang-up can cancel it.
func (r *run) playOne(ctx context.Context, rp resolved, bargeIn bool) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := r.e.cfg.Clock.Now()
	go func() { done <- r.call.Play(pctx, rp.p) }()
	interrupted := false
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case d, ok := <-r.digits:
			if !r.usable(d, ok) {
				continue
			}
			r.digitEvent(d, !bargeIn)
			if bargeIn {
				r.pending = append(r.pending, d)
				interrupted = true
				cancel()
				err = <-done
				break wait
			}
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		}
	}
	dur := rp.p.Duration()
	if interrupted {
		dur = r.e.cfg.Clock.Now().Sub(start)
	}
	r.publish(events.PromptPlayed, PromptPlay{Prompt: rp.name, Lang: rp.lang, Fallback: rp.fallback,
		File: rp.p.Name, Interrupted: interrupted, DurationMS: dur.Milliseconds()})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !interrupted && !errors.Is(err, context.Canceled) {
		r.log.Warn("ivr: prompt did not play", "prompt", rp.name, "err", err)
	}
	return nil
}

func (r *run) digitEvent(d media.Digit, discarded bool) {
	r.publish(events.DigitPressed, DigitPress{Digit: string(d.Key), Source: string(d.Source),
		DurationMS: d.Duration.Milliseconds(), Discarded: discarded})
}

// waitingForInput tells a simulated call that one input event is wanted.
func (r *run) waitingForInput(n *flows.Node) {
	if w, ok := r.call.(InputWaiter); ok {
		w.WaitingForInput(n.Name)
	}
}

// inputDone tells a simulated call that the input event is over.
func (r *run) inputDone(n *flows.Node) {
	if w, ok := r.call.(InputWaiter); ok {
		w.InputDone(n.Name)
	}
}

// waitDigit returns the next digit (type-ahead first) or ok=false after d.
// When the timer and a digit are both ready, the digit wins.
func (r *run) waitDigit(ctx context.Context, d time.Duration) (media.Digit, bool, error) {
	if len(r.pending) > 0 {
		dg := r.pending[0]
		r.pending = r.pending[1:]
		return dg, true, nil
	}
	timer, stop := r.e.cfg.Clock.After(d)
	defer stop()
	for {
		select {
		case dg, ok := <-r.digits:
			if !r.usable(dg, ok) {
				continue
			}
			r.digitEvent(dg, false)
			return dg, true, nil
		case <-timer:
			select {
			case dg, ok := <-r.digits:
				if r.usable(dg, ok) {
					r.digitEvent(dg, false)
					return dg, true, nil
				}
			default:
			}
			return media.Digit{}, false, nil
		case <-ctx.Done():
			return media.Digit{}, false, ctx.Err()
		}
	}
}

// usable takes one receive from the digit channel: a closed channel is
// dropped (a nil channel never fires again), a late terminator is discarded.
func (r *run) usable(d media.Digit, ok bool) bool {
	if !ok {
		r.digits = nil
		return false
	}
	return !r.stale(d)
}

// addDigits records one input event on the current step; events are
// separated by spaces ("9 1": a wrong key, then 1).
func (r *run) addDigits(s string) {
	st := &r.res.Path[r.step]
	if st.Digits != "" {
		st.Digits += " "
	}
	st.Digits += s
}

// swallow is a terminator the caller may still press after a gather ended
// at max_digits ("12345678#" with max_digits 8): dropped when it comes
// within the inter-digit timeout, so it neither interrupts the next prompt
// nor counts as a wrong menu key.
type swallow struct {
	key   rune
	until time.Time
}

// stale reports (and publishes as discarded) a digit that is such a late
// terminator. Any digit ends the grace.
func (r *run) stale(d media.Digit) bool {
	sw := r.swallow
	r.swallow = swallow{}
	if sw.key != 0 && d.Key == sw.key && r.e.cfg.Clock.Now().Before(sw.until) {
		r.digitEvent(d, true)
		return true
	}
	return false
}

// sayVar says a variable's value as fragments of its kind in the call's
// language (a say node, a {say: var, as: kind} entry). A value that is
// unset or cannot be said is logged and skipped: the caller hears the rest
// of the prompts rather than a dropped call.
func (r *run) sayVar(ref flows.PromptRef) []resolved {
	v, ok := r.vars[ref.Say]
	if !ok {
		r.log.Warn("ivr: say of an unset variable", "var", ref.Say)
		return nil
	}
	frags, err := say.Value(r.lang, ref.As, v, r.e.cfg.Clock.Now(), r.e.cfg.Location)
	if err != nil {
		r.log.Warn("ivr: value cannot be said", "var", ref.Say, "kind", ref.As, "err", err)
		return nil
	}
	r.traceEvent("say", simSayEvent{Kind: ref.As, Value: v, Lang: r.lang, Fragments: frags})
	return r.resolveNames(frags...)
}

// speak says a variable's free text with the text-to-speech engine in the
// call's language's voice, waiting at most TTSWait for a text not yet
// cached; when the engine is off, slow or fails, the entry's fallback
// prompt plays instead (logged), and the text is cached for the next call.
func (r *run) speak(ref flows.PromptRef) []resolved {
	text := strings.TrimSpace(r.vars[ref.TTS])
	fallback := func(why string, err error) []resolved {
		r.log.Warn("ivr: text-to-speech not played", "var", ref.TTS, "why", why, "err", err, "fallback", ref.Fallback)
		if ref.Fallback == "" {
			return nil
		}
		if rp, ok := r.resolveName(ref.Fallback); ok {
			return []resolved{rp}
		}
		return nil
	}
	if text == "" {
		return fallback("empty text", nil)
	}
	if r.e.cfg.TTS == nil {
		if r.e.trace != nil {
			// The simulator runs no engine: it prints what a call would hear.
			r.traceEvent("tts", simTTSEvent{Text: text, Lang: r.lang, Fallback: ref.Fallback})
			return nil
		}
		return fallback("no engine", nil)
	}
	wait := r.e.cfg.TTSWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	p, err := r.e.cfg.TTS.Prompt(context.Background(), text, r.lang, wait)
	if err != nil {
		return fallback("synthesis", err)
	}
	r.traceEvent("tts", simTTSEvent{Text: text, Lang: r.lang, Fallback: ref.Fallback})
	return []resolved{{name: "tts-" + r.e.cfg.TTS.Key(text, r.lang)[:12], lang: r.lang, p: p}}
}
