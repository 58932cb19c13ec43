package sip

import "github.com/emiago/sipgo/sip"

// onRegister hands REGISTER to the registrar (ServerConfig.Register); a
// server without one answers 405 like any method it does not serve.
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if s.cfg.Register != nil {
		s.cfg.Register(req, tx)
		return
	}
	s.onNoRoute(req, tx)
}
