package callback

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// Calls placed for another node's scheduler (docs/cluster.md, "Callbacks
// in a cluster"): a cluster's leader claims an attempt for a node
// (Go.Node, the claim "<node>/dial/<uuid>") and hands the call to it; the
// node's request-side scheduler (Config.Remote) places it with its own
// Dialer and records its end itself, under the claim, then tells the
// leader to Load it. So the call's media and its bridge live on that node,
// and the call outlives a change of leader: the new leader's start leaves
// the claim to its node, and reads the callback back when it is told.

// PlaceAssigned places attempt req (claimed for this node by the
// leader's scheduler) with d on a goroutine of its own and returns. The
// call is placed only while the stored attempt is still req's claim (a
// claim recovered meanwhile, or an assignment delivered twice, is not
// dialled); its end is written under req.Claim, retrying while the
// database is unavailable, then Config.Remote tells the leader. Shutdown
// waits for it; Close hangs it up (recorded interrupted).
func (s *Scheduler) PlaceAssigned(req DialRequest, d Dialer) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.log.Warn("callback: a call assigned to this node is not placed: shutting down (its claim is given back at the next start)",
			"callback", req.CallbackID, "claimed_by", req.Claim)
		return
	}
	if s.placing == nil {
		s.placing = map[string]bool{}
	}
	if s.placing[req.Claim] {
		s.mu.Unlock()
		return // delivered again: the first is up
	}
	s.placing[req.Claim] = true
	s.dials.Add(1)
	s.mu.Unlock()
	go func() { // owned by s.dials
		defer s.dials.Done()
		defer func() {
			s.mu.Lock()
			delete(s.placing, req.Claim)
			s.mu.Unlock()
		}()
		s.placeAssigned(req, d)
	}()
}

// Placing is how many calls assigned to this node are up (PlaceAssigned).
func (s *Scheduler) Placing() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.placing)
}

func (s *Scheduler) placeAssigned(req DialRequest, d Dialer) {
	log := s.log.With("callback", req.CallbackID, "attempt", req.Attempt, "claimed_by", req.Claim, "call_id", req.CallID)
	var cb *store.Callback
	s.sweepMu.Lock() // a sweep gives an unplaced claim back, or sees this one placing (checked after it)
	err := s.write(s.dialCtx, func(ctx context.Context) (err error) {
		cb, err = s.cfg.Store.GetCallback(ctx, req.CallbackID)
		return err
	})
	s.sweepMu.Unlock()
	switch {
	case err != nil:
		// Not placed: the claim stays until this node restarts or is lost.
		log.Error("callback: the call assigned to this node cannot be checked; not placed", "err", err)
		return
	case cb.ClaimedBy != req.Claim || cb.Attempts != req.Attempt || cb.State != store.CallbackDialling:
		log.Warn("callback: the call assigned to this node is no longer its claim; not placed", "state", cb.State,
			"now_claimed_by", cb.ClaimedBy)
		return
	}
	log.Info("callback: placing the call the leader assigned to this node", "queue", req.Queue)
	ctx, cancel := context.WithCancel(s.dialCtx)
	defer cancel()
	res := d.Dial(ctx, req, &assignedProgress{s: s, req: req, cb: *cb})
	if res.Result == "" {
		res.Result, res.Reason = store.AttemptTrunkFailed, "the dialler gave no result"
	}
	if ctx.Err() != nil && res.Result != store.AttemptCompleted {
		res.Result, res.Reason = store.AttemptInterrupted, "Hotline shut down during the call"
	}
	set, ok := s.queues[cb.Queue]
	if !ok {
		set, _ = newSettings(cb.Queue, config.Queue{}, nil)
	}
	now := time.Now()
	dec := set.next(*cb, res, now)
	f := store.CallbackFinish{ID: cb.ID, Boot: req.Claim, Attempt: req.Attempt, At: now, Result: res.Result,
		SIPStatus: res.SIPStatus, Reason: res.Reason, Trunk: res.Trunk, Agent: res.Agent, TalkSeconds: res.Talk.Seconds(),
		Next: dec.state, NotBefore: dec.notBefore, GiveBack: dec.giveBack, Outcome: dec.outcome}
	if !res.AnsweredAt.IsZero() {
		f.AnsweredAt = &res.AnsweredAt
	}
	if !res.ConfirmedAt.IsZero() {
		f.ConfirmedAt = &res.ConfirmedAt
	}
	for wait := backoffMin; ; wait = nextBackoff(wait) {
		var got store.Callback
		err = s.write(context.Background(), func(ctx context.Context) (err error) {
			got, err = s.cfg.Store.FinishCallback(ctx, f)
			return err
		})
		if err == nil {
			log.Info("callback: call ended", "result", res.Result, "sip_status", res.SIPStatus, "next", got.State)
			break
		}
		if !transient(err) {
			log.Error("callback: the end of the call was refused (its claim was recovered meanwhile?)", "err", err)
			break
		}
		log.Warn("callback: cannot record the end of a call; retrying", "err", err)
		if !s.sleep(context.Background(), wait) {
			log.Error("callback: the end of a call was not recorded before shutdown", "result", res.Result)
			return
		}
	}
	s.tellLeader(log, req.CallbackID)
}

// sweepAssigned gives back the claims made for this node whose call it
// never got: the leader claimed the attempt, then lost the lead before the
// commit that carried the assignment (Node.Assign's outbox item is dropped
// with the epoch). Such a claim is open, "<node>/dial/...", and not being
// placed here; seen so at two sweeps in a row (an assignment arrives
// within a second or so), it is given back as a claim whose call was never
// placed (not counted as interrupted), and the leader is told. A sweep
// and a placement's check of its claim exclude each other (sweepMu), so a
// call is placed only on a claim not given back. On a Remote scheduler of
// a cluster node, every Config.Rescan.
func (s *Scheduler) sweepAssigned(ctx context.Context) {
	prefix := s.cfg.Node + "/dial/"
	var open []store.Callback
	err := s.write(ctx, func(ctx context.Context) (err error) {
		open, err = s.cfg.Store.OpenCallbacks(ctx)
		return err
	})
	if err != nil {
		s.log.Warn("callback: the calls assigned to this node were not checked", "err", err)
		return
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	s.mu.Lock()
	seen := map[string]bool{}
	var ids []int64
	for _, cb := range open {
		if cb.State == store.CallbackWaiting || !strings.HasPrefix(cb.ClaimedBy, prefix) || s.placing[cb.ClaimedBy] {
			continue
		}
		seen[cb.ClaimedBy] = true
		if s.orphans[cb.ClaimedBy] {
			ids = append(ids, cb.ID)
		}
	}
	s.orphans = seen
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	var got []store.Callback
	err = s.write(ctx, func(ctx context.Context) (err error) {
		got, err = s.cfg.Store.RecoverCallbacks(ctx, store.CallbackRecovery{Boot: s.cfg.Boot, At: time.Now(), IDs: ids,
			Reason: "assignment lost"})
		return err
	})
	if err != nil {
		s.log.Warn("callback: claims assigned to this node but never placed were not given back", "callbacks", ids, "err", err)
		return
	}
	for _, cb := range got {
		s.log.Warn("callback: a call assigned to this node never arrived; its claim is given back", "callback", cb.ID,
			"state", cb.State)
		s.tellLeader(s.log, cb.ID)
	}
}

// tellLeader sends Config.Remote for id, retrying a few times: without it
// the leader reads the callback at its next rescan.
func (s *Scheduler) tellLeader(log interface {
	Warn(string, ...any)
}, id int64) {
	wait := backoffMin
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		err := s.cfg.Remote(ctx, id)
		cancel()
		if err == nil {
			return
		}
		log.Warn("callback: the leader was not told of the call's end; retrying", "err", err)
		if !s.sleep(context.Background(), wait) {
			return
		}
		wait = nextBackoff(wait)
	}
}

// assignedProgress is the Progress of a call placed for the leader.
type assignedProgress struct {
	s   *Scheduler
	req DialRequest
	cb  store.Callback // as claimed
}

// Confirmed records the connected state and publishes it on this node's
// bus (the relay carries it to every node), as the leader's own calls do.
func (p *assignedProgress) Confirmed(at time.Time) {
	s, req := p.s, p.req
	s.mu.Lock()
	cb := p.cb
	cb.State = store.CallbackConnected
	s.publish(&entry{cb: cb}, string(store.CallbackConnected), nil)
	s.dials.Add(1)
	s.mu.Unlock()
	go func() { // owned by s.dials
		defer s.dials.Done()
		err := s.write(context.Background(), func(ctx context.Context) error {
			_, err := s.cfg.Store.ConnectCallback(ctx, store.CallbackConnect{ID: req.CallbackID, Boot: req.Claim, Attempt: req.Attempt, At: at})
			return err
		})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			s.log.Warn("callback: connected state not recorded (the call's end will be)", "callback", req.CallbackID, "err", err)
		}
	}()
}
