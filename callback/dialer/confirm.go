package dialer

import (
	"context"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/store"
)

// callAt is the fragment before the time of the customer's call.
const callAt = "callback-call-at"

// greeting is what the customer hears on answer: the greeting, "about
// your call at" and its time in the queue's zone, then the key to press.
// Missing prompts are skipped (bridge.Lookup).
func (a *attempt) greeting() []*media.Prompt {
	names := []string{a.r.Prompts.Greeting}
	if !a.r.AskedAt.IsZero() {
		loc := time.Local
		if z := a.d.cfg.Zone; z != nil {
			if l := z(a.r.Queue); l != nil {
				loc = l
			}
		}
		names = append(names, callAt)
		names = append(names, say.Time(a.lang, a.r.AskedAt.In(loc))...)
	}
	names = append(names, a.r.Prompts.Confirm)
	return bridge.Lookup(a.d.cfg.Prompts, a.lang, names...)
}

// confirm plays the greeting and waits for the confirm key: pressed
// during the prompts (barge-in) or within ConfirmTimeout after them. It
// reports the key to the scheduler (Progress.Confirmed) and returns true;
// false when the attempt ended here (a.res says how).
func (a *attempt) confirm(ctx context.Context, call *Call) bool {
	pctx, stop := context.WithCancel(ctx)
	played := make(chan struct{})
	go func() { // owned here: stopped and waited for before confirm returns
		defer close(played)
		_ = call.Play(pctx, a.greeting()...)
	}()
	defer func() { stop(); <-played }()
	key := []rune(a.r.ConfirmKey)[0]
	var timeout <-chan time.Time
	playing := played
	for {
		select {
		case <-playing:
			playing = nil
			t := time.NewTimer(a.r.ConfirmTimeout)
			defer t.Stop()
			timeout = t.C
		case <-timeout:
			a.end(store.AttemptNoConfirmation, "the confirm key was not pressed in "+a.r.ConfirmTimeout.String())
			return false
		case d := <-call.Digits():
			if d.Key != key {
				continue
			}
			at := a.d.cfg.Now()
			a.res.ConfirmedAt = at
			a.log.Info("callback: the customer confirmed", "key", string(d.Key), "source", d.Source)
			a.p.Confirmed(at)
			return true
		case <-call.Done():
			a.end(store.AttemptNoConfirmation, "hung up without pressing the confirm key")
			return false
		case <-ctx.Done():
			a.interrupted(ctx)
			return false
		}
	}
}
