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

// run answers the call, serves it, and tears it down.
func (s *Server) run(c *Call, tx sip.ServerTransaction, late bool) {
	defer s.finish(c)
	c.log.Info("incoming call", "caller", c.caller, "called", c.called, "source", clean(c.dialog.InviteRequest.Source()))
	started := map[string]any{"caller": c.caller, "called": c.called}
	if c.feature != nil { // not a customer call: the app may leave it out of the ticket history
		started["feature_code"], started["agent"] = c.feature.code, c.feature.user
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
		c.markEnded(CauseCancelled, SideCaller)
		return
	}
	if c.ctx.Err() != nil {
		s.respondDialog(c, sip.StatusServiceUnavailable, "Service Unavailable", s.retryAfter())
		return
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
		c.markEnded(CauseError, SideServer)
		s.respondDialog(c, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	res := sip.NewSDPResponseFromRequest(c.dialog.InviteRequest, body)
	s.decorate(res, c.dialog.InviteRequest)
	// Blocks until the ACK handler confirms the dialog (sipgo trap).
	if err := c.dialog.WriteResponse(res); err != nil {
		if c.dialog.Context().Err() != nil || errors.Is(err, sip.ErrTransactionCanceled) {
			c.markEnded(CauseCancelled, SideCaller)
		} else {
			c.markEnded(CauseNoAck, SideServer)
		}
		c.log.Info("call not established", "err", err)
		return
	}
	if late {
		var ack *sip.Request
		select {
		case ack = <-c.ackCh:
		default:
		}
		if ack == nil || len(ack.Body()) == 0 {
			c.log.Warn("late offer: ACK carried no answer")
			c.markEnded(CauseError, SideServer) // finish sends the BYE
			return
		}
		n, err := ParseAnswer(ack.Body(), s.cfg.Codecs)
		if err != nil {
			c.log.Warn("late offer: bad answer in ACK", "err", err)
			c.markEnded(CauseError, SideServer) // finish sends the BYE
			return
		}
		c.mu.Lock()
		c.neg = n
		c.mu.Unlock()
	}
	c.mu.Lock()
	neg := c.neg
	c.mu.Unlock()
	if err := c.media.Start(neg.remote()); err != nil {
		c.log.Error("media start", "err", err)
		c.markEnded(CauseError, SideServer) // finish sends the BYE
		return
	}
	c.mu.Lock()
	c.answered = time.Now()
	c.mu.Unlock()
	c.log.Info("call answered", "codec", neg.Codec.String(), "remote", neg.Remote.String(), "ptime", neg.Ptime)
	s.publish(events.CallAnswered, c.id, map[string]any{"codec": neg.Codec.String()})
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		c.watchMedia()
	}()
	s.serveCall(c)
}

func (s *Server) serveCall(c *Call) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in call handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.markEnded(CauseError, SideServer)
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
	c.markEnded(CauseCompleted, SideServer)
	c.mu.Lock()
	answered := !c.answered.IsZero()
	needBye := answered && c.side == SideServer && !c.byeSent
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
	c.cancel(errors.New("sip: call ended: " + cause))
	c.bg.Wait()
	if err := c.media.Close(); err != nil {
		c.log.Warn("media close", "err", err)
	}
	c.dialog.Close()
	// Free the slot before anyone hears the call ended: whoever reacts to
	// call.ended (a wallboard, a test, a caller redialling) may call at once.
	s.mu.Lock()
	delete(s.calls, c.dialog.ID)
	s.reserved--
	s.mu.Unlock()
	s.active.Add(-1)
	dur := time.Duration(0)
	if answered {
		dur = time.Since(c.answered)
	}
	c.log.Info("call ended", "cause", cause, "side", side, "duration", dur)
	s.publish(events.CallEnded, c.id, map[string]any{"cause": cause, "side": side, "duration_ms": dur.Milliseconds()})
	close(c.done)
	s.callWG.Done()
}

func (c *Call) local() LocalSDP {
	c.mu.Lock()
	defer c.mu.Unlock()
	return LocalSDP{Addr: netip.AddrPortFrom(c.srv.public, c.media.LocalAddr().Port()), SessionID: c.sessID, Version: c.version}
}
