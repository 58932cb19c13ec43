package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
)

// EnqueuerConfig configures the ivr.Enqueuer for enqueue nodes.
type EnqueuerConfig struct {
	Service *Service
	Ringer  *SIPRinger
	Prompts ivr.Prompts // music, announcements; nil: callers wait in silence
	// CallerLeg returns the caller's media; default: the call's
	// Media() *media.Session (as *sip.Call has).
	CallerLeg func(ivr.Call) (Leg, bool)
	// Transfer is the allow-list for agents' blind transfers (REFER, see
	// transfer.go); the zero value allows transfers to queues only.
	Transfer TransferConfig
	Logger   *slog.Logger
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
		cfg.CallerLeg = func(c ivr.Call) (Leg, bool) {
			m, ok := c.(interface{ Media() *media.Session })
			if !ok || m.Media() == nil {
				return nil, false
			}
			return m.Media(), true
		}
	}
	return &Enqueuer{cfg: cfg}
}

// Enqueue implements ivr.Enqueuer. The caller's tier comes from the flow
// variable "tier" (vip, standard, new). It returns when the caller leaves
// the queue, or when the bridged call ends (Answered true).
func (q *Enqueuer) Enqueue(ctx context.Context, call ivr.Call, req ivr.QueueRequest) (ivr.QueueResult, error) {
	tk, err := q.cfg.Service.Join(JoinRequest{CallID: call.ID(), Queue: req.Queue, Tier: req.Vars["tier"], Caller: call.Caller()})
	var ee *ExitError
	if errors.As(err, &ee) {
		return ivr.QueueResult{Reason: ee.Reason, Next: ee.Exit}, nil
	}
	if err != nil {
		return ivr.QueueResult{}, err
	}
	return q.stay(ctx, call, req, tk)
}

// stay holds a joined caller until they leave the queue, then bridges them
// to the agent who answered; an agent's blind transfer moves them on.
func (q *Enqueuer) stay(ctx context.Context, call ivr.Call, req ivr.QueueRequest, tk *Ticket) (ivr.QueueResult, error) {
	svc := q.cfg.Service
	log := q.cfg.Logger.With("call_id", call.ID(), "queue", req.Queue)
	holdCtx, stopHold := context.WithCancel(ctx)
	var hold sync.WaitGroup
	hold.Add(1)
	go func() {
		defer hold.Done()
		q.hold(holdCtx, call, req)
	}()
	out, err := q.wait(ctx, call, tk)
	stopHold()
	hold.Wait()
	res := ivr.QueueResult{Reason: out.Reason, Next: out.Exit, Agent: out.Agent, Wait: out.Wait}
	if err != nil || out.Reason != ReasonAnswered {
		return res, err
	}
	res.Answered = true
	var hungUp sync.Once
	hangup := func() {
		hungUp.Do(func() {
			if err := svc.Hangup(call.ID()); err != nil {
				log.Warn("queue: hangup bookkeeping", "err", err)
			}
		})
	}
	defer hangup()
	ac, ok := q.cfg.Ringer.Take(out.Offer)
	caller, okLeg := q.cfg.CallerLeg(call)
	if !ok || !okLeg {
		if ok {
			hangupAgent(ctx, ac)
		}
		return res, fmt.Errorf("queue: bridge %s: agent leg %v, caller media %v", call.ID(), ok, okLeg)
	}
	bridged := time.Now()
	side, tr := q.bridgeAgent(ctx, caller, ac, req.Queue, out.Agent)
	res.Talk = time.Since(bridged)
	log.Info("queue: bridged call ended", "agent", out.Agent, "hangup_side", side, "talk", res.Talk)
	if tr != nil {
		hangup() // the agent wraps up; the caller may re-join a queue
		return q.transfer(ctx, call, req, res, caller, ac, tr)
	}
	return res, nil
}

// wait blocks until the ticket is done, handling exit keys; a caller who
// hangs up (ctx done) leaves as abandoned.
func (q *Enqueuer) wait(ctx context.Context, call ivr.Call, tk *Ticket) (Outcome, error) {
	digits := call.Digits()
	for {
		select {
		case <-tk.Done():
			return tk.Outcome(), nil
		case <-ctx.Done():
			if err := q.cfg.Service.Leave(call.ID(), ReasonAbandoned); err != nil {
				// Answered in the same instant: the agent leg is ours to end.
				if out := tk.Outcome(); out.Reason == ReasonAnswered {
					if ac, ok := q.cfg.Ringer.Take(out.Offer); ok {
						hangupAgent(ctx, ac)
					}
					_ = q.cfg.Service.Hangup(call.ID())
				}
			}
			return tk.Outcome(), ctx.Err()
		case d, ok := <-digits:
			if !ok {
				digits = nil
				continue
			}
			_, _ = q.cfg.Service.Key(call.ID(), string(d.Key)) // not an exit key: ignored
		}
	}
}

// hold plays the queue's music, interrupted every AnnounceEvery by the
// announcement and (if configured) the caller's position.
func (q *Enqueuer) hold(ctx context.Context, call ivr.Call, req ivr.QueueRequest) {
	qc := q.cfg.Service.cfg.Queues[req.Queue] // defaults filled by New
	every := qc.AnnounceEvery
	for ctx.Err() == nil {
		if p := q.prompt(req.Language, qc.Music); p != nil {
			mctx, cancel := context.WithTimeout(ctx, every)
			for mctx.Err() == nil {
				if call.Play(mctx, p) != nil {
					break
				}
			}
			cancel()
		} else {
			t := time.NewTimer(every)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		var ps []*media.Prompt
		if p := q.prompt(req.Language, qc.Announce); p != nil {
			ps = append(ps, p)
		}
		if qc.AnnouncePosition {
			if pos, err := q.cfg.Service.Position(call.ID()); err == nil {
				ps = append(ps, q.numberPrompts(req.Language, "position", pos.Position)...)
			}
		}
		if len(ps) > 0 {
			_ = call.Play(ctx, ps...)
		}
	}
}

func (q *Enqueuer) prompt(lang, name string) *media.Prompt {
	if q.cfg.Prompts == nil || name == "" {
		return nil
	}
	p, err := q.cfg.Prompts.Prompt(lang, name)
	if err != nil {
		return nil
	}
	return p
}

// numberPrompts is a lead-in prompt and n read digit by digit (digit-0..9).
func (q *Enqueuer) numberPrompts(lang, lead string, n int) []*media.Prompt {
	var ps []*media.Prompt
	if p := q.prompt(lang, lead); p != nil {
		ps = append(ps, p)
	}
	for _, c := range strconv.Itoa(n) {
		if p := q.prompt(lang, "digit-"+string(c)); p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// hangupAgent sends BYE on the agent's leg, allowing it 5 s even when ctx
// (the caller's call) has already ended.
func hangupAgent(ctx context.Context, ac AgentCall) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = ac.Hangup(hctx)
}

// Bridge relays audio both ways between the caller's and the agent's media
// and DTMF each way (RFC 4733 events on the other leg), until the caller
// hangs up (ctx done: the agent gets BYE) or the agent does (the caller's
// handler then returns and the server sends BYE). It returns "caller" or
// "agent", the side that ended the call.
//
// Audio is relayed frame by frame from each leg's RTP reader into the other
// leg's WriteAudio: with *media.Session legs a frame is re-encoded in the
// other leg's codec and sent at once, with no pacing delay, unless a prompt
// or a digit is being sent on that leg (then it waits at most one frame).
// BenchmarkBridgeRelay measures the added delay.
func Bridge(ctx context.Context, caller Leg, agent AgentCall) string {
	return bridge(ctx, caller, agent, nil)
}

// bridge is Bridge that also ends, returning "transfer", when stop closes
// (the agent's REFER was accepted); stop wins over the agent's BYE.
func bridge(ctx context.Context, caller Leg, agent AgentCall, stop <-chan struct{}) string {
	a := agent.Leg()
	caller.SetAudioSink(a.WriteAudio)
	a.SetAudioSink(caller.WriteAudio)
	defer caller.SetAudioSink(nil)
	defer a.SetAudioSink(nil)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	relay := func(from, to Leg) {
		defer wg.Done()
		for {
			select {
			case <-rctx.Done():
				return
			case d, ok := <-from.Digits():
				if !ok {
					return
				}
				dur := d.Duration
				if dur <= 0 {
					dur = 100 * time.Millisecond
				}
				_ = to.SendDigit(rctx, d.Key, dur, media.SourceRFC4733)
			}
		}
	}
	wg.Add(2)
	go relay(caller, a)
	go relay(a, caller)
	side := "agent"
	select {
	case <-stop:
		side = "transfer"
	case <-agent.Done():
		select {
		case <-stop:
			side = "transfer"
		default:
		}
	case <-ctx.Done():
		side = "caller"
		hangupAgent(ctx, agent)
	}
	cancel()
	wg.Wait()
	return side
}
