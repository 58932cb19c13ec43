package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/sip"
)

// CallTransferred is published when an agent's blind transfer (REFER) has
// been carried out or has failed. Data: kind (queue|number), target, from
// (queue), result ("ok" or the SIP failure, e.g. "486 Busy Here"),
// referred_by.
const CallTransferred = "call.transferred"

// ErrTransferRefused means a REFER target is neither a configured queue nor
// an allow-listed number on an allow-listed host (answered 403).
var ErrTransferRefused = errors.New("queue: transfer target not allowed")

// TransferConfig is the toll-fraud allow-list for agents' blind transfers.
//
// A Refer-To of sip:<name>@<any host> where name is a configured queue (or
// an Aliases key) moves the caller to that queue. Otherwise the user part
// must be a number ([0-9+*#]) matching Numbers (exact, or a prefix ending in
// "*") on a host in Hosts (dialled as given) or in Domains (Hotline itself:
// dialled at the extension's registered contact). Everything else is 403.
type TransferConfig struct {
	Numbers     []string                   // config allow.numbers
	Hosts       []string                   // config allow.hosts
	Domains     []string                   // Hotline's own: sip.domain, public IP
	Aliases     map[string]string          // Refer-To user -> queue name
	Contacts    func(user string) []string // registered contacts (registrar.ContactURIs)
	Dialer      Dialer                     // dials allowed numbers; nil: numbers refused
	RingTimeout time.Duration              // for the transfer target; default 30s
}

// transferTarget is a resolved Refer-To: a queue or a URI to dial.
type transferTarget struct {
	queue string
	uri   string
}

func (t transferTarget) kind() string {
	if t.queue != "" {
		return "queue"
	}
	return "number"
}

// resolve applies the allow-list to a REFER target (RFC 3515 §2.4.2: a
// refusal is a final non-2xx and the call goes on).
func (c TransferConfig) resolve(r sip.Refer, queues func(string) bool) (transferTarget, error) {
	if name, ok := c.Aliases[r.User]; ok && queues(name) {
		return transferTarget{queue: name}, nil
	}
	if queues(r.User) {
		return transferTarget{queue: r.User}, nil
	}
	refuse := func(why string) (transferTarget, error) {
		return transferTarget{}, &sip.StatusError{Code: 403, Reason: "Forbidden",
			Err: fmt.Errorf("%w: %s: %s", ErrTransferRefused, r.URI(), why)}
	}
	if !dialable(r.User) {
		return refuse("not a queue, and not a number")
	}
	if !matchesAny(c.Numbers, r.User) {
		return refuse("number not in allow.numbers")
	}
	if c.Dialer == nil {
		return refuse("no dialer for numbers")
	}
	switch {
	case hostIn(c.Hosts, r.Host):
		return transferTarget{uri: r.URI()}, nil
	case hostIn(c.Domains, r.Host):
		if c.Contacts != nil {
			if cs := c.Contacts(r.User); len(cs) > 0 {
				return transferTarget{uri: cs[0]}, nil
			}
		}
		return transferTarget{}, &sip.StatusError{Code: 480, Reason: "Temporarily Unavailable",
			Err: fmt.Errorf("queue: transfer to %s: extension not registered", r.URI())}
	}
	return refuse("host not in allow.hosts")
}

func dialable(user string) bool {
	return user != "" && len(user) <= 32 && strings.Trim(user, "0123456789+*#") == "" &&
		!strings.Contains(user[1:], "+")
}

// matchesAny: a pattern is an exact number or a prefix ending in "*".
func matchesAny(patterns []string, number string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(number, pre) || p == number {
			return true
		}
	}
	return false
}

func hostIn(hosts []string, host string) bool {
	for _, h := range hosts {
		if h != "" && strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// referrer is an agent leg whose phone can send REFER (sipAgentCall).
type referrer interface{ OnRefer(sip.ReferFunc) }

type pendingTransfer struct {
	t      *sip.Transfer
	target transferTarget
}

// bridgeAgent bridges caller and agent, taking the agent's REFER while the
// bridge is up. A non-nil transfer means it was accepted (202 sent) and the
// bridge ended for it; the transfer's final NOTIFY is then the caller's.
func (q *Enqueuer) bridgeAgent(ctx context.Context, caller Leg, ac AgentCall, queue, agent string) (string, *pendingTransfer) {
	rf, ok := ac.(referrer)
	if !ok {
		return Bridge(ctx, caller, ac), nil
	}
	var (
		mu      sync.Mutex
		closed  bool
		pending *pendingTransfer
		fired   = make(chan struct{})
	)
	rf.OnRefer(func(t *sip.Transfer) error {
		mu.Lock()
		defer mu.Unlock()
		if closed || pending != nil {
			return &sip.StatusError{Code: 403, Reason: "Forbidden", Err: errors.New("queue: call no longer bridged")}
		}
		tg, err := q.cfg.Transfer.resolve(t.Refer, q.cfg.Service.hasQueue)
		if err != nil {
			q.cfg.Logger.Info("queue: transfer refused", "queue", queue, "agent", agent, "target", t.URI(), "err", err)
			return err
		}
		pending = &pendingTransfer{t: t, target: tg}
		close(fired)
		return nil
	})
	side := bridge(ctx, caller, ac, fired)
	rf.OnRefer(nil)
	mu.Lock()
	closed = true
	p := pending
	mu.Unlock()
	if p != nil && side != "transfer" { // the caller hung up in the same instant
		q.finishTransfer(ctx, ac, p, 487, "Request Terminated")
		return side, nil
	}
	return side, p
}

// transfer moves the caller as the agent asked, then ends the agent leg.
// The rule that keeps a caller from silence: if the target fails (queue
// full or unmanned, number busy, unanswered or unreachable), the caller
// re-joins the queue they came from, and if that refuses them too they leave
// at its exit like any caller the queue cannot take.
func (q *Enqueuer) transfer(ctx context.Context, call ivr.Call, req ivr.QueueRequest, res ivr.QueueResult,
	caller Leg, ac AgentCall, p *pendingTransfer) (ivr.QueueResult, error) {
	svc := q.cfg.Service
	log := q.cfg.Logger.With("call_id", call.ID(), "queue", req.Queue, "agent", res.Agent)
	publish := func(result string) {
		svc.emitTransfer(call.ID(), req.Queue, res.Agent, p, result)
		log.Info("queue: transfer", "kind", p.target.kind(), "target", p.t.URI(), "result", result)
	}
	if p.target.queue != "" {
		tk, err := svc.Join(JoinRequest{CallID: call.ID(), Queue: p.target.queue, Tier: req.Vars["tier"], Caller: call.Caller()})
		if err != nil {
			code, reason := 503, "Service Unavailable"
			if errors.Is(err, ErrQueueFull) {
				code, reason = 486, "Busy Here"
			}
			q.finishTransfer(ctx, ac, p, code, reason)
			publish(strconv.Itoa(code) + " " + reason)
			return q.Enqueue(ctx, call, req)
		}
		q.finishTransfer(ctx, ac, p, 200, "OK")
		publish("ok")
		next := req
		next.Queue = p.target.queue
		return q.stay(ctx, call, next, tk)
	}
	tc, err := q.dialTransfer(ctx, call, req, p.target.uri)
	if err != nil {
		if ctx.Err() != nil { // the caller hung up while the target rang
			q.finishTransfer(ctx, ac, p, 487, "Request Terminated")
			publish("487 Request Terminated")
			return res, ctx.Err()
		}
		code, reason := 500, "Server Internal Error"
		var se *sip.StatusError
		switch {
		case errors.As(err, &se):
			code, reason = se.Code, se.Reason
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sip.ErrCanceled):
			code, reason = 408, "Request Timeout"
		}
		q.finishTransfer(ctx, ac, p, code, reason)
		publish(strconv.Itoa(code) + " " + reason)
		log.Info("queue: transfer target not reached, back to the queue", "err", err)
		return q.Enqueue(ctx, call, req)
	}
	q.finishTransfer(ctx, ac, p, 200, "OK")
	publish("ok")
	side := Bridge(ctx, caller, tc)
	log.Info("queue: transferred call ended", "target", p.t.URI(), "hangup_side", side)
	return res, nil
}

// dialTransfer rings the target while the caller hears the queue's music.
func (q *Enqueuer) dialTransfer(ctx context.Context, call ivr.Call, req ivr.QueueRequest, uri string) (AgentCall, error) {
	wait := q.cfg.Transfer.RingTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	holdCtx, stopHold := context.WithCancel(ctx)
	held := make(chan struct{})
	go func() {
		defer close(held)
		q.hold(holdCtx, call, req)
	}()
	tc, err := q.cfg.Transfer.Dialer.Dial(dctx, uri, Offer{ID: "transfer-" + call.ID(), CallID: call.ID(),
		Queue: req.Queue, Caller: call.Caller()})
	stopHold()
	<-held
	if err != nil {
		return nil, fmt.Errorf("queue: transfer to %s: %w", uri, err)
	}
	return tc, nil
}

// finishTransfer sends the final NOTIFY (RFC 3515 §2.4.5) and then BYE to
// the agent, who has handed the caller on.
func (q *Enqueuer) finishTransfer(ctx context.Context, ac AgentCall, p *pendingTransfer, code int, reason string) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.t.Finish(hctx, code, reason); err != nil && !errors.Is(err, sip.ErrCallEnded) {
		q.cfg.Logger.Info("queue: transfer NOTIFY", "err", err)
	}
	_ = ac.Hangup(hctx)
}

func (s *Service) hasQueue(name string) bool {
	_, ok := s.queues[name] // fixed at New: no lock needed
	return ok
}

func (s *Service) emitTransfer(callID, from, agent string, p *pendingTransfer, result string) {
	target := p.target.queue
	if target == "" {
		target = p.t.URI()
	}
	s.emit(events.Event{Type: CallTransferred, CallID: callID, Queue: from, Agent: agent, Data: map[string]any{
		"kind": p.target.kind(), "target": target, "from": from, "result": result, "referred_by": p.t.ReferredBy}})
}
