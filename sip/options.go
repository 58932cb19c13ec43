package sip

import "github.com/emiago/sipgo/sip"

// What this user agent supports, as OPTIONS, 405 and our responses' Allow
// advertise it (RFC 3261 §11.2, §20.5, §20.1).
const (
	allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
	accepts = "application/sdp, application/dtmf-relay, application/dtmf"
)

// onOptions answers capability queries and keep-alives (RFC 3261 §11.2).
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, sip.StatusOK, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", accepts),
		sip.NewHeader("Server", s.cfg.UserAgent))
}

// onNoRoute: 405 must list what we allow (RFC 3261 §21.4.6).
func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	s.respondError(req, tx, ErrMethodNotAllowed)
}
