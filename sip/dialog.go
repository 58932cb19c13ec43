package sip

import (
	"errors"
	"net"
	"net/netip"
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
	c.mu.Lock()
	ackCh := c.ackCh // nil but while a late offer's answer is awaited
	c.mu.Unlock()
	select {
	case ackCh <- req: // late offer: the answer is in this ACK (RFC 3264 §5)
	default:
	}
	// Confirm the dialog before waking the waiter: it may send BYE at once.
	if err := c.dialog.ReadAck(req, tx); err != nil {
		c.log.Debug("ACK not matched", "err", err)
	}
	if cs := req.CSeq(); cs != nil {
		c.mu.Lock()
		if c.reack != nil && cs.SeqNo == c.reackSeq {
			close(c.reack)
			c.reack = nil
		}
		c.mu.Unlock()
	}
}

// onBye ends the call from the caller's side (RFC 3261 §15.1.2).
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		s.respondError(req, tx, ErrNoDialog)
		return
	}
	// The 200 goes out inside ReadBye: the caller may reuse the Call-ID
	// for a new call the moment it has it (see callid.go).
	c.setByeReceived(true)
	if err := c.dialog.ReadBye(req, tx); err != nil {
		c.setByeReceived(false)
		c.log.Warn("BYE rejected", "err", err)
		s.respondError(req, tx, badRequest("CSeq", err))
		return
	}
	if c.markEnded(CauseCallerBye, SideRemote) {
		c.log.Info("caller hung up")
	}
	c.cancel(errCallerBye)
}

// onStrayCancel answers a CANCEL that matched no INVITE transaction (RFC 3261 §9.2).
func (s *Server) onStrayCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respondError(req, tx, ErrNoDialog)
}

// onInfo takes DTMF from INFO bodies (RFC 2976, RFC 6086 §4.2).
func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		s.respondError(req, tx, ErrNoDialog)
		return
	}
	d, err := infoDigit(req)
	if err != nil {
		c.log.Info("INFO refused", "err", err)
		s.respondError(req, tx, err)
		return
	}
	// Answer first: the digit may end the call, and the 200 must not trail the BYE.
	s.respond(req, tx, sip.StatusOK, "OK")
	c.media.InjectDigit(d)
}

// infoDigit reads the key an INFO request carries (application/dtmf-relay
// or application/dtmf); the error is the response that refuses it (415 or
// 400). Inbound and outbound calls both take keys this way.
func infoDigit(req *sip.Request) (media.Digit, error) {
	if !isMime(req, "application/dtmf-relay") && !isMime(req, "application/dtmf") {
		return media.Digit{}, unsupportedBody("application/dtmf-relay, application/dtmf")
	}
	d, err := media.ParseDTMFInfo(req.ContentType().Value(), req.Body())
	if err != nil {
		return media.Digit{}, badRequest("DTMF body", err)
	}
	return d, nil
}

// onReinvite handles hold, unhold and codec changes (RFC 3264 §8, §8.4).
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		s.respondError(req, tx, ErrNoDialog)
		return
	}
	if err := c.dialog.ReadRequest(req, tx); err != nil {
		// RFC 3261 §14.2: a lower CSeq or an overlapping INVITE gets 500.
		s.respondError(req, tx, statusErr(sip.StatusInternalServerError, "Server Internal Error", err, sip.NewHeader("Retry-After", "1")))
		return
	}
	c.mu.Lock()
	prev := c.neg
	c.mu.Unlock()
	next := prev
	if len(req.Body()) > 0 {
		if !isMime(req, "application/sdp") {
			s.respondError(req, tx, unsupportedBody("application/sdp"))
			return
		}
		n, err := NegotiateOffer(req.Body(), s.cfg.Codecs)
		if err != nil { // whatever is wrong with it: 488, the call goes on with the old session (RFC 3261 §14.2)
			s.respondError(req, tx, statusErr(sip.StatusNotAcceptableHere, "Not Acceptable Here", err))
			return
		}
		n.Signal = signalIP(req.Source()) // a roaming phone re-INVITEs from its new IP
		next = n
	}
	// The new media address is applied after the 200 (below); whether the
	// media layer will take it is settled before we answer, so a refusal
	// is a 488 and the call keeps its old media, not a 200 whose media
	// never flows. Resuming from hold applies the address the held offer
	// named (it was not applied while held).
	apply := !next.Hold && (next.remote() != prev.remote() || prev.Hold)
	if apply {
		if err := c.media.PrepareRemote(next.remote()); err != nil {
			c.log.Warn("re-INVITE refused: its media address cannot be used", "remote", next.Remote.String(),
				"signal", next.Signal.String(), "err", err)
			s.respondError(req, tx, refuseRemote(err))
			return
		}
	}
	c.mu.Lock()
	c.neg = next
	c.version++
	c.mu.Unlock()
	body, err := BuildAnswer(c.local(), next)
	if err != nil {
		s.respondError(req, tx, err)
		return
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	s.decorate(res, req)
	s.retransmitUntilAck(c, tx, res, req.CSeq().SeqNo)
	if next.Hold != prev.Hold {
		c.log.Info("hold changed", "hold", next.Hold)
		c.media.SetHold(next.Hold)
	}
	if apply {
		c.log.Info("media changed", "codec", next.Codec.String(), "remote", next.Remote.String())
		if err := c.media.SetRemote(next.remote()); err != nil {
			c.log.Warn("media update", "err", err)
		}
	}
}

// refuseRemote is the 488 for a re-offer whose media the session refused
// (Session.PrepareRemote). RFC 3261 §14.2: an unacceptable new session
// description gets 488 with a Warning, and the old session goes on. Not
// 500 with Retry-After: that is for an INVITE overlapping another, which
// a retry after the other ends can fix; a retry of this offer fails the
// same way as long as the other call holds the address (or for ever, for
// an address that may not share).
func refuseRemote(err error) *StatusError {
	text := "media address not usable"
	switch {
	case errors.Is(err, media.ErrSharedAddrInUse):
		text = "RTP address in use by another call on the shared port"
	case errors.Is(err, media.ErrSharedIneligible):
		text = "RTP address may not use the shared port"
	}
	return statusErr(sip.StatusNotAcceptableHere, "Not Acceptable Here", err,
		sip.NewHeader("Warning", `399 hotline "`+text+`"`))
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

// signalIP is the IP of a SIP message's source ("ip:port", as sipgo's
// transports record it): where the SDP came from, which strict RTP accepts
// media from (media.Remote.Signal). Zero when unknown: media then waits to
// hear the far end before sending.
func signalIP(src string) netip.Addr {
	ip, err := netip.ParseAddr(sourceIP(src))
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// retransmitUntilAck sends a re-INVITE's 2xx and retransmits it until its
// ACK (awaitAck) on a goroutine that belongs to the call.
func (s *Server) retransmitUntilAck(c *Call, tx sip.ServerTransaction, res *sip.Response, seq uint32) {
	c.mu.Lock()
	if c.closing { // finish is waiting for bg: add nothing
		c.mu.Unlock()
		return
	}
	acked := c.expectAckLocked(seq)
	c.bg.Add(1)
	c.mu.Unlock()
	start := time.Now()
	if err := tx.Respond(res); err != nil {
		c.bg.Done()
		c.log.Warn("re-INVITE response", "err", err)
		return
	}
	go func() {
		defer c.bg.Done()
		err := awaitAck(c.ctx, tx, res, start, acked, func() time.Duration { return 64 * sip.T1 })
		if errors.Is(err, errNoAck) {
			c.log.Warn("re-INVITE 2xx never ACKed")
		} else if err != nil && c.ctx.Err() == nil {
			c.log.Warn("re-INVITE response", "err", err)
		}
	}()
}
