package ivr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/store"
)

// What the callback dialogue ended with, in Result.CallbackStatus.
const (
	CallbackBooked      = "booked"       // a new request was recorded
	CallbackExisting    = "existing"     // the number already had one, and the caller kept it
	CallbackCancelled   = "cancelled"    // the caller cancelled the one they had
	CallbackDeclined    = "declined"     // the caller never confirmed, or turned down the time offered
	CallbackRefused     = "refused"      // no number Hotline may call, after the retries
	CallbackRateLimited = "rate-limited" // too many requests for the number
	CallbackUnavailable = "unavailable"  // the scheduler could not take it (Result.Err says why)
)

// callbackWriteTimeout bounds a request or a cancel once the caller has
// confirmed: it runs on even if they hang up meanwhile (a confirmed
// request is recorded), but never holds the call's goroutine for long.
const callbackWriteTimeout = 10 * time.Second

// dialogue is one run of a callback node with a scheduler: the caller
// confirms the number (or types another), then hears what was booked.
type dialogue struct {
	r        *run
	n        *flows.Node
	req      CallbackRequest
	position int // the caller's place in the queue they left; 0 unknown
	failures int
	refused  bool // a number was refused (typed wrong, or by the policy)
}

// dialogue runs the node's conversation. It returns what happened (a
// Callback* status; "" when the caller hung up before anything was
// recorded), the callback's id when there is one, and ctx's error when the
// caller hung up.
func (d *dialogue) run(ctx context.Context) (status string, id int64, err error) {
	r, n := d.r, d.n
	if d.position > 0 {
		if err := d.play(ctx, r.sayNumber(flows.PromptCallbackPosition, d.position)); err != nil {
			return "", 0, err
		}
	}
	number := callableCaller(r.call.Caller())
	for {
		if number == "" {
			got, err := d.askNumber(ctx)
			if err != nil {
				return "", 0, err
			}
			if got == "" {
				if d.failed() {
					if d.refused {
						return d.giveUp(ctx, CallbackRefused)
					}
					return d.giveUp(ctx, CallbackDeclined) // never typed one
				}
				continue
			}
			number = got
		}
		list := r.sayDigits(flows.PromptCallbackNumberEnding, lastDigits(number, 3))
		list = append(list, r.resolveNames(flows.PromptCallbackConfirmNumber)...)
		key, err := d.ask(ctx, list)
		if err != nil {
			return "", 0, err
		}
		switch key {
		case n.ConfirmKey:
		case n.AnotherKey:
			number = ""
			if d.failed() {
				return d.giveUp(ctx, CallbackDeclined)
			}
			continue
		default:
			r.log.Info("ivr: callback not confirmed", "node", n.Name, "key", key, "failures", d.failures+1)
			if d.failed() {
				return d.giveUp(ctx, CallbackDeclined)
			}
			continue
		}
		d.req.Number = number
		status, id, err := d.request(ctx)
		if status != CallbackRefused {
			return status, id, err
		}
		if err := d.play(ctx, r.resolveNames(flows.PromptCallbackRefused)); err != nil {
			return "", 0, err
		}
		number, d.refused = "", true
		if d.failed() {
			return d.giveUp(ctx, CallbackRefused)
		}
	}
}

// request asks the scheduler for the confirmed callback and tells the
// caller the answer. A chosen time outside the calendar is offered the
// next opening instead, once. It returns CallbackRefused, with nothing
// played, when the number is refused: the caller may try another.
func (d *dialogue) request(ctx context.Context) (string, int64, error) {
	r := d.r
	offered := false
	for {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callbackWriteTimeout)
		rc, err := r.e.cfg.Callbacks.ScheduleCallback(wctx, d.req)
		cancel()
		var oh *CallbackOutsideHoursError
		switch {
		case err == nil && rc.Existing:
			return d.existing(ctx, rc)
		case err == nil:
			return CallbackBooked, rc.ID, d.booked(ctx, rc)
		case errors.Is(err, ErrCallbackRefused):
			r.log.Info("ivr: callback number refused", "node", d.n.Name, "err", err)
			return CallbackRefused, 0, nil
		case errors.Is(err, ErrCallbackRateLimited):
			r.log.Info("ivr: callback refused: too many requests", "node", d.n.Name, "err", err)
			return CallbackRateLimited, 0, d.play(ctx, r.resolveNames(flows.PromptCallbackNotTaken))
		case errors.As(err, &oh) && !offered && !oh.Next.IsZero():
			offered = true
			list := r.sayTime(flows.PromptCallbackClosedThen, oh.Next)
			list = append(list, r.resolveNames(flows.PromptCallbackOfferTime)...)
			key, err := d.ask(ctx, list)
			if err != nil {
				return "", 0, err
			}
			if key != d.n.ConfirmKey {
				return d.giveUp(ctx, CallbackDeclined)
			}
			d.req.At = oh.Next
			continue
		}
		r.res.Err = fmt.Errorf("ivr: schedule callback for queue %q: %w", d.req.Queue, err)
		r.log.Error("ivr: callback not scheduled", "queue", d.req.Queue, "err", err)
		return CallbackUnavailable, 0, d.play(ctx, r.resolveNames(flows.PromptCallbackNotTaken))
	}
}

// booked tells the caller when they will be called: at the chosen time,
// from the office's opening, or (open now) as soon as an agent is free;
// and their position when the queue did not give it before.
func (d *dialogue) booked(ctx context.Context, rc CallbackReceipt) error {
	r := d.r
	var list []resolved
	if d.position == 0 && rc.Position > 0 {
		list = append(list, r.sayNumber(flows.PromptCallbackPosition, rc.Position)...)
	}
	list = append(list, d.when(rc)...)
	list = append(list, r.resolveNames(flows.PromptCallbackBooked)...)
	return d.play(ctx, list)
}

// when says when a callback will first be dialled, or nothing when that is
// as soon as an agent is free.
func (d *dialogue) when(rc CallbackReceipt) []resolved {
	switch {
	case rc.FirstCall.IsZero():
		return nil
	case !d.req.At.IsZero():
		return d.r.sayTime(flows.PromptCallbackAt, rc.FirstCall)
	case !rc.OpenNow:
		return d.r.sayTime(flows.PromptCallbackWhenOpen, rc.FirstCall)
	}
	return nil
}

// existing tells a caller who already has a callback in the queue where it
// stands, and cancels it on the cancel key; anything else keeps it.
func (d *dialogue) existing(ctx context.Context, rc CallbackReceipt) (string, int64, error) {
	r := d.r
	var list []resolved
	switch {
	case rc.Position > 0:
		list = r.sayNumber(flows.PromptCallbackExisting, rc.Position)
	case !rc.FirstCall.IsZero() && !rc.OpenNow:
		// Not in line yet: scheduled for later, whether chosen or the
		// office's opening; "we will call you back at" is true of both.
		list = r.sayTime(flows.PromptCallbackAt, rc.FirstCall)
	}
	list = append(list, r.resolveNames(flows.PromptCallbackExistingMenu)...)
	key, err := d.ask(ctx, list)
	if err != nil {
		return CallbackExisting, rc.ID, err
	}
	if key != d.n.CancelKey {
		return CallbackExisting, rc.ID, d.play(ctx, r.resolveNames(flows.PromptCallbackBooked))
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callbackWriteTimeout)
	err = r.e.cfg.Callbacks.CancelCallback(wctx, rc.ID, rc.Version)
	cancel()
	if err != nil {
		// It stands (dialling now, say): the caller is told we could not.
		r.log.Warn("ivr: callback not cancelled", "callback", rc.ID, "err", err)
		return CallbackExisting, rc.ID, d.play(ctx, r.resolveNames(flows.PromptCallbackNotTaken))
	}
	r.log.Info("ivr: callback cancelled by the caller", "callback", rc.ID)
	return CallbackCancelled, rc.ID, d.play(ctx, r.resolveNames(flows.PromptCallbackCancelled))
}

func (d *dialogue) giveUp(ctx context.Context, status string) (string, int64, error) {
	d.r.log.Info("ivr: callback not taken", "node", d.n.Name, "status", status)
	return status, 0, d.play(ctx, d.r.resolveNames(flows.PromptCallbackNotTaken))
}

// failed counts one wrong or missing answer and reports whether the
// retries are used up.
func (d *dialogue) failed() bool {
	d.failures++
	return d.failures > d.n.Retries
}

func (d *dialogue) play(ctx context.Context, list []resolved) error {
	return d.r.playResolved(ctx, list, d.n.BargeIn)
}

// ask plays list and waits Timeout for one key; "" is a timeout.
func (d *dialogue) ask(ctx context.Context, list []resolved) (string, error) {
	r := d.r
	if err := d.play(ctx, list); err != nil {
		return "", err
	}
	r.waitingForInput(d.n)
	dg, ok, err := r.waitDigit(ctx, d.n.Timeout)
	r.inputDone(d.n)
	if err != nil || !ok {
		return "", err
	}
	r.addDigits(string(dg.Key))
	return string(dg.Key), nil
}

// askNumber asks for a number ending with # (or max_number_digits, or a
// pause of inter_digit_timeout). It returns "" after a timeout or a number
// that cannot be one (too short, * or #), having said so.
func (d *dialogue) askNumber(ctx context.Context) (string, error) {
	r := d.r
	if err := d.play(ctx, r.resolveNames(flows.PromptCallbackEnterNumber)); err != nil {
		return "", err
	}
	r.waitingForInput(d.n)
	first, ok, err := r.waitDigit(ctx, d.n.Timeout)
	if err != nil {
		return "", err
	}
	if !ok {
		r.inputDone(d.n)
		r.log.Info("ivr: callback number timeout", "node", d.n.Name, "failures", d.failures+1)
		return "", nil
	}
	g := *d.n // collect's view of the node: a gather of a phone number
	g.MaxDigits, g.Terminator = d.n.MaxNumberDigits, flows.DefaultTerminator
	got, pressed, err := r.collect(ctx, &g, first.Key)
	if err != nil {
		return "", err
	}
	r.inputDone(d.n)
	r.addDigits(pressed)
	if len(got) < flows.MinNumberDigits || strings.Trim(got, "0123456789") != "" {
		r.log.Info("ivr: callback number invalid", "node", d.n.Name, "digits", got, "failures", d.failures+1)
		d.refused = true
		return "", d.play(ctx, r.resolveNames(flows.PromptCallbackRefused))
	}
	return got, nil
}

// callableCaller is the caller ID when it can be a number to call back
// ("+84912345678", "0912345678"), else "" (anonymous, an extension).
func callableCaller(s string) string {
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < flows.MinNumberDigits || strings.Trim(digits, "0123456789") != "" {
		return ""
	}
	return s
}

func lastDigits(s string, n int) string {
	return s[max(0, len(s)-n):]
}

// resolveNames resolves prompt names as they are (no placeholders).
func (r *run) resolveNames(names ...string) []resolved {
	out := make([]resolved, 0, len(names))
	for _, name := range names {
		if rp, ok := r.resolveName(name); ok {
			out = append(out, rp)
		}
	}
	return out
}

// sayFragments resolves lead and then what package say made of a value,
// telling the simulator what is said.
func (r *run) sayFragments(lead, kind, value string, frags []string) []resolved {
	r.traceEvent("say", simSayEvent{Kind: kind, Value: value, Lang: r.lang, Fragments: frags})
	return r.resolveNames(append([]string{lead}, frags...)...)
}

func (r *run) sayNumber(lead string, n int) []resolved {
	return r.sayFragments(lead, say.KindNumber, fmt.Sprint(n), say.Number(r.lang, n))
}

func (r *run) sayDigits(lead, digits string) []resolved {
	return r.sayFragments(lead, say.KindDigits, digits, say.Digits(r.lang, digits))
}

// sayTime says t's time, and its day unless today.
func (r *run) sayTime(lead string, t time.Time) []resolved {
	now := r.e.cfg.Clock.Now()
	return r.sayFragments(lead, say.KindTime, t.Format("Mon 15:04"), say.DayTime(r.lang, t, now))
}

// chosenTime reads the node's `at` for this call: zero when there is none,
// or when it cannot be read or is past (logged: the callback is then as
// soon as the calendar allows).
func (r *run) chosenTime(n *flows.Node) time.Time {
	if n.At == "" {
		return time.Time{}
	}
	v, missing := flows.Expand(n.At, r.lookupVar, nil)
	now := r.e.cfg.Clock.Now().In(r.e.cfg.Location)
	t, err := flows.ParseChosenTime(v, now)
	switch {
	case len(missing) > 0 || strings.TrimSpace(v) == "":
		r.log.Info("ivr: callback without a chosen time: at is empty", "node", n.Name, "at", n.At, "unset", missing)
		return time.Time{}
	case err != nil:
		r.log.Warn("ivr: callback chosen time unreadable, as soon as possible instead", "node", n.Name, "at", v, "err", err)
		return time.Time{}
	case t.Before(now):
		r.log.Warn("ivr: callback chosen time is past, as soon as possible instead", "node", n.Name, "at", v)
		return time.Time{}
	}
	return t
}

// callback plays the node's prompts and, with a scheduler, holds the
// dialogue: the caller's position (virtual hold), the number to call
// (confirmed, or typed in), then what was booked, or the callback they
// already had (which they may cancel). It then goes on to the node's next
// (the goodbye), or ends the flow when it has none. Without a scheduler
// the request is only recorded (outcome callback_requested) and published.
//
// A caller who was waiting in a queue (its callback key, or a menu after
// leaving it) is called back by that queue, from their place in it; the
// node's queue is for callers who never waited. Nothing is requested until
// the caller confirms: one who hangs up before gets no callback.
func (r *run) callback(ctx context.Context, n *flows.Node) (string, error) {
	if err := r.playRefs(ctx, n.Prompts, n.BargeIn); err != nil {
		return "", err
	}
	queue, joined, tier, pos := n.Queue, time.Time{}, store.Tier(""), 0
	l, waited := r.waitedIn()
	if waited {
		queue, joined, tier, pos = l.Queue, l.JoinedAt, CallerTier(r.vars), r.queuePos
	}
	r.handoff("callback", queue, n)
	if r.e.cfg.Callbacks == nil {
		r.res.Outcome = store.OutcomeCallbackRequested
		if n.Next == "" {
			return "", r.end(store.OutcomeCallbackRequested, ReasonHandoff)
		}
		return n.Next, nil
	}
	d := &dialogue{r: r, n: n, position: pos, req: CallbackRequest{CallID: r.call.ID(), Called: r.call.Called(), Queue: queue,
		JoinedAt: joined, Tier: tier, Language: r.lang, Vars: maps.Clone(r.vars), Category: r.res.Category,
		Tags: append([]string(nil), r.res.Tags...), Priority: r.res.Priority, RequestedAt: r.e.cfg.Clock.Now(), At: r.chosenTime(n)}}
	status, id, err := d.run(ctx)
	r.res.CallbackStatus, r.res.CallbackID = status, id
	switch status {
	case CallbackBooked, CallbackExisting:
		r.res.Outcome = store.OutcomeCallbackRequested
	case CallbackUnavailable:
		r.res.Outcome = store.OutcomeFailed
	default:
		// Nothing stands: a caller who left a queue for it abandoned the
		// queue; one from the IVR was served by it (or hung up in it).
		if waited {
			r.res.Outcome = store.OutcomeAbandonedQueue
		}
	}
	r.traceEvent("callback", simCallbackEvent{Queue: queue, Number: d.req.Number, Status: status, Callback: id})
	if err != nil {
		return "", err
	}
	if n.Next == "" {
		outcome := r.res.Outcome
		if outcome == "" {
			outcome = store.OutcomeCompleted
		}
		return "", r.end(outcome, ReasonEnd)
	}
	return n.Next, nil
}
