package sip

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/events"
)

// udpGuard is the UDP socket as sipgo sees it. Each datagram is parsed and
// screened here, on sipgo's read goroutine, before sipgo adds its source to
// the connection pool or creates a transaction: garbage is dropped and
// counted (issue 8.6), and refused requests get a stateless 503 (within the
// source's reply budget) or nothing (issue 8.5, 8.8). What passes is handed
// to sipgo unchanged. Parsing twice costs a few microseconds per datagram
// (BenchmarkUDPGuard); a refused flood then costs nothing more.
type udpGuard struct {
	net.PacketConn
	s      *Server
	parser *sip.Parser // only used on the one read goroutine
}

func newUDPGuard(pc net.PacketConn, s *Server) *udpGuard {
	return &udpGuard{PacketConn: pc, s: s, parser: sip.NewParser()}
}

// ReadFrom returns the next datagram that passed the screen.
func (g *udpGuard) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || g.pass(b[:n], addr) {
			return n, addr, err
		}
	}
}

func (g *udpGuard) pass(data []byte, addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return true
	}
	src := ua.AddrPort()
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if len(bytes.Trim(data, "\r\n\x00 \t")) == 0 {
		return false // keep-alive (RFC 5626 §4.4.1 uses STUN on UDP; CRLF needs no answer)
	}
	msg, err := g.parser.ParseSIP(data)
	if err != nil {
		g.s.edge.add(EdgeMalformed)
		g.s.edgeLog.Info("dropped malformed datagram", "source", src.String(), "bytes", len(data), "err", err)
		return false
	}
	s := g.s
	switch m := msg.(type) {
	case *sip.Response:
		// Answers to our BYEs. Unsolicited ones from a source over its rate
		// are dropped like its requests.
		if s.limiter != nil && !s.limits.trusted(src.Addr()) && !s.limiter.allow(src.Addr()) {
			s.edge.add(EdgeRateLimited)
			s.edge.add(EdgeDropped)
			return false
		}
		return true
	case *sip.Request:
		m.SetSource(src.String())
		m.SetTransport("UDP")
		rej := s.screen(m, src)
		if rej == nil {
			return true
		}
		s.refuse(m, src, rej, func(res *sip.Response) error {
			_, err := g.PacketConn.WriteTo([]byte(res.String()), responseAddr(m, src))
			return err
		})
		return false
	}
	return true
}

// refuse counts a rejection, logs it (rate-limited) and sends its response
// with send, unless the source has used its reply budget.
func (s *Server) refuse(req *sip.Request, src netip.AddrPort, rej *rejection, send func(*sip.Response) error) {
	s.edge.add(rej.edge)
	if req.IsInvite() && (rej.edge == EdgeBusy || rej.edge == EdgeDraining) {
		// Capacity and shutdown refusals are part of the call record
		// (hotline_calls_rejected_total); floods are counted as edge events only.
		callID := ""
		if h := req.CallID(); h != nil {
			callID = cleanLimit(h.Value())
		}
		s.publish(events.CallRejected, callID, CallReject{Status: statusOf(rej.err).Code, Reason: rej.edge})
	}
	s.edgeLog.Info("request refused", "reason", rej.edge, "method", req.Method.String(), "source", src.String(),
		"transport", req.Transport())
	if rej.silent {
		return
	}
	if s.limiter != nil && !s.limits.trusted(src.Addr()) && !s.limiter.reply(src.Addr()) {
		s.edge.add(EdgeDropped)
		return
	}
	s.edge.add(EdgeAnswered)
	if err := send(rej.response(req)); err != nil {
		s.log.Debug("stateless response failed", "err", err)
	}
}
