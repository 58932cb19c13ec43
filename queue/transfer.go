package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// CallTransferred is published when an agent's blind transfer (REFER) has
// been carried out or has failed; its payload is a Transferred.
const CallTransferred = "call.transferred"

// ErrTransferRefused means a REFER target is neither a configured queue nor
// a destination the outbound policy allows (answered 403).
var ErrTransferRefused = errors.New("queue: transfer target not allowed")

// TransferConfig is what an agent's blind transfer may reach.
//
// A Refer-To of sip:<name>@<any host> where name is a configured queue (or
// an Aliases key) moves the caller to that queue. Anything else is a
// destination for the outbound policy (outbound.Transfer): an extension or
// an allowed number, on an allow-listed host (dialled as the policy says)
// or on Hotline itself (dialled at that user's registered contact, which
// the policy checks again). Everything else is 403.
type TransferConfig struct {
	Policy      *outbound.Policy           // the toll-fraud guard; nil: only queues
	Aliases     map[string]string          // Refer-To user -> queue name
	Contacts    func(user string) []string // registered contacts (registrar.ContactURIs)
	Dialer      bridge.Dialer              // dials allowed destinations; nil: only queues
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

// name is the target as the ticket history shows it: the queue, or the
// Refer-To URI the agent asked for.
func (t transferTarget) name(tr *sip.Transfer) string {
	if t.queue != "" {
		return t.queue
	}
	return tr.URI()
}

// resolve applies the allow-list to a REFER target (RFC 3515 §2.4.2: a
// refusal is a final non-2xx and the call goes on). log gets refused
// registered contacts.
func (c TransferConfig) resolve(r sip.Refer, queues func(string) bool, log *slog.Logger) (transferTarget, error) {
	if name, ok := c.Aliases[r.User]; ok && queues(name) {
		return transferTarget{queue: name}, nil
	}
	if queues(r.User) {
		return transferTarget{queue: r.User}, nil
	}
	refuse := func(err error) (transferTarget, error) {
		return transferTarget{}, &sip.StatusError{Code: 403, Reason: "Forbidden",
			Err: fmt.Errorf("%w: %s: %w", ErrTransferRefused, r.URI(), err)}
	}
	t, err := c.Policy.Check(outbound.Transfer, outbound.Address{Scheme: "sip", User: r.User, Host: r.Host, Port: r.Port})
	if err != nil {
		return refuse(err)
	}
	if c.Dialer == nil {
		return refuse(errors.New("no dialer for numbers"))
	}
	if !t.Own {
		return transferTarget{uri: t.URI}, nil
	}
	if uri := allowedContact(c.Policy, c.Contacts, t.User, log); uri != "" {
		return transferTarget{uri: uri}, nil
	}
	return transferTarget{}, &sip.StatusError{Code: 480, Reason: "Temporarily Unavailable",
		Err: fmt.Errorf("queue: transfer to %s: extension not registered", r.URI())}
}

type pendingTransfer struct {
	t      *sip.Transfer
	target transferTarget
}

// bridgeAgent connects caller and agent, taking the agent's REFER while they
// are connected (the decision: resolve). It hangs the agent up when the
// caller's call ended. A non-nil transfer means it was accepted (202 sent)
// and the connection ended for it; the transfer's final NOTIFY is then the
// caller's (bridge.FinishTransfer). rec, when set, records the call.
func (q *Enqueuer) bridgeAgent(ctx context.Context, caller bridge.Leg, ac bridge.Call, queue, agent string, rec *callRecorder) (store.Side, *pendingTransfer) {
	var target transferTarget // set by an accepted REFER, before Connect returns
	var tap func(bridge.Side, media.Frame)
	if rec != nil {
		tap = rec.tap
	}
	end, t := bridge.Connect(ctx, bridge.Media(caller), ac, bridge.Options{Tap: tap, Refer: func(t *sip.Transfer) error {
		tg, err := q.cfg.Transfer.resolve(t.Refer, q.cfg.Service.hasQueue, q.cfg.Logger)
		if err != nil {
			t.Logger().Info("queue: transfer refused", "queue", queue, "agent", agent, "target", t.URI(), "err", err)
			return err
		}
		target = tg
		return nil
	}})
	return q.ended(ctx, end, ac), transferOf(t, target)
}

func transferOf(t *sip.Transfer, target transferTarget) *pendingTransfer {
	if t == nil {
		return nil
	}
	return &pendingTransfer{t: t, target: target}
}

// ended is the side that ended a connection to party b (an agent, a
// transfer target), which it hangs up when the caller's side ended.
func (q *Enqueuer) ended(ctx context.Context, end bridge.End, b bridge.Call) store.Side {
	switch end {
	case bridge.EndedByB, bridge.EndedByTransfer:
		return store.SideAgent
	}
	_ = bridge.Hangup(ctx, b)
	return store.SideCaller
}

// transfer moves the caller as the agent asked, then ends the agent leg.
// The rule that keeps a caller from silence: if the target fails (queue
// full or unmanned, number busy, unanswered or unreachable), the caller
// re-joins the queue they came from, and if that refuses them too they leave
// at its exit like any caller the queue cannot take. The result's legs are
// those after the agent's: the target's, and any re-queue.
func (q *Enqueuer) transfer(ctx context.Context, call ivr.Call, req ivr.QueueRequest, agent string,
	caller bridge.Leg, ac bridge.Call, p *pendingTransfer) (ivr.QueueResult, error) {
	svc := q.cfg.Service
	log := q.cfg.Logger.With("call_id", call.ID(), "queue", req.Queue, "agent", agent)
	publish := func(result string) {
		svc.emitTransfer(call.ID(), req.Queue, agent, p, result)
		log.Info("queue: transfer", "kind", p.target.kind(), "target", p.t.URI(), "result", result)
	}
	// requeue puts the caller back in their queue after the target failed.
	requeue := func(failed store.CallLeg) (ivr.QueueResult, error) {
		back, err := q.Enqueue(ctx, call, req)
		back.Legs = append([]store.CallLeg{failed}, back.Legs...)
		return back, err
	}
	if p.target.queue != "" {
		next := req
		next.Queue = p.target.queue
		_ = q.noticeFirst(ctx, call, next) // a hang-up: Join and stay see ctx end
		tk, err := q.cfg.Desk.Join(ctx, call, JoinRequest{CallID: call.ID(), Queue: p.target.queue, Tier: ivr.CallerTier(req.Vars), Caller: call.Caller()})
		if err != nil {
			code, reason := 503, "Service Unavailable"
			if errors.Is(err, ErrQueueFull) {
				code, reason = 486, "Busy Here"
			}
			bridge.FinishTransfer(ctx, ac, p.t, code, reason)
			publish(strconv.Itoa(code) + " " + reason)
			now := svc.cfg.Now()
			failed := store.CallLeg{Queue: p.target.queue, JoinedAt: now, EndedAt: now, End: store.LegUnanswered, Reason: err.Error()}
			var ee *ExitError
			if errors.As(err, &ee) {
				failed.Reason = ee.Reason
			}
			return requeue(failed)
		}
		bridge.FinishTransfer(ctx, ac, p.t, 200, "OK")
		publish("ok")
		return q.stay(ctx, call, &next, tk)
	}
	dialled := svc.cfg.Now()
	leg := store.CallLeg{Queue: req.Queue, Number: p.t.URI(), JoinedAt: dialled}
	tc, err := q.dialTransfer(ctx, call, req, p.target.uri)
	if err != nil {
		leg.EndedAt = svc.cfg.Now()
		leg.WaitSeconds = leg.EndedAt.Sub(dialled).Seconds()
		leg.End = store.LegUnanswered
		if ctx.Err() != nil { // the caller hung up while the target rang
			bridge.FinishTransfer(ctx, ac, p.t, 487, "Request Terminated")
			publish("487 Request Terminated")
			leg.Reason, leg.EndedBy = ReasonAbandoned, EndedBy(call)
			return ivr.QueueResult{Reason: ReasonAbandoned, Legs: []store.CallLeg{leg}}, ctx.Err()
		}
		code, reason := 500, "Server Internal Error"
		var se *sip.StatusError
		switch {
		case errors.As(err, &se):
			code, reason = se.Code, se.Reason
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sip.ErrCanceled):
			code, reason = 408, "Request Timeout"
		}
		bridge.FinishTransfer(ctx, ac, p.t, code, reason)
		publish(strconv.Itoa(code) + " " + reason)
		log.Info("queue: transfer target not reached, back to the queue", "err", err)
		leg.Reason = strconv.Itoa(code) + " " + reason
		return requeue(leg)
	}
	answered := svc.cfg.Now()
	bridge.FinishTransfer(ctx, ac, p.t, 200, "OK")
	publish("ok")
	end, _ := bridge.Connect(ctx, bridge.Media(caller), tc, bridge.Options{}) // the target's REFERs are refused
	side := q.ended(ctx, end, tc)
	leg.AnsweredAt, leg.EndedAt = &answered, svc.cfg.Now()
	leg.WaitSeconds, leg.TalkSeconds = answered.Sub(dialled).Seconds(), leg.EndedAt.Sub(answered).Seconds()
	leg.End, leg.EndedBy = store.LegHangup, endedBy(call, side)
	log.Info("queue: transferred call ended", "target", p.t.URI(), "hangup_side", leg.EndedBy)
	return ivr.QueueResult{Answered: true, Legs: []store.CallLeg{leg}}, nil
}

// dialTransfer rings the target while the caller hears the queue's music.
func (q *Enqueuer) dialTransfer(ctx context.Context, call ivr.Call, req ivr.QueueRequest, uri string) (bridge.Call, error) {
	wait := q.cfg.Transfer.RingTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// uri passed the outbound policy (resolve): dialled as given.
	tc, err := bridge.DialWhile(dctx, q.cfg.Transfer.Dialer, uri, dialOptions(req.Queue, call.Caller(), call.ID()),
		func(ctx context.Context) { stop := q.hold(call, req.Queue, req.Language); <-ctx.Done(); stop() })
	if err != nil {
		return nil, fmt.Errorf("queue: transfer to %s: %w", uri, err)
	}
	return tc, nil
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
	s.emit(events.Event{Type: CallTransferred, CallID: callID, Queue: from, Agent: agent, Payload: Transferred{
		From: from, Kind: p.target.kind(), ReferredBy: p.t.ReferredBy, Result: result, Target: target}})
}
