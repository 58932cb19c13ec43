package sip

import (
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// lookup finds the call a mid-dialog request belongs to (RFC 3261 §12.2.2).
func (s *Server) lookup(req *sip.Request) *Call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// onAck hands the ACK to the INVITE goroutine blocked in WriteResponse.
func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		return // ACK for a non-2xx is absorbed by the transaction layer
	}
	select {
	case c.ackCh <- req: // late offer: the answer is in this ACK (RFC 3264 §5)
	default:
	}
	if cs := req.CSeq(); cs != nil {
		c.mu.Lock()
		if c.reack != nil && cs.SeqNo == c.reackSeq {
			close(c.reack)
			c.reack = nil
		}
		c.mu.Unlock()
	}
	if err := c.dialog.ReadAck(req, tx); err != nil {
		c.log.Debug("ACK not matched", "err", err)
	}
}

// onBye ends the call from the caller's side (RFC 3261 §15.1.2).
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dialog.ReadBye(req, tx); err != nil {
		c.log.Warn("BYE rejected", "err", err)
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request (CSeq)")
		return
	}
	if c.markEnded(CauseCallerBye, SideCaller) {
		c.log.Info("caller hung up")
	}
	c.cancel(errCallerBye)
}

// onStrayCancel answers a CANCEL that matched no INVITE transaction (RFC 3261 §9.2).
func (s *Server) onStrayCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// onInfo takes DTMF from INFO bodies (RFC 2976, RFC 6086 §4.2).
func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if !isMime(req, "application/dtmf-relay") && !isMime(req, "application/dtmf") {
		s.respond(req, tx, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	d, err := media.ParseDTMFInfo(req.ContentType().Value(), req.Body())
	if err != nil {
		c.log.Info("bad INFO DTMF body", "err", err)
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request (DTMF body)")
		return
	}
	// Answer first: the digit may end the call, and the 200 must not trail the BYE.
	s.respond(req, tx, sip.StatusOK, "OK")
	c.media.InjectDigit(d)
}

// onOptions answers capability queries and keep-alives (RFC 3261 §11.2).
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, sip.StatusOK, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", accepts),
		sip.NewHeader("Server", s.cfg.UserAgent))
}

func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if s.cfg.Register != nil {
		s.cfg.Register(req, tx)
		return
	}
	s.onNoRoute(req, tx)
}

// onNoRoute: 405 must list what we allow (RFC 3261 §21.4.6).
func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, sip.StatusMethodNotAllowed, "Method Not Allowed", sip.NewHeader("Allow", allowed))
}

// onReinvite handles hold, unhold and codec changes (RFC 3264 §8, §8.4).
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		s.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dialog.ReadRequest(req, tx); err != nil {
		// RFC 3261 §14.2: a lower CSeq or an overlapping INVITE gets 500.
		s.respond(req, tx, sip.StatusInternalServerError, "Server Internal Error", sip.NewHeader("Retry-After", "1"))
		return
	}
	c.mu.Lock()
	prev := c.neg
	c.mu.Unlock()
	next := prev
	if len(req.Body()) > 0 {
		if !isMime(req, "application/sdp") {
			s.respond(req, tx, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
			return
		}
		n, err := NegotiateOffer(req.Body(), s.cfg.Codecs)
		if err != nil { // the call goes on with the old session (RFC 3261 §14.2)
			s.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
		next = n
	}
	c.mu.Lock()
	c.neg = next
	c.version++
	c.mu.Unlock()
	body, err := BuildAnswer(c.local(), next)
	if err != nil {
		s.respond(req, tx, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	s.decorate(res, req)
	if err := tx.Respond(res); err != nil {
		c.log.Warn("re-INVITE response", "err", err)
		return
	}
	s.retransmitUntilAck(c, res, req.CSeq().SeqNo)
	if next.Hold != prev.Hold {
		c.log.Info("hold changed", "hold", next.Hold)
		c.media.SetHold(next.Hold)
	}
	if !next.Hold && next.remote() != prev.remote() {
		c.log.Info("media changed", "codec", next.Codec.String(), "remote", next.Remote.String())
		if err := c.media.SetRemote(next.remote()); err != nil {
			c.log.Warn("media update", "err", err)
		}
	}
}

// contact is our Contact for responses on the given transport.
func (s *Server) contact(transport string) *sip.ContactHeader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contactFor(transport)
}

func (s *Server) contactFor(transport string) *sip.ContactHeader {
	t := strings.ToLower(transport)
	if t == "" {
		t = "udp"
	}
	addrs := s.addrsLocked()
	ap, ok := addrs[t]
	if !ok {
		for _, k := range []string{"udp", "tcp", "tls"} {
			if a, ok := addrs[k]; ok {
				ap, t = a, k
				break
			}
		}
	}
	u := sip.Uri{Scheme: "sip", User: "hotline", Host: s.public.String(), Port: int(ap.Port())}
	if t != "udp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", t)
	}
	return &sip.ContactHeader{Address: u}
}

func sourceIP(src string) string {
	host, _, err := net.SplitHostPort(src)
	if err != nil {
		return src
	}
	return host
}

// retransmitUntilAck resends a re-INVITE's 2xx at T1, doubling to T2, until
// its ACK arrives or 64*T1 pass (RFC 3261 §13.3.1.4: the TU, not the
// transaction, retransmits 2xx). The goroutine belongs to the call.
func (s *Server) retransmitUntilAck(c *Call, res *sip.Response, seq uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.reack != nil {
		close(c.reack) // a new INVITE means the previous one was ACKed
	}
	acked := make(chan struct{})
	c.reack, c.reackSeq = acked, seq
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		interval := sip.T1
		t := time.NewTimer(interval)
		defer t.Stop()
		giveUp := time.NewTimer(64 * sip.T1)
		defer giveUp.Stop()
		for {
			select {
			case <-acked:
				return
			case <-c.ctx.Done():
				return
			case <-giveUp.C:
				c.log.Warn("re-INVITE 2xx never ACKed")
				return
			case <-t.C:
				if err := s.ua.TransportLayer().WriteMsg(res); err != nil {
					c.log.Debug("2xx retransmit", "err", err)
				}
				interval = min(2*interval, sip.T2)
				t.Reset(interval)
			}
		}
	}()
}
