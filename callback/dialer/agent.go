package dialer

import (
	"context"
	"errors"
	"strings"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/store"
)

// queueName is the prefix of the prompt that names a queue to its agents
// ("queue-name-technical": "technical support").
const queueName = "queue-name-"

// whisper is what the agent hears before the customer is on: "callback
// for", the number digit by digit, the queue's name when there is a
// prompt for it; in the Dialer's language (the office's, not the
// customer's).
func (a *attempt) whisper() []*media.Prompt {
	lang := a.d.cfg.Language
	names := append([]string{a.r.Prompts.Whisper}, say.Digits(lang, strings.TrimPrefix(a.r.Number, "+"))...)
	names = append(names, queueName+a.r.Queue)
	return bridge.Lookup(a.d.cfg.Prompts, lang, names...)
}

// agentFirst: take the agent's answered leg, whisper to them while the
// customer is dialled, greet and confirm the customer, then bridge them.
// The agent leaving before the bridge ends the attempt agent_missed (the
// customer, if up, is hung up): the scheduler gives that attempt back.
func (a *attempt) agentFirst(ctx context.Context) {
	if a.d.cfg.Agents == nil {
		a.end(store.AttemptAgentMissed, "agent-first callbacks are not wired (no Agents)")
		return
	}
	leg, err := a.d.cfg.Agents.Take(ctx, a.r)
	switch {
	case err == nil && leg == nil:
		err = errors.New("no leg")
		fallthrough
	case err != nil:
		if ctx.Err() != nil {
			a.interrupted(ctx)
			return
		}
		a.end(store.AttemptAgentMissed, "agent "+a.r.Agent+" not reached: "+err.Error())
		return
	}
	defer bridge.Hangup(ctx, leg)
	if ended(leg.Done()) {
		a.end(store.AttemptAgentMissed, "agent "+a.r.Agent+"'s call had ended")
		return
	}
	a.res.Agent = a.r.Agent

	// Until the bridge, the agent leaving stops everything.
	actx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { // owned here: cancel stops it, and it is waited for
		defer close(watched)
		select {
		case <-leg.Done():
			cancel()
		case <-actx.Done():
		}
	}()
	defer func() { cancel(); <-watched }()
	wctx, stopWhisper := context.WithCancel(actx)
	whispered := make(chan struct{})
	go func() { // owned here: stopped and waited for before the bridge
		defer close(whispered)
		_ = leg.Leg().Play(wctx, a.whisper()...)
	}()
	defer func() { stopWhisper(); <-whispered }()

	// gone: the agent's leaving is why the attempt stopped (it cut the
	// dial or the wait for the key short) or, once confirmed, the reason
	// there is no one to bridge to. A busy customer stays busy.
	gone := func(confirmed bool) bool {
		if ctx.Err() == nil && ended(leg.Done()) && (confirmed || a.res.Result == store.AttemptInterrupted) {
			a.res.Agent = ""
			a.end(store.AttemptAgentMissed, "agent "+a.r.Agent+" hung up before the customer was connected")
			return true
		}
		return false
	}
	call := a.dial(actx)
	if call == nil {
		gone(false)
		return
	}
	defer bridge.Hangup(ctx, call)
	if !a.confirm(actx, call) {
		gone(false)
		return
	}
	stopWhisper()
	<-whispered
	if gone(true) {
		return
	}
	start := a.d.cfg.Now()
	end, _ := bridge.Connect(ctx, call, leg, bridge.Options{})
	a.res.Talk = a.d.cfg.Now().Sub(start)
	a.end(store.AttemptCompleted, "talked with "+a.r.Agent+"; ended by "+end.String())
}
