package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
)

func (s *Server) routes() {
	s.srv.OnInvite(s.wrap(s.onInvite))
	s.srv.OnAck(s.wrap(s.onAck))
	s.srv.OnBye(s.wrap(s.onBye))
	s.srv.OnCancel(s.wrap(s.onStrayCancel))
	s.srv.OnInfo(s.wrap(s.onInfo))
	s.srv.OnOptions(s.wrap(s.onOptions))
	s.srv.OnRegister(s.wrap(s.onRegister))
	s.srv.OnNoRoute(s.wrap(s.onNoRoute))
}

// wrap adds panic recovery (sipgo does not recover handler panics), the
// edge's screen for requests that did not pass the UDP guard (TCP, TLS:
// sipgo frames those streams, so the refusal goes through the transaction,
// which is terminated at once), and the RFC 3261 checks every request gets.
func (s *Server) wrap(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.served.Add(1)
		tx = countingTx{ServerTransaction: tx, method: req.Method.String(), counts: &s.responses}
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in SIP handler", "call_id", callIDOf(req), "method", req.Method.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if !req.IsAck() {
					s.respondError(req, tx, errHandlerPanic)
				}
			}
		}()
		if req.Transport() != "UDP" {
			if src, err := netip.ParseAddrPort(req.Source()); err == nil {
				if rej := s.screen(req, src); rej != nil {
					s.refuse(req, src, rej, func(res *sip.Response) error {
						defer tx.Terminate() // no state kept for a refusal
						return tx.Respond(res)
					})
					return
				}
			}
		}
		if req.IsAck() {
			h(req, tx)
			return
		}
		if err := validate(req); err != nil {
			s.respondError(req, tx, err)
			return
		}
		h(req, tx)
	}
}

// fromTag is the From tag (RFC 3261 §8.1.1.3), CR/LF/NUL stripped.
func fromTag(req *sip.Request) string {
	tag, _ := req.From().Params.Get("tag")
	return cleanLimit(tag)
}

// checkHeaders names the first missing mandatory header (RFC 3261 §8.1.1).
func checkHeaders(req *sip.Request) error {
	switch {
	case req.From() == nil:
		return fmt.Errorf("%w: missing From", ErrBadHeader)
	case req.To() == nil:
		return fmt.Errorf("%w: missing To", ErrBadHeader)
	case req.CallID() == nil || strings.TrimSpace(req.CallID().Value()) == "":
		return fmt.Errorf("%w: missing Call-ID", ErrBadHeader)
	case req.CSeq() == nil:
		return fmt.Errorf("%w: missing CSeq", ErrBadHeader)
	case req.IsInvite() && req.Contact() == nil:
		return fmt.Errorf("%w: missing Contact", ErrBadHeader)
	}
	return nil
}

// errHandlerPanic is what a handler that panicked is answered with (500).
var errHandlerPanic = errors.New("sip: handler panicked")

// respond sends a success (or provisional) response; refusals go through
// respondError.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.send(tx, res)
}

// respondError refuses req with the response err stands for (errorResponse).
func (s *Server) respondError(req *sip.Request, tx sip.ServerTransaction, err error) {
	s.send(tx, errorResponse(req, err))
}

func (s *Server) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "status", res.StatusCode, "err", err)
	}
}

// reject ends an INVITE that never became a call with the response err
// stands for, and publishes call.rejected.
func (s *Server) reject(req *sip.Request, tx sip.ServerTransaction, callID string, err error) {
	se := statusOf(err)
	s.log.Info("INVITE rejected", "call_id", callID, "status", se.Code, "reason", se.Error())
	s.respondError(req, tx, se)
	s.publish(events.CallRejected, callID, CallReject{Status: se.Code, Reason: se.Error()})
}

// onInvite sets a call up on this goroutine and answers it (RFC 3261 §13.3);
// run then serves it on a goroutine of its own.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		s.onReinvite(req, tx)
		return
	}
	if err := checkHeaders(req); err != nil {
		s.respondError(req, tx, err)
		return
	}
	callID := cleanLimit(req.CallID().Value())
	claim, se := s.claimCallID(req, callID)
	if se != nil {
		s.log.Warn("INVITE refused: its Call-ID belongs to another call", "call_id", callID,
			"from_tag", fromTag(req), "status", se.Code)
		s.respondError(req, tx, se)
		return
	}
	claimed := true
	defer func() {
		if claimed {
			s.releaseCallID(callID, claim)
		}
	}()
	called := cleanLimit(req.Recipient.User)
	body := req.Body()
	late := len(body) == 0
	if !late && !isMime(req, "application/sdp") {
		s.reject(req, tx, callID, unsupportedBody("application/sdp"))
		return
	}
	var feature *featureCall
	if s.cfg.FeatureCode != nil && isFeatureCode(called) {
		var ok bool
		if feature, ok = s.authenticateFeature(req, tx, callID, called); !ok {
			return
		}
	}
	// The set-up slot: reserved by the UDP guard or by wrap (screen), or here
	// for a request that reached us another way.
	src, _ := netip.ParseAddrPort(req.Source())
	slot, err := s.admit(req.CallID().Value(), src.Addr().Unmap())
	if err != nil {
		s.edge.add(setupEdge(err))
		s.reject(req, tx, callID, err)
		return
	}
	admitted := true
	defer func() {
		if admitted {
			s.release(slot)
		}
	}()
	if feature == nil && s.cfg.Accept != nil && !s.cfg.Accept(called) {
		s.reject(req, tx, callID, ErrNotFound)
		return
	}
	var neg Negotiated
	if !late {
		var err error
		if neg, err = NegotiateOffer(body, s.cfg.Codecs); err != nil {
			s.reject(req, tx, callID, err) // 488 or 400, with a Warning
			return
		}
	}
	if feature != nil && !s.applyFeature(req, tx, callID, feature) {
		return
	}
	dialog, err := s.dua.ReadInvite(req, tx)
	if err != nil {
		s.reject(req, tx, callID, statusErr(sip.StatusBadRequest, "Bad Request", err))
		return
	}
	log := s.log.With("call_id", callID)
	mcfg := media.SessionConfig{IP: s.mediaIP, Pool: s.cfg.RTP, Logger: log,
		InactivityTimeout: s.cfg.InactivityTimeout, InbandDTMF: inband(s.cfg.InbandDTMF, late, neg)}
	if !late { // the offer's address may put the call on a shared RTP port
		mcfg.Peer, mcfg.PeerSignal = neg.Remote, src.Addr().Unmap()
	}
	sess, err := media.NewSession(mcfg)
	if err != nil {
		log.Error("media session", "err", err)
		s.reject(req, tx, callID, statusErr(sip.StatusServiceUnavailable, "Service Unavailable", err))
		dialog.Close()
		return
	}
	admitted, claimed = false, false // the call owns the reservation and the Call-ID now
	c := s.newCall(dialog, sess, log, callID, called, req, neg, claim, late)
	c.slot = slot
	c.feature = feature
	s.run(c, tx, late)
}

// inband decides Goertzel detection: "auto" runs it when the offer carries
// no telephone-event (RFC 4733) or is not known yet (late offer).
func inband(mode string, late bool, n Negotiated) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return late || n.DTMFPT == 0
}

func isMime(req *sip.Request, want string) bool {
	ct := req.ContentType()
	if ct == nil {
		return false
	}
	m, _, _ := strings.Cut(ct.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(m), want)
}

// newCall takes log, the call's logger (call_id attached), from onInvite,
// which made it for the media session: one slog handler clone per call, not two.
func (s *Server) newCall(d *sipgo.DialogServerSession, sess *media.Session, log *slog.Logger, callID, called string, req *sip.Request, neg Negotiated,
	claim *callIDClaim, late bool) *Call {
	c := &Call{id: callID, fromTag: fromTag(req), called: called, caller: cleanLimit(req.From().Address.User),
		log: log, srv: s, dialog: d, media: sess,
		done: make(chan struct{}), neg: neg, version: 1, sessID: randUint64()}
	if late {
		c.ackCh = make(chan *sip.Request, 1)
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	s.mu.Lock()
	s.calls[d.ID] = c
	claim.call = c
	if s.forced && c.markEnded(CauseShutdown, SideLocal) {
		c.cancel(errShutdown)
	}
	s.mu.Unlock()
	s.active.Add(1)
	return c
}

// respondDialog sends a provisional response on the call's INVITE.
func (s *Server) respondDialog(c *Call, code int, reason string) {
	s.writeDialog(c, sip.NewResponseFromRequest(c.dialog.InviteRequest, code, reason, nil))
}

// refuseDialog ends the call's INVITE with the response err stands for.
func (s *Server) refuseDialog(c *Call, err error) {
	s.writeDialog(c, errorResponse(c.dialog.InviteRequest, err))
}

func (s *Server) writeDialog(c *Call, res *sip.Response) {
	if res.StatusCode > 100 {
		s.decorate(res, c.dialog.InviteRequest)
	}
	if err := c.dialog.WriteResponse(res); err != nil {
		c.log.Debug("respond failed", "status", res.StatusCode, "err", err)
	}
}

// decorate adds our Contact (for the request's transport), Allow and Server.
func (s *Server) decorate(res *sip.Response, req *sip.Request) {
	if res.Contact() == nil {
		res.AppendHeader(s.contact(req.Transport()))
	}
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Server", s.cfg.UserAgent))
}
