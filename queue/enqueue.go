package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// EnqueuerConfig configures the ivr.Enqueuer for enqueue nodes.
type EnqueuerConfig struct {
	// Service supplies the queues' configuration (defaults filled), the
	// clock and transfer events; it is also the ACD unless Desk is set.
	Service *Service
	// Desk, when set, is the ACD callers join instead of Service's own
	// (app's cluster desk: the cluster's leader decides).
	Desk    Desk
	Ringer  *SIPRinger
	Prompts ivr.Prompts // music, announcements; nil: callers wait in silence
	// CallerLeg returns the caller's media; default: the call's
	// Media() *media.Session (as *sip.Call has).
	CallerLeg func(ivr.Call) (bridge.Leg, bool)
	// Transfer is the allow-list for agents' blind transfers (REFER, see
	// transfer.go); the zero value allows transfers to queues only.
	Transfer TransferConfig
	// Recordings keeps the recordings of queues with recording on
	// (queues.<name>.recording); nil: no call is recorded.
	Recordings recording.Store
	Logger     *slog.Logger
}

// Enqueuer puts IVR callers in queues, holds them with music and
// announcements, handles exit keys, and bridges them to the agent who
// answers. It implements ivr.Enqueuer.
type Enqueuer struct{ cfg EnqueuerConfig }

var _ ivr.Enqueuer = (*Enqueuer)(nil)

// NewEnqueuer builds an Enqueuer.
func NewEnqueuer(cfg EnqueuerConfig) *Enqueuer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CallerLeg == nil {
		cfg.CallerLeg = func(c ivr.Call) (bridge.Leg, bool) {
			m, ok := c.(interface{ Media() *media.Session })
			if !ok || m.Media() == nil {
				return nil, false
			}
			return m.Media(), true
		}
	}
	if cfg.Desk == nil {
		cfg.Desk = cfg.Service.Desk()
	}
	return &Enqueuer{cfg: cfg}
}

// leaveWait bounds how long a caller who left waits for the ACD to confirm
// it (at once in one node; a cluster leader's commit, or a failover).
const leaveWait = 5 * time.Second

// Enqueue implements ivr.Enqueuer. The caller's tier comes from the flow
// variable "tier" (vip, standard, new). It returns when the caller leaves
// the queue, or when the bridged call ends (Answered true), with every leg
// of the way (transfers included).
func (q *Enqueuer) Enqueue(ctx context.Context, call ivr.Call, req ivr.QueueRequest) (ivr.QueueResult, error) {
	jr := JoinRequest{CallID: call.ID(), Queue: req.Queue, Tier: ivr.CallerTier(req.Vars), Caller: call.Caller()}
	return q.enqueue(ctx, call, &req, &jr)
}

// Rejoin is the place a confirmed callback customer takes back.
type Rejoin struct {
	JoinedAt time.Time  // the original join time
	Tier     store.Tier // the tier they were ranked with
	// Reservation is the callback's key ("callback:42"): the customer
	// takes that entry's place and rings its reserved agent first.
	Reservation string
}

// Rejoin puts a callback's customer (Hotline's outbound call, confirmed)
// in req.Queue at their original place, ahead of everyone who joined after
// it, and then holds and bridges them as Enqueue does a caller.
func (q *Enqueuer) Rejoin(ctx context.Context, call ivr.Call, req ivr.QueueRequest, at Rejoin) (ivr.QueueResult, error) {
	jr := JoinRequest{CallID: call.ID(), Queue: req.Queue, Tier: at.Tier, Caller: call.Caller(),
		JoinedAt: at.JoinedAt, Reservation: at.Reservation}
	return q.enqueue(ctx, call, &req, &jr)
}

// A held caller's goroutine is parked for minutes in wait, and every frame
// from the SIP call down to it stays on its stack: the runtime halves a
// stack only while less than a quarter of it is used, so that chain must
// stay under ~4 KiB for the stack to be 8 KiB rather than 16 (issue 15).
// Hence the requests passed by pointer and the work before and after the
// wait (join, served, leave) in functions of their own, not inlined: their
// locals are gone from the stack while the caller waits.

func (q *Enqueuer) enqueue(ctx context.Context, call ivr.Call, req *ivr.QueueRequest, jr *JoinRequest) (ivr.QueueResult, error) {
	tk, early, err := q.join(ctx, call, req, jr)
	if tk == nil {
		return *early, err
	}
	return q.stay(ctx, call, req, tk)
}

// join plays the recording notice and joins the caller to the queue: a
// nil Ticket when they did not stay, with the result to return.
//
//go:noinline
func (q *Enqueuer) join(ctx context.Context, call ivr.Call, req *ivr.QueueRequest, jr *JoinRequest) (Ticket, *ivr.QueueResult, error) {
	if err := q.noticeFirst(ctx, call, *req); err != nil { // hung up during the recording notice
		now := q.cfg.Service.cfg.Now()
		return nil, &ivr.QueueResult{Reason: ReasonAbandoned, Legs: []store.CallLeg{{Queue: req.Queue, JoinedAt: now, EndedAt: now,
			End: store.LegUnanswered, Reason: ReasonAbandoned, EndedBy: EndedBy(call)}}}, err
	}
	tk, err := q.cfg.Desk.Join(ctx, call, *jr)
	var ee *ExitError
	if errors.As(err, &ee) { // joined and left at once: full, or nobody logged in
		now := q.cfg.Service.cfg.Now()
		return nil, &ivr.QueueResult{Reason: ee.Reason, Next: ee.Exit, Legs: []store.CallLeg{{Queue: req.Queue, JoinedAt: now, EndedAt: now,
			End: store.LegUnanswered, Reason: ee.Reason}}}, nil
	}
	if err != nil {
		return nil, &ivr.QueueResult{}, err
	}
	if tk == nil {
		return nil, &ivr.QueueResult{}, fmt.Errorf("queue: join %s: no ticket", req.Queue)
	}
	return tk, nil, nil
}

// stay holds a joined caller until they leave the queue, then bridges them
// to the agent who answered; an agent's blind transfer moves them on. The
// result's legs start with this stay.
func (q *Enqueuer) stay(ctx context.Context, call ivr.Call, req *ivr.QueueRequest, tk Ticket) (ivr.QueueResult, error) {
	out, err := q.held(ctx, call, req, tk)
	return q.served(ctx, call, req, out, err)
}

// held plays the hold music while the caller waits.
//
//go:noinline
func (q *Enqueuer) held(ctx context.Context, call ivr.Call, req *ivr.QueueRequest, tk Ticket) (*Outcome, error) {
	stopHold := q.hold(call, req.Queue, req.Language)
	out, err := q.wait(ctx, call, tk)
	stopHold()
	return out, err
}

// served is the rest of stay once the caller left the queue: the leg, and
// the bridge to the agent who answered.
//
//go:noinline
func (q *Enqueuer) served(ctx context.Context, call ivr.Call, req *ivr.QueueRequest, out *Outcome, err error) (ivr.QueueResult, error) {
	svc := q.cfg.Service
	rc, record := q.recordingOf(req.Queue)
	// Made after the wait: a logger with attributes is a handler clone
	// (~0.3 KiB) that a held caller would otherwise keep for nothing.
	log := q.cfg.Logger.With("call_id", call.ID(), "queue", req.Queue)
	left := out.Joined.Add(out.Wait)
	leg := store.CallLeg{Queue: req.Queue, JoinedAt: out.Joined, EndedAt: left, WaitSeconds: out.Wait.Seconds()}
	res := ivr.QueueResult{Reason: out.Reason, Next: out.Exit}
	if out.Reason != ReasonAnswered {
		res.Position = out.Position
		leg.End, leg.Reason = store.LegUnanswered, out.Reason
		switch out.Reason {
		case ReasonAbandoned:
			leg.EndedBy = store.SideCaller
		case ReasonDropped:
			leg.EndedBy = store.SideHotline
		}
		res.Legs = []store.CallLeg{leg}
		return res, err
	}
	leg.Agent, leg.OfferedAt, leg.AnsweredAt = out.Agent, &out.Offered, &left
	var hungUp sync.Once
	hangup := func() {
		hungUp.Do(func() {
			// Not the call's ctx: it is done when the caller hung up.
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveWait)
			defer cancel()
			if err := q.cfg.Desk.Hangup(hctx, call.ID()); err != nil {
				log.Warn("queue: hangup bookkeeping", "err", err)
			}
		})
	}
	defer hangup()
	if err != nil { // the caller hung up as the agent answered: wait ended the agent's leg
		leg.End, leg.EndedBy = store.LegHangup, EndedBy(call)
		res.Answered, res.Legs = true, []store.CallLeg{leg}
		return res, err
	}
	ac, ok := q.cfg.Ringer.Take(out.Offer)
	caller, okLeg := q.cfg.CallerLeg(call)
	if !ok || !okLeg {
		if ok {
			_ = bridge.Hangup(ctx, ac)
		}
		leg.AnsweredAt, leg.End, leg.Reason = nil, store.LegUnanswered, "error"
		res.Legs = []store.CallLeg{leg}
		return res, fmt.Errorf("queue: bridge %s: agent leg %v, caller media %v", call.ID(), ok, okLeg)
	}
	var rec *callRecorder
	if record {
		rec = newCallRecorder(rc)
	}
	side, tr := q.bridgeAgent(ctx, caller, ac, req.Queue, out.Agent, rec)
	leg.EndedAt = svc.cfg.Now()
	if rec != nil {
		if r, err := q.saveRecording(ctx, call.ID(), req.Queue, out.Agent, rec); err == nil {
			res.Recordings = append(res.Recordings, r)
		}
	}
	leg.TalkSeconds = leg.EndedAt.Sub(left).Seconds()
	if tr == nil {
		leg.End, leg.EndedBy = store.LegHangup, endedBy(call, side)
		log.Info("queue: bridged call ended", "agent", out.Agent, "hangup_side", leg.EndedBy, "talk", leg.EndedAt.Sub(left))
		res.Answered, res.Legs = true, []store.CallLeg{leg}
		return res, nil
	}
	leg.End, leg.EndedBy, leg.TransferTo = store.LegTransferred, store.SideAgent, tr.target.name(tr.t)
	log.Info("queue: bridged call transferred", "agent", out.Agent, "target", leg.TransferTo, "talk", leg.EndedAt.Sub(left))
	hangup() // the agent wraps up; the caller may re-join a queue
	next, err := q.transfer(ctx, call, *req, out.Agent, caller, ac, tr)
	next.Legs = append([]store.CallLeg{leg}, next.Legs...)
	next.Recordings = append(res.Recordings, next.Recordings...)
	return next, err
}

// wait blocks until the caller's place is done, handling exit keys. A caller whose
// call ends (ctx done) leaves as abandoned, or as dropped when Hotline ended
// the call (see leaveReason).
func (q *Enqueuer) wait(ctx context.Context, call ivr.Call, tk Ticket) (*Outcome, error) {
	digits := call.Digits()
	for {
		select {
		case <-tk.Done():
			return outcomeOf(tk), nil
		case <-ctx.Done():
			return q.leave(ctx, call, tk)
		case d, ok := <-digits:
			if !ok {
				digits = nil
				continue
			}
			q.key(ctx, call, d.Key)
		}
	}
}

// outcomeOf is tk's outcome on the heap: by value, wait's frame and its
// caller's would each keep a slot for it during the wait.
//
//go:noinline
func outcomeOf(tk Ticket) *Outcome {
	o := tk.Outcome()
	return &o
}

// key hands the ACD a key the waiting caller pressed.
//
//go:noinline
func (q *Enqueuer) key(ctx context.Context, call ivr.Call, k rune) {
	_ = q.cfg.Desk.Key(ctx, call.ID(), string(k)) // not an exit key: ignored
}

// leave takes a caller whose call ended out of the queue.
//
//go:noinline
func (q *Enqueuer) leave(ctx context.Context, call ivr.Call, tk Ticket) (*Outcome, error) {
	reason := leaveReason(call)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveWait)
	defer cancel()
	_ = q.cfg.Desk.Leave(lctx, call.ID(), reason)
	// The outcome is there at once in one node; a cluster's
	// leader confirms it with its next commit. It may say
	// answered (in the same instant): the agent leg is ours to end.
	select {
	case <-tk.Done():
	case <-lctx.Done():
		q.cfg.Logger.Warn("queue: the ACD did not confirm the caller's leave", "call_id", call.ID(), "err", errNoOutcome)
		now := q.cfg.Service.cfg.Now()
		return &Outcome{Reason: reason, Joined: now, Wait: 0}, ctx.Err()
	}
	if out := tk.Outcome(); out.Reason == ReasonAnswered {
		if ac, ok := q.cfg.Ringer.Take(out.Offer); ok {
			_ = bridge.Hangup(lctx, ac)
		}
	}
	return outcomeOf(tk), ctx.Err()
}

// endCause is how the caller's call ended, as its user agent saw it
// (*sip.Call.EndCause); ok is false for a call that cannot tell.
func endCause(call ivr.Call) (cause sip.Cause, side sip.Side, ok bool) {
	e, can := call.(interface {
		EndCause() (sip.Cause, sip.Side, bool)
	})
	if !can {
		return "", "", false
	}
	return e.EndCause()
}

// EndedBy is who ended the caller's call once its context is done: the
// hotline when Hotline hung it up (the flow ended, a shutdown, a media
// timeout, an error), else the caller.
func EndedBy(call ivr.Call) store.Side {
	if _, side, ok := endCause(call); ok && side == sip.SideLocal {
		return store.SideHotline
	}
	return store.SideCaller
}

// endedBy maps a bridge's end to the record's side: when the caller's
// side ended it, the call itself tells whether the caller hung up.
func endedBy(call ivr.Call, bridge store.Side) store.Side {
	if bridge == store.SideCaller {
		return EndedBy(call)
	}
	return bridge
}

// leaveReason is why a waiting caller whose call ended left the queue: a
// shutdown or an error is Hotline's doing (dropped); the caller hanging up,
// or their media stopping (their phone or network gone), is abandoned.
func leaveReason(call ivr.Call) string {
	if cause, side, ok := endCause(call); ok && side == sip.SideLocal && cause != sip.CauseMediaTimeout {
		return ReasonDropped
	}
	return ReasonAbandoned
}

// hold starts the queue's music, interrupted every AnnounceEvery by the
// announcement and (if configured) the caller's position, until stop. It
// plays in the background (bridge.StartHold): no goroutine waits on it
// while the caller's own waits in wait. Not inlined: its locals (a copy of
// the queue's configuration) would stay in held's frame during the wait.
//
//go:noinline
func (q *Enqueuer) hold(call ivr.Call, name, lang string) (stop func()) {
	qc := q.cfg.Service.cfg.Queues[name] // defaults filled by New
	var music *media.Prompt
	if ps := bridge.Lookup(q.cfg.Prompts, lang, qc.Music); len(ps) > 0 {
		music = ps[0]
	}
	// The announcer keeps only names, looking the queue up each time (its
	// configuration is fixed at New): a captured copy of qc and the
	// request would stay on the heap for the whole wait (~0.5 KiB per held call).
	return bridge.StartHold(call, music, qc.AnnounceEvery, func() []*media.Prompt {
		qc := q.cfg.Service.cfg.Queues[name]
		var pos *Position
		if qc.AnnouncePosition || qc.AnnounceWait {
			if p, err := q.cfg.Desk.Position(call.ID()); err == nil {
				pos = &p
			}
		}
		return bridge.Lookup(q.cfg.Prompts, lang, Announcement(lang, qc, pos)...)
	})
}

// Prompts a queue announcement says before the values (prompts/prompts.txt).
const (
	PromptPosition     = "position"      // "You are caller number" <n>
	PromptWaitEstimate = "wait-estimate" // "The estimated wait is" about <n> minutes
)

// Announcement names the prompts of one announcement in lang: the
// queue's announce prompt, then (if on and known) the caller's position
// as a cardinal and the estimated wait rounded to the minute, in the
// language's grammar ("you are caller number fourteen ... about six
// minutes", "... số mười bốn ... khoảng sáu phút"). pos nil: the place is
// unknown (the caller just left), so only the announce prompt is said.
func Announcement(lang string, qc config.Queue, pos *Position) []string {
	names := []string{qc.Announce}
	if pos == nil {
		return names
	}
	if qc.AnnouncePosition && pos.Position > 0 {
		names = append(append(names, PromptPosition), say.Number(lang, pos.Position)...)
	}
	if qc.AnnounceWait && pos.Known && pos.EWT > 0 {
		names = append(append(names, PromptWaitEstimate), say.About(lang, pos.EWT)...)
	}
	return names
}
