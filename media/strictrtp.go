package media

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Strict RTP: which sources a session takes media from, and when it sends.
// A call's RTP port is guessable (ports are handed out in sequence), so
// anyone can send to it; and the SDP address is whatever the INVITE says, so
// without care anyone can aim a call's audio at a third party. The rules
// (docs/security.md "RTP"), in the spirit of Asterisk's strictrtp learning
// and RFC 7675's consent to receive:
//
//   - RTP is taken only from the SDP address's IP or the signalling source's
//     IP (Remote.Signal: behind NAT the SDP holds a private address and RTP
//     comes from the public one the SIP came from). Anything else is
//     dropped and counted (Stats.PacketsRejected): no audio, no digits.
//   - The first packet from one of those IPs latches the send address
//     (symmetric RTP, RFC 4961). For LearnWindow after Start or SetRemote
//     the latch may move to another port of those IPs after relatchPackets
//     packets in sequence (a phone that changed its source port on a
//     re-INVITE); those packets are on probation and dropped. After the
//     window the latch is locked.
//   - Media is sent before the far end has been heard only when the SDP
//     address is on the signalling IP, and then for UnansweredSendLimit at
//     most (Stats.PacketsWithheld after that). Otherwise the session waits,
//     as if on hold, for the far end's first packet: an INVITE naming a
//     third party's address makes Hotline send nothing there.
const (
	// LearnWindow is how long after Start or SetRemote the latch may
	// still move between ports of the expected IPs. Asterisk learns for
	// 5 s after the remote address is set, to let re-INVITE chains settle.
	LearnWindow = 5 * time.Second
	// UnansweredSendLimit is how long media is sent to an address that has
	// not answered with a single RTP packet; after it packets are dropped
	// (as if lost) until the far end is heard. The inactivity timeout still
	// ends the call.
	UnansweredSendLimit = 5 * time.Second
)

// relatchPackets is how many packets with consecutive sequence numbers a
// new source (another port of an expected IP) must send, within
// LearnWindow, before the latch moves to it: one stray or spoofed packet
// cannot steal the call's audio.
const relatchPackets = 3

// negotiation is one Remote in force (from Start or a SetRemote) with the
// source state learned under it. A SetRemote replaces it as a whole, so a
// packet accepted under the old rules can never latch the new one. The
// reader and the sender load it once per packet.
type negotiation struct {
	Remote
	trusted    bool          // Addr is on the signalling IP: send before the far end is heard
	learnUntil time.Duration // since Session.epoch: the latch may move until then
	grantUntil time.Duration // since Session.epoch: trusted sends unheard until then

	dest    atomic.Pointer[netip.AddrPort] // where RTP goes: Addr, then the latched source
	latched atomic.Bool                    // written by the reader only
	heard   atomic.Bool                    // an RTP packet was accepted (reader only)
}

func (s *Session) negotiate(r Remote) *negotiation {
	now := time.Since(s.epoch)
	n := &negotiation{Remote: r, trusted: r.Signal.IsValid() && r.Addr.Addr() == r.Signal,
		learnUntil: now + LearnWindow, grantUntil: now + UnansweredSendLimit}
	addr := r.Addr
	n.dest.Store(&addr)
	return n
}

// expected reports whether RTP from ip may be taken at all.
func (n *negotiation) expected(ip netip.Addr) bool {
	return ip == n.Addr.Addr() || ip == n.Signal
}

// waiting reports whether sending waits for the far end's first packet:
// its SDP address is not on the signalling IP (reflection guard).
func (n *negotiation) waiting() bool { return !n.trusted && !n.heard.Load() }

// cleared reports whether a packet may leave now: the far end has been
// heard, or it is trusted and UnansweredSendLimit has not run out.
func (n *negotiation) cleared(now time.Duration) bool {
	return n.heard.Load() || (n.trusted && now < n.grantUntil)
}

// latch applies the source rules to a packet of a negotiated payload type
// from src and reports whether it is accepted; a rejected packet is counted
// and must not be used in any way. Called by the reader only.
func (s *Session) latch(rs *recvState, n *negotiation, src netip.AddrPort) bool {
	if ip := src.Addr(); ip.Is4In6() {
		src = netip.AddrPortFrom(ip.Unmap(), src.Port())
	}
	cur := n.dest.Load()
	if *cur == src {
		if !n.latched.Load() {
			n.latched.Store(true)
			s.logLatch(n, src, *cur, 0)
		}
		return true
	}
	if !n.expected(src.Addr()) {
		s.reject(n, src, "not from the SDP or signalling address")
		return false
	}
	if !n.latched.Load() {
		s.moveLatch(n, src, *cur)
		return true
	}
	if time.Since(s.epoch) >= n.learnUntil {
		s.reject(n, src, "latch locked")
		return false
	}
	seq := rs.hdr.SequenceNumber
	if src == rs.cand && seq == rs.candSeq+1 {
		rs.candCount++
	} else {
		rs.cand, rs.candCount = src, 1
	}
	rs.candSeq = seq
	if rs.candCount < relatchPackets {
		s.reject(n, src, "on probation")
		return false
	}
	rs.candCount = 0
	s.moveLatch(n, src, *cur)
	return true
}

// moveLatch sends to src from now on. It allocates, but only when the
// latch moves.
func (s *Session) moveLatch(n *negotiation, src, prev netip.AddrPort) {
	addr := src
	n.dest.Store(&addr)
	var k uint64
	if n.latched.Swap(true) {
		k = s.st.relatches.Add(1)
	}
	s.logLatch(n, src, prev, k)
}

// logLatch logs the first latch of a negotiation and re-latches 1, 2, 4,
// 8, ...: a flapping source must not flood the log.
func (s *Session) logLatch(n *negotiation, src, prev netip.AddrPort, relatches uint64) {
	if relatches&(relatches-1) == 0 {
		s.log.Info("RTP latched", "from", src, "previous", prev, "relatches", relatches, "signal", n.Signal)
	}
}

// reject counts a packet refused for its source and logs the 1st, 2nd,
// 4th, 8th, ... of the session: a spraying attacker costs a few lines.
func (s *Session) reject(n *negotiation, src netip.AddrPort, why string) {
	if k := s.st.rejected.Add(1); k&(k-1) == 0 {
		s.log.Warn("RTP dropped: unexpected source", "from", src, "reason", why,
			"latched", *n.dest.Load(), "sdp", n.Addr, "signal", n.Signal, "rejected", k)
	}
}
