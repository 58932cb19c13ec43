package sip

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
)

const (
	allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
	accepts = "application/sdp, application/dtmf-relay, application/dtmf"
)

func (s *Server) routes() {
	s.srv.OnInvite(s.wrap(s.onInvite, true))
	s.srv.OnAck(s.wrap(s.onAck, false))
	s.srv.OnBye(s.wrap(s.onBye, false))
	s.srv.OnCancel(s.wrap(s.onStrayCancel, false))
	s.srv.OnInfo(s.wrap(s.onInfo, false))
	s.srv.OnOptions(s.wrap(s.onOptions, true))
	s.srv.OnRegister(s.wrap(s.onRegister, true))
	s.srv.OnNoRoute(s.wrap(s.onNoRoute, true))
}

// wrap adds panic recovery (sipgo does not recover handler panics) and the
// per-source rate limit on out-of-dialog requests.
func (s *Server) wrap(h sipgo.RequestHandler, limited bool) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in SIP handler", "method", req.Method.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if !req.IsAck() {
					tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil))
				}
			}
		}()
		if limited && s.limiter != nil && !inDialog(req) && !s.limiter.allow(sourceIP(req.Source())) {
			res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Rate Limited", nil)
			res.AppendHeader(sip.NewHeader("Retry-After", "1"))
			tx.Respond(res)
			return
		}
		h(req, tx)
	}
}

func inDialog(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params != nil && to.Params.Has("tag")
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

func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "status", code, "err", err)
	}
}

// reject ends an INVITE that never became a call and publishes call.rejected.
func (s *Server) reject(req *sip.Request, tx sip.ServerTransaction, callID string, err *StatusError, hdrs ...sip.Header) {
	s.log.Info("INVITE rejected", "call_id", callID, "status", err.Code, "reason", err.Error())
	s.respond(req, tx, err.Code, err.Reason, hdrs...)
	s.publish(events.CallRejected, callID, map[string]any{"status": err.Code, "reason": err.Error()})
}

// onInvite runs a call from INVITE to its end on this goroutine (RFC 3261 §13.3).
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if inDialog(req) {
		s.onReinvite(req, tx)
		return
	}
	if err := checkHeaders(req); err != nil {
		s.respond(req, tx, sip.StatusBadRequest, "Bad Request ("+strings.TrimPrefix(err.Error(), ErrBadHeader.Error()+": ")+")")
		return
	}
	callID := cleanLimit(req.CallID().Value())
	called := cleanLimit(req.Recipient.User)
	body := req.Body()
	late := len(body) == 0
	if !late && !isMime(req, "application/sdp") {
		s.reject(req, tx, callID, statusErr(sip.StatusUnsupportedMediaType, "Unsupported Media Type", ErrBadSDP), sip.NewHeader("Accept", "application/sdp"))
		return
	}
	var feature *featureCall
	if s.cfg.FeatureCode != nil && isFeatureCode(called) {
		var ok bool
		if feature, ok = s.authenticateFeature(req, tx, callID, called); !ok {
			return
		}
	}
	if err := s.admit(); err != nil {
		var hdrs []sip.Header
		if errors.Is(err, ErrDraining) {
			hdrs = append(hdrs, s.retryAfter())
		}
		s.reject(req, tx, callID, statusErr(sip.StatusServiceUnavailable, "Service Unavailable", err), hdrs...)
		return
	}
	admitted := true
	defer func() {
		if admitted {
			s.release()
		}
	}()
	if feature == nil && s.cfg.Accept != nil && !s.cfg.Accept(called) {
		s.reject(req, tx, callID, statusErr(sip.StatusNotFound, "Not Found", ErrNotFound))
		return
	}
	var neg Negotiated
	if !late {
		var err error
		if neg, err = NegotiateOffer(body, s.cfg.Codecs); err != nil {
			se := statusErr(sip.StatusBadRequest, "Bad Request (SDP)", err)
			if errors.Is(err, ErrNoCommonCodec) {
				se = statusErr(sip.StatusNotAcceptableHere, "Not Acceptable Here", err)
			}
			s.reject(req, tx, callID, se, sip.NewHeader("Warning", `304 hotline "media type not available"`))
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
	sess, err := media.NewSession(media.SessionConfig{IP: s.mediaIP, Pool: s.cfg.RTP, Logger: log,
		InactivityTimeout: s.cfg.InactivityTimeout, InbandDTMF: inband(s.cfg.InbandDTMF, late, neg)})
	if err != nil {
		log.Error("media session", "err", err)
		s.reject(req, tx, callID, statusErr(sip.StatusServiceUnavailable, "Service Unavailable", err))
		dialog.Close()
		return
	}
	admitted = false // the call owns the reservation now
	c := s.newCall(dialog, sess, callID, called, req, neg)
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

// admit reserves a call slot; it fails while draining or at MaxCalls.
func (s *Server) admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining || s.closed {
		return ErrDraining
	}
	if s.cfg.MaxCalls > 0 && s.reserved >= s.cfg.MaxCalls {
		return ErrBusy
	}
	s.reserved++
	s.callWG.Add(1)
	return nil
}

func (s *Server) release() {
	s.mu.Lock()
	s.reserved--
	s.mu.Unlock()
	s.callWG.Done()
}

func (s *Server) newCall(d *sipgo.DialogServerSession, sess *media.Session, callID, called string, req *sip.Request, neg Negotiated) *Call {
	c := &Call{id: callID, called: called, caller: cleanLimit(req.From().Address.User),
		log: s.log.With("call_id", callID), srv: s, dialog: d, media: sess,
		done: make(chan struct{}), ackCh: make(chan *sip.Request, 1), neg: neg, version: 1, sessID: randUint64()}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	s.mu.Lock()
	s.calls[d.ID] = c
	if s.forced && c.markEnded(CauseShutdown, SideServer) {
		c.cancel(errShutdown)
	}
	s.mu.Unlock()
	s.active.Add(1)
	return c
}

func (s *Server) respondDialog(c *Call, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(c.dialog.InviteRequest, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if code > 100 {
		s.decorate(res, c.dialog.InviteRequest)
	}
	if err := c.dialog.WriteResponse(res); err != nil {
		c.log.Debug("respond failed", "status", code, "err", err)
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
