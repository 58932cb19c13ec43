package sip

import (
	"errors"
	"hash/fnv"
	"net"
	"net/netip"
	"strconv"

	"github.com/emiago/sipgo/sip"
)

// rejection is a request the edge refuses before any handler (and, on UDP,
// before sipgo) sees it.
type rejection struct {
	err    error  // the refusal (statusOf)
	edge   string // counter
	silent bool   // never answered (ACK)
}

// screen decides whether req from src may go on (nil) or is refused: the
// per-source and total rate limits on out-of-dialog requests (a To tag
// only counts as in-dialog when the dialog exists, issue 8.8), and, for a
// new INVITE, the set-up slot (setup.go). On UDP it runs in the read path,
// before sipgo; on TCP and TLS (where sipgo frames the stream) in wrap.
func (s *Server) screen(req *sip.Request, src netip.AddrPort) *rejection {
	ip := src.Addr().Unmap()
	trusted := s.limits.trusted(ip)
	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	tagged := hasToTag(req)
	switch {
	case req.IsAck():
		// An ACK is never answered. It belongs to a live dialog, or to a
		// non-2xx response sipgo is retransmitting; one from a source that
		// is over its rate can only be for a rejection we sent statelessly.
		if trusted || s.limiter == nil || s.lookup(req) != nil || !s.limiter.exhausted(ip) {
			return nil
		}
		return &rejection{edge: EdgeRateLimited, silent: true}
	case tagged && s.lookup(req) != nil:
		return nil
	case !tagged && (req.IsCancel() || req.IsInvite()) && callID != "" && s.settingUp(callID):
		return nil // CANCEL or retransmission of a call being set up
	}
	if !trusted && s.limiter != nil && !s.limiter.allow(ip) {
		return &rejection{err: ErrRateLimited, edge: EdgeRateLimited}
	}
	if s.total != nil && !s.total.Allow() {
		return &rejection{err: ErrRateLimited, edge: EdgeRateLimitedTotal}
	}
	if req.IsInvite() && !tagged && callID != "" && req.CSeq() != nil {
		if err := s.reserve(callID, ip); err != nil {
			return &rejection{err: err, edge: setupEdge(err)}
		}
	}
	return nil
}

// setupEdge is the edge counter of an INVITE refused a set-up slot.
func setupEdge(err error) string {
	var se *sourceError
	switch {
	case errors.Is(err, ErrDraining):
		return EdgeDraining
	case errors.Is(err, ErrBusy):
		return EdgeBusy
	case errors.As(err, &se):
		return EdgeSetupPerSource
	default:
		return EdgeSetupTotal
	}
}

// reply builds the response for a rejection, with a To tag derived from the
// request so that retransmissions get the same one (RFC 3261 §8.2.7:
// stateless UAS).
func (r *rejection) response(req *sip.Request) *sip.Response {
	if to := req.To(); to != nil && !to.Params.Has("tag") {
		h := fnv.New64a()
		h.Write([]byte(req.CallID().Value()))
		if v := req.Via(); v != nil {
			b, _ := v.Params.Get("branch")
			h.Write([]byte(b))
		}
		to.Params.Add("tag", strconv.FormatUint(h.Sum64(), 36))
	}
	return errorResponse(req, r.err)
}

// responseAddr is where a stateless UDP response goes: the source IP, and
// the source port if the request asked for rport (RFC 3581 §4), else the
// Via port (RFC 3261 §18.2.2). Never the Via host: that would let a forged
// request aim our response at a third party.
func responseAddr(req *sip.Request, src netip.AddrPort) *net.UDPAddr {
	port := src.Port()
	if v := req.Via(); v != nil {
		if rp, ok := v.Params.Get("rport"); !(ok && rp == "") && v.Port > 0 {
			port = uint16(v.Port)
		}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(src.Addr(), port))
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params != nil && to.Params.Has("tag")
}
