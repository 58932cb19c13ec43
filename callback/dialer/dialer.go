package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// Connector joins a confirmed customer-first callback to its queue at its
// original place (DialRequest.JoinedAt and Tier: ahead of everyone who
// joined after it) and connects it to the next agent. Connect returns when
// the talk is over or ctx ends; it hangs up nobody (the Dialer hangs the
// customer up). The queue's Enqueuer implements it in app.
type Connector interface {
	Connect(ctx context.Context, call *Call, r callback.DialRequest) (Connected, error)
}

// Connected is how a Connect went.
type Connected struct {
	Agent      string        // the agent who answered, "" none
	AnsweredAt time.Time     // when the agent answered; zero: never
	Talk       time.Duration // from the agent's answer to the end
	Answered   bool          // an agent answered: the callback is completed
	EndedBy    store.Side    // who ended the talk (or the wait)
}

// Agents gives an agent-first callback its agent's leg: the queue reserved
// r.Agent and rang them; Take returns once the agent has answered (an
// error: they did not, or their leg is gone, and the customer is not
// dialled). The Dialer owns the leg from then on and hangs it up. A
// *sip.OutboundCall is one as bridge.SIPCall{oc}.
type Agents interface {
	Take(ctx context.Context, r callback.DialRequest) (bridge.Call, error)
}

// Config builds a Dialer.
type Config struct {
	Client    *sip.Client      // places the customer's call (DialOut)
	Policy    *outbound.Policy // admits it and picks the trunk
	Prompts   bridge.Prompts   // the prompt library (ivr.Prompts, *media.Library)
	Connector Connector        // customer first: the queue after the key
	Agents    Agents           // agent first: the agent's answered leg; nil: agent-first callbacks end agent_missed
	Logger    *slog.Logger
	Now       func() time.Time // timestamps in the Result; default time.Now
	// Zone is the time zone a queue's "about your call at 14:05" is said
	// in (its calendar's); nil, or nil for a queue: time.Local.
	Zone func(queue string) *time.Location
	// RingTimeout is how long the customer's phone rings before the
	// attempt ends no_answer, for requests without their own
	// (DialRequest.RingTimeout); default 30s.
	RingTimeout time.Duration
	// Language is said when a request has none; default "en".
	Language string
}

// Dialer implements callback.Dialer.
type Dialer struct {
	cfg Config
	log *slog.Logger
}

var _ callback.Dialer = (*Dialer)(nil)

// Defaults: Config.RingTimeout, and the wait for the key when a request
// names none (config's confirm_timeout default).
const (
	DefaultRingTimeout    = 30 * time.Second
	DefaultConfirmTimeout = 10 * time.Second
)

// New checks cfg and returns its Dialer.
func New(cfg Config) (*Dialer, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("dialer: no SIP client")
	case cfg.Policy == nil:
		return nil, errors.New("dialer: no outbound policy")
	case cfg.Connector == nil:
		return nil, errors.New("dialer: no connector for customer-first callbacks")
	case cfg.RingTimeout < 0:
		return nil, fmt.Errorf("dialer: ring timeout %v is negative", cfg.RingTimeout)
	}
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = DefaultRingTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialer{cfg: cfg, log: log.With("component", "callback-dialer")}, nil
}

// attempt is one Dial's state.
type attempt struct {
	d    *Dialer
	r    callback.DialRequest
	p    callback.Progress
	log  *slog.Logger
	lang string
	res  callback.Result
}

// Dial implements callback.Dialer: it returns when the call has ended.
func (d *Dialer) Dial(ctx context.Context, r callback.DialRequest, p callback.Progress) callback.Result {
	a := &attempt{d: d, r: r, p: p, lang: r.Language,
		log: d.log.With("call_id", r.CallID, "callback", r.CallbackID, "attempt", r.Attempt, "queue", r.Queue)}
	if a.lang == "" {
		a.lang = d.cfg.Language
	}
	if a.r.ConfirmKey == "" {
		a.r.ConfirmKey = "1"
	}
	if a.r.ConfirmTimeout <= 0 {
		a.r.ConfirmTimeout = DefaultConfirmTimeout
	}
	if a.r.RingTimeout <= 0 {
		a.r.RingTimeout = d.cfg.RingTimeout
	}
	if r.Agent != "" || r.Mode == store.CallbackAgentFirst {
		a.agentFirst(ctx)
	} else {
		a.customerFirst(ctx)
	}
	a.log.Info("callback call ended", "result", a.res.Result, "sip_status", a.res.SIPStatus, "reason", a.res.Reason,
		"trunk", a.res.Trunk, "agent", a.res.Agent, "talk", a.res.Talk)
	return a.res
}

func (a *attempt) end(r store.AttemptResult, reason string) {
	a.res.Result, a.res.Reason = r, reason
}

// interrupted ends the attempt for ctx (a shutdown: the scheduler records
// it interrupted and gives the attempt back).
func (a *attempt) interrupted(ctx context.Context) {
	why := "the SIP client closed"
	if err := context.Cause(ctx); err != nil {
		why = err.Error()
	}
	a.end(store.AttemptInterrupted, "the call was cut short: "+why)
}

// customerFirst: dial, greet, confirm, hand to the Connector.
func (a *attempt) customerFirst(ctx context.Context) {
	call := a.dial(ctx)
	if call == nil {
		return
	}
	defer bridge.Hangup(ctx, call)
	if !a.confirm(ctx, call) {
		return
	}
	// The customer hanging up ends the wait or the talk, as a caller's BYE
	// ends an inbound call's context.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-call.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	conn, err := a.d.cfg.Connector.Connect(cctx, call, a.r)
	a.res.Agent, a.res.Talk = conn.Agent, conn.Talk
	switch {
	case conn.Answered:
		a.end(store.AttemptCompleted, "talked with "+conn.Agent)
	case ctx.Err() != nil:
		a.interrupted(ctx)
	case err != nil:
		a.log.Warn("callback: the confirmed customer could not be connected", "err", err)
		a.end(store.AttemptAbandoned, "not connected to an agent: "+err.Error())
	default:
		a.end(store.AttemptAbandoned, "hung up after confirming, before an agent answered")
	}
}

// dial checks the number with the policy and places the customer's call;
// nil when it did not end in an answer (a.res says how).
func (a *attempt) dial(ctx context.Context) *Call {
	g, err := a.d.cfg.Policy.CheckDial(outbound.Dial{Number: a.r.Number, Source: "callback", CallID: a.r.CallID})
	if err != nil {
		var re *outbound.RefusedError
		switch {
		case errors.As(err, &re) && re.Temporary():
			a.end(store.AttemptNotPlaced, fmt.Sprintf("%s: %s", re.Reason, re.Detail))
		case errors.As(err, &re):
			a.end(store.AttemptRefused, fmt.Sprintf("%s: %s", re.Reason, re.Detail))
		default:
			a.end(store.AttemptRefused, err.Error())
		}
		return nil
	}
	a.res.Trunk = g.TrunkName()
	rctx, cancel := context.WithTimeout(ctx, a.r.RingTimeout)
	defer cancel()
	oc, err := a.d.cfg.Client.DialOut(rctx, g, sip.DialOptions{DialogCallID: a.r.CallID, FromTag: a.r.FromTag, CallID: a.r.CallID})
	if err != nil {
		a.failed(ctx, rctx, err)
		return nil
	}
	a.res.SIPStatus, a.res.AnsweredAt = 200, a.d.cfg.Now()
	a.log.Info("callback: the customer answered", "trunk", a.res.Trunk)
	return &Call{oc: oc, number: a.r.Number, callerID: g.CallerID}
}

// failed maps a dial that did not end in an answer (RFC 3261 §21's
// classes as a callback's results).
func (a *attempt) failed(ctx, rctx context.Context, err error) {
	var se *sip.StatusError
	switch {
	case ctx.Err() != nil, errors.Is(err, sip.ErrClientClosed):
		a.interrupted(ctx)
	case errors.As(err, &se):
		a.res.SIPStatus = se.Code
		a.end(statusResult(se.Code), fmt.Sprintf("%d %s", se.Code, se.Reason))
	case rctx.Err() != nil:
		a.end(store.AttemptNoAnswer, fmt.Sprintf("no answer in %v", a.r.RingTimeout))
	default:
		a.end(store.AttemptTrunkFailed, err.Error())
	}
}

// statusResult is the result of a final non-2xx response to the INVITE.
func statusResult(code int) store.AttemptResult {
	switch {
	case code == 486 || code == 600:
		return store.AttemptBusy
	case code == 408 || code == 480 || code == 487:
		return store.AttemptNoAnswer
	case code == 401 || code == 407 || code == 488 || code >= 500 && code < 600:
		// The trunk failed us: its credentials, our offer, or the
		// provider itself (503 from an SBC that is full).
		return store.AttemptTrunkFailed
	}
	return store.AttemptRejected // 403, 603, 404 and the other refusals
}
