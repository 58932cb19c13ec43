package callback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/hotline-dev/hotline/store"
)

// Dial is the ACD's "dial callback id now": the callback must be in its
// queue's line and the queue must have room under its pacing
// (g.FreeAgents × pacing_ratio callbacks dialling at once). Dial claims
// the attempt in the database (the attempt row and its interaction on the
// ticket commit first), hands the call to the Dialer on a goroutine of its
// own and returns; the callback has then left the line. On an error
// nothing was dialled; the callback stays in line (not waiting, pacing),
// or, when the claim itself failed, is withdrawn and offered again once
// the scheduler has settled it with the database.
func (s *Scheduler) Dial(ctx context.Context, id int64, g Go) error {
	s.mu.Lock()
	e := s.entries[id]
	switch {
	case s.closing:
		s.mu.Unlock()
		return ErrClosed
	case e == nil || !e.inLine || e.busy || e.dial != nil || e.suspect:
		s.mu.Unlock()
		return fmt.Errorf("%w: callback %d", ErrNotWaiting, id)
	}
	l := e.q
	if n, allowed := l.inFlight, paced(g.FreeAgents, l.set.cfg.PacingRatio); n >= allowed {
		s.mu.Unlock()
		return fmt.Errorf("%w: queue %s has %d callbacks dialling for %d agents predicted free (pacing ratio %v)",
			ErrPacing, l.set.queue, n, g.FreeAgents, l.set.cfg.PacingRatio)
	}
	l.remove(e) // the ACD took it: no Withdraw
	e.busy = true
	e.dial = &dialling{attempt: e.cb.Attempts + 1}
	l.inFlight++
	claim := store.CallbackClaim{ID: id, Version: e.cb.Version, Boot: s.cfg.Boot, At: time.Now(),
		CallID: uuid.NewString(), FromTag: newTag(), Agent: g.Agent}
	node := ""
	if g.Node != "" && g.Node != s.cfg.Node {
		node, claim.Boot = g.Node, g.Node+"/dial/"+uuid.NewString()
	}
	s.mu.Unlock()

	var cb store.Callback
	err := s.write(ctx, func(ctx context.Context) (err error) {
		cb, err = s.cfg.Store.ClaimCallback(ctx, claim)
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	if err != nil {
		e.dial = nil
		l.inFlight--
		// It left the line for the claim: the ACD is told it is gone until
		// it has been settled with the database (the commit may have
		// happened, or the row changed) and offered again.
		s.outbox = append(s.outbox, notice{queue: e.cb.Queue, withdraw: id})
		e.suspect = true
		s.rearm(e, time.Now())
		if transient(err) {
			s.log.Warn("callback: claim not confirmed; checking it before any dial", "callback", id, "err", err)
		} else {
			s.log.Error("callback: claim refused; reloading the callback", "callback", id, "err", err)
		}
		return fmt.Errorf("callback: claim %d: %w", id, err)
	}
	e.cb = cb
	dctx, cancel := context.WithCancel(s.dialCtx)
	e.dial.cancel = cancel
	set := l.set
	req := DialRequest{CallbackID: id, Attempt: cb.Attempts, MaxAttempts: cb.MaxAttempts, Queue: cb.Queue, Number: cb.Number,
		Mode: cb.Mode, CallID: claim.CallID, FromTag: claim.FromTag, Agent: g.Agent, AskedAt: cb.CreatedAt, JoinedAt: cb.JoinedAt,
		Tier: cb.Tier, ConfirmKey: set.cfg.ConfirmKey, ConfirmTimeout: set.cfg.ConfirmTimeout, RingTimeout: set.cfg.RingTimeout, Prompts: set.cfg.Prompts,
		Language: cb.Language, TicketID: cb.TicketID, Node: node, Claim: claim.Boot}
	s.publish(e, string(store.CallbackDialling), nil)
	s.dials.Add(1)
	go s.attempt(dctx, cancel, e, req) // owned by s.dials: Close cancels dctx and waits
	return nil
}

// paced is how many callbacks may dial at once for free agents.
func paced(free int, ratio float64) int {
	if free <= 0 {
		return 0
	}
	return max(1, int(math.Floor(float64(free)*ratio)))
}

func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// attempt runs one call and records how it ended.
func (s *Scheduler) attempt(ctx context.Context, cancel context.CancelFunc, e *entry, req DialRequest) {
	defer s.dials.Done()
	defer cancel()
	res := s.cfg.Dialer.Dial(ctx, req, &progress{s: s, e: e, attempt: req.Attempt})
	if res.Result == "" {
		res.Result, res.Reason = store.AttemptTrunkFailed, "the dialler gave no result"
	}
	if ctx.Err() != nil && res.Result != store.AttemptCompleted {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			res.Result, res.Reason = store.AttemptInterrupted, "Hotline shut down during the call"
		}
	}
	if res.Elsewhere {
		s.settle(e, req)
		return
	}
	s.finish(e, req.Attempt, res)
}

// settle is finish for a call another node placed (Result.Elsewhere): that
// node wrote the call's end, or still has the call up (this scheduler is
// closing; the node writes it later and tells the leader then, Load), or
// died (RecoverNode gave the attempt back): the callback is read back and
// placed, ended, or forgotten while it is still claimed.
func (s *Scheduler) settle(e *entry, req DialRequest) {
	var cb *store.Callback
	err := s.write(context.Background(), func(ctx context.Context) (err error) {
		cb, err = s.cfg.Store.GetCallback(ctx, req.CallbackID)
		return err
	})
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e.dial = nil
	e.q.inFlight--
	switch {
	case err != nil:
		if s.closing {
			return // the next term's start reads it
		}
		s.log.Warn("callback: a call placed by another node ended, but the callback was not read back; reloading it",
			"callback", req.CallbackID, "node", req.Node, "err", err)
		e.suspect = true
		s.rearm(e, now)
	case !cb.State.Open():
		s.ended(e, *cb, now, lastCall(cb, req.Attempt))
	case cb.State != store.CallbackWaiting:
		// Still claimed (by that node's call, or another's since): not ours
		// to hold; its end is Loaded when it is written.
		s.log.Info("callback: the call is up on another node; left to it", "callback", req.CallbackID, "node", req.Node,
			"claimed_by", cb.ClaimedBy)
		s.drop(e, now)
	default:
		e.cb = *cb
		e.backoff = 0
		if due, _ := e.q.set.dueAt(cb.NotBefore, now); due.After(now) {
			s.publish(e, string(StatusScheduled), lastCall(cb, req.Attempt))
		}
		s.place(e, now)
	}
}

// lastCall is attempt's result as the store has it, for the events.
func lastCall(cb *store.Callback, attempt int) *Change {
	for _, c := range cb.Calls {
		if c.Attempt == attempt {
			return &Change{Result: c.Result, SIPStatus: c.SIPStatus, Agent: c.Agent}
		}
	}
	return nil
}

// finish writes attempt's end and what follows, retrying while the
// database is unavailable, until Close.
func (s *Scheduler) finish(e *entry, attempt int, res Result) {
	now := time.Now()
	s.mu.Lock()
	d := e.q.set.next(e.cb, res, now)
	s.mu.Unlock()
	f := store.CallbackFinish{ID: e.cb.ID, Boot: s.cfg.Boot, Attempt: attempt, At: now, Result: res.Result,
		SIPStatus: res.SIPStatus, Reason: res.Reason, Trunk: res.Trunk, Agent: res.Agent, TalkSeconds: res.Talk.Seconds(),
		Next: d.state, NotBefore: d.notBefore, GiveBack: d.giveBack, Outcome: d.outcome}
	if !res.AnsweredAt.IsZero() {
		f.AnsweredAt = &res.AnsweredAt
	}
	if !res.ConfirmedAt.IsZero() {
		f.ConfirmedAt = &res.ConfirmedAt
	}
	var cb store.Callback
	var err error
	for wait := backoffMin; ; wait = nextBackoff(wait) {
		err = s.write(context.Background(), func(ctx context.Context) (err error) {
			cb, err = s.cfg.Store.FinishCallback(ctx, f)
			return err
		})
		if err == nil || !transient(err) {
			break
		}
		s.log.Warn("callback: cannot record the end of a call; retrying", "callback", f.ID, "attempt", attempt, "err", err)
		if !s.sleep(context.Background(), wait) {
			// Closed with the outcome unwritten: the next start finds the
			// attempt open and marks it interrupted (retried once).
			s.log.Error("callback: the end of a call was not recorded before shutdown", "callback", f.ID, "attempt", attempt,
				"result", res.Result)
			return
		}
	}
	now = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e.dial = nil
	e.q.inFlight--
	if err != nil {
		s.log.Error("callback: the end of a call was refused; reloading the callback", "callback", f.ID, "err", err)
		e.suspect = true
		s.rearm(e, now)
		return
	}
	s.log.Info("callback: call ended", "callback", f.ID, "attempt", attempt, "result", res.Result, "sip_status", res.SIPStatus,
		"next", cb.State)
	extra := &Change{Result: res.Result, SIPStatus: res.SIPStatus, Agent: res.Agent}
	if !cb.State.Open() {
		s.ended(e, cb, now, extra)
		return
	}
	e.cb = cb
	e.backoff = 0
	if due, _ := e.q.set.dueAt(cb.NotBefore, now); due.After(now) {
		s.publish(e, string(StatusScheduled), extra)
	}
	s.place(e, now)
}

// progress is the Progress of one attempt.
type progress struct {
	s       *Scheduler
	e       *entry
	attempt int
}

// Confirmed records the connected state (in memory at once, in the
// database on its own goroutine: the customer is not kept waiting for it;
// FinishCallback accepts either state).
func (p *progress) Confirmed(at time.Time) {
	s, e := p.s, p.e
	s.mu.Lock()
	if e.dial == nil || e.dial.attempt != p.attempt || e.cb.State != store.CallbackDialling {
		s.mu.Unlock()
		return
	}
	e.cb.State = store.CallbackConnected
	s.publish(e, string(store.CallbackConnected), nil)
	c := store.CallbackConnect{ID: e.cb.ID, Boot: s.cfg.Boot, Attempt: p.attempt, At: at}
	s.dials.Add(1)
	s.mu.Unlock()
	go func() { // owned by s.dials
		defer s.dials.Done()
		err := s.write(context.Background(), func(ctx context.Context) error {
			_, err := s.cfg.Store.ConnectCallback(ctx, c)
			return err
		})
		if err != nil && !errors.Is(err, store.ErrConflict) { // ErrConflict: the call already ended and was recorded
			s.log.Warn("callback: connected state not recorded (the call's end will be)", "callback", c.ID, "err", err)
		}
	}()
}
