package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/events"
)

// run answers the call on the INVITE's goroutine, then serves it on a
// goroutine of its own (serve, which tears it down) and returns. A held
// caller's goroutine is parked for minutes with every frame below its wait
// on its stack: without sipgo's transaction frames, onInvite's and run's
// (~3 KiB) the parked chain fits a smaller stack, and sipgo's handler frame
// no longer keeps the INVITE as parsed for the whole call. sipgo's
// Server.handleRequest then calls TerminateGracefully: the 200 is final by
// then, so the transaction stays for its timers (RFC 6026) as it did at
// the end of the call before.
func (s *Server) run(c *Call, tx sip.ServerTransaction, late bool) {
	served := false
	defer func() {
		if !served {
			s.finish(c)
		}
	}()
	if !s.answer(c, tx, late) {
		return
	}
	served = true
	go s.serve(c)
}

// serve runs the answered call's handler and tears the call down; it is
// the call's goroutine (s.callWG and s.active count it until finish).
func (s *Server) serve(c *Call) {
	defer func() {
		if r := recover(); r != nil { // finish's own: the handler's is in serveCall
			c.log.Error("panic ending call", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	defer s.finish(c)
	s.serveCall(c)
}

// answer sends the 200, waits for its ACK and starts the media: true when
// the call is up, false when it ended before (finish still owed).
func (s *Server) answer(c *Call, tx sip.ServerTransaction, late bool) bool {
	c.log.Info("incoming call", "caller", c.caller, "called", c.called, "source", clean(c.dialog.InviteRequest.Source()))
	started := CallStart{Caller: c.caller, Called: c.called}
	if c.feature != nil { // not a customer call: the app may leave it out of the ticket history
		started.FeatureCode, started.Agent = c.feature.code, c.feature.user
	}
	s.publish(events.CallStarted, c.id, started)
	s.respondDialog(c, sip.StatusTrying, "Trying")
	if s.cfg.RingTime > 0 && c.feature == nil {
		s.respondDialog(c, sip.StatusRinging, "Ringing")
		t := time.NewTimer(s.cfg.RingTime)
		select {
		case <-t.C:
		case <-c.dialog.Context().Done(): // CANCEL (RFC 3261 §9.2): library sends 487
		case <-c.ctx.Done(): // shutdown while ringing
		}
		t.Stop()
	}
	if c.dialog.Context().Err() != nil {
		c.markEnded(CauseCancelled, SideRemote)
		return false
	}
	if c.ctx.Err() != nil {
		s.refuseDialog(c, s.errDraining)
		return false
	}
	var body []byte
	var err error
	local := c.local()
	if late { // RFC 3264 §5: we offer in the 200, the answer comes in the ACK
		body, err = BuildOffer(local, s.cfg.Codecs, defaultPtime, SendRecv)
	} else {
		c.mu.Lock()
		neg := c.neg
		c.mu.Unlock()
		body, err = BuildAnswer(local, neg)
	}
	if err != nil {
		c.markEnded(CauseError, SideLocal)
		s.refuseDialog(c, err)
		return false
	}
	res := sip.NewSDPResponseFromRequest(c.dialog.InviteRequest, body)
	s.decorate(res, c.dialog.InviteRequest)
	if c.dialog.Context().Err() != nil { // CANCEL won the race (RFC 3261 §9.2)
		c.markEnded(CauseCancelled, SideRemote)
		return false
	}
	// We retransmit the 200 ourselves rather than with sipgo's
	// WriteResponse, whose ACK wait is a fixed 64*T1 that ends as if the
	// ACK had come: the wait here shrinks under load (issue 8.5).
	c.dialog.InviteResponse = res
	acked := c.expectAck(c.dialog.InviteRequest.CSeq().SeqNo)
	err = tx.Respond(res)
	if err == nil {
		err = awaitAck(c.ctx, tx, res, time.Now(), acked, func() time.Duration { return s.ackTimeout(c.slot) })
	}
	if err != nil {
		if errors.Is(err, errNoAck) {
			s.edge.add(EdgeNoAck)
			c.markEnded(CauseNoAck, SideLocal)
			tx.Terminate() // nothing more to absorb: free it now, not at Timer L
		} else {
			c.markEnded(CauseError, SideLocal)
		}
		s.edgeLog.Info("call not established", "call_id", c.id, "err", err)
		return false
	}
	s.confirm(c.slot)
	if late {
		var ack *sip.Request
		c.mu.Lock()
		select {
		case ack = <-c.ackCh:
		default:
		}
		c.ackCh = nil // later ACKs (re-INVITEs') are not for us
		c.mu.Unlock()
		if ack == nil || len(ack.Body()) == 0 {
			c.log.Warn("late offer: ACK carried no answer")
			c.markEnded(CauseError, SideLocal) // finish sends the BYE
			return false
		}
		n, err := ParseAnswer(ack.Body(), s.cfg.Codecs)
		if err != nil {
			c.log.Warn("late offer: bad answer in ACK", "err", err)
			c.markEnded(CauseError, SideLocal) // finish sends the BYE
			return false
		}
		n.Signal = signalIP(ack.Source()) // the answer came in the ACK
		c.mu.Lock()
		c.neg = n
		c.mu.Unlock()
	}
	c.mu.Lock()
	if !late {
		c.neg.Signal = signalIP(c.dialog.InviteRequest.Source())
	}
	neg := c.neg
	c.mu.Unlock()
	if err := c.media.Start(neg.remote()); err != nil {
		c.log.Error("media start", "err", err)
		c.markEnded(CauseError, SideLocal) // finish sends the BYE
		return false
	}
	c.mu.Lock()
	c.answered = time.Now()
	c.mu.Unlock()
	c.log.Info("call answered", "codec", neg.Codec.String(), "remote", neg.Remote.String(), "ptime", neg.Ptime)
	s.publish(events.CallAnswered, c.id, CallAnswer{Codec: neg.Codec.String()})
	c.watchMedia()
	return true
}

func (s *Server) serveCall(c *Call) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in call handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.markEnded(CauseError, SideLocal)
		}
	}()
	if c.feature != nil {
		s.serveFeature(c.ctx, c, c.feature)
		return
	}
	s.h.ServeCall(c.ctx, c)
}

// finish sends BYE if we ended an answered call, frees media and publishes call.ended.
func (s *Server) finish(c *Call) {
	c.markEnded(CauseCompleted, SideLocal)
	c.mu.Lock()
	answered := !c.answered.IsZero()
	needBye := answered && c.side == SideLocal && !c.byeSent
	if c.cause == CauseError && !answered && c.dialog.LoadState() == sip.DialogStateConfirmed {
		needBye = true // ACKed but media or answer failed
	}
	c.byeSent = c.byeSent || needBye
	cause, side := c.cause, c.side
	c.mu.Unlock()
	if needBye {
		c.bye(context.Background(), cause)
	}
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cancel(errors.New("sip: call ended: " + string(cause)))
	c.unwatchMedia()
	c.bg.Wait()
	if err := c.media.Close(); err != nil {
		c.log.Warn("media close", "err", err)
	}
	c.dialog.Close()
	// Free the slot before anyone hears the call ended: whoever reacts to
	// call.ended (a wallboard, a test, a caller redialling) may call at once.
	s.mu.Lock()
	delete(s.calls, c.dialog.ID)
	if cl := s.callIDs[c.id]; cl != nil && cl.call == c {
		s.releaseCallIDLocked(c.id, cl)
	}
	s.mu.Unlock()
	owed := s.unreserve(c.slot)
	s.active.Add(-1)
	dur := time.Duration(0)
	if answered {
		dur = time.Since(c.answered)
	}
	end := CallEnd{Cause: cause, DurationMS: dur.Milliseconds(), Side: side.inboundWord()}
	c.log.Info("call ended", "cause", cause, "side", end.Side, "duration", dur) // the event's words
	s.publish(events.CallEnded, c.id, end)
	close(c.done)
	if owed {
		s.callWG.Done()
	}
}

func (c *Call) local() LocalSDP {
	c.mu.Lock()
	defer c.mu.Unlock()
	return LocalSDP{Addr: netip.AddrPortFrom(c.srv.public, c.media.LocalAddr().Port()), SessionID: c.sessID, Version: c.version}
}
