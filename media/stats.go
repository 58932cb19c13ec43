package media

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Stats are the per-call media counters: they turn "the audio is choppy"
// into numbers (exported as metrics and written to the call record).
type Stats struct {
	PacketsSent     uint64
	BytesSent       uint64 // RTP header + payload
	PacketsReceived uint64 // accepted RTP packets (negotiated payload types)
	BytesReceived   uint64
	PacketsIgnored  uint64 // not RTP, an unnegotiated payload type, a bad telephone-event, a failed read
	// PacketsRejected counts RTP of a negotiated payload type dropped for
	// its source (strictrtp.go): not the SDP address's IP nor the
	// signalling IP, a port on probation, or any other port once the latch
	// is locked. Nothing of them reaches the audio sink or the digits.
	PacketsRejected uint64
	// PacketsWithheld counts packets not sent because the far end had not
	// answered with any RTP within UnansweredSendLimit (reflection guard).
	PacketsWithheld uint64

	// Lost counts packets missing from sequence-number gaps (RFC 3550 §6.4.1
	// cumulative lost; a late packet that fills a gap is subtracted).
	Lost uint64
	// Jitter is the RFC 3550 §6.4.1 / A.8 interarrival jitter estimate.
	Jitter time.Duration

	LateFrames uint64 // frames sent more than half a ptime after their slot
	CatchUps   uint64 // times the sender skipped frames instead of bursting
	LiveDrops  uint64 // live (WriteAudio) samples dropped to bound delay
	// LiveDirect counts live frames sent at once by WriteAudio (a bridge
	// with nothing else playing) rather than on a paced frame slot.
	LiveDirect uint64

	DigitsRFC4733   uint64
	DigitsINFO      uint64
	DigitsInband    uint64
	DigitsDuplicate uint64 // same key from a second source, dropped
	DigitsDropped   uint64 // Digits channel full, dropped

	// RemoteAddr is where RTP is sent: the SDP address until RTP arrives,
	// then the latched source (symmetric RTP). Latched is per negotiation
	// (a SetRemote learns again).
	RemoteAddr netip.AddrPort
	Latched    bool
	Relatches  uint64 // times an established latch moved
}

// counters are updated by the session's RTP reader and the pacer (and
// WriteAudio's immediate sends) and read by Stats at any time.
type counters struct {
	pktSent, bytesSent, pktRecv, bytesRecv, ignored  atomic.Uint64
	lost, lateFrames, catchUps, liveDrops, relatches atomic.Uint64
	liveDirect, rejected, withheld                   atomic.Uint64
	jitterNs                                         atomic.Int64
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	st := Stats{
		PacketsSent: s.st.pktSent.Load(), BytesSent: s.st.bytesSent.Load(),
		PacketsReceived: s.st.pktRecv.Load(), BytesReceived: s.st.bytesRecv.Load(),
		PacketsIgnored: s.st.ignored.Load(), Lost: s.st.lost.Load(),
		Jitter:     time.Duration(s.st.jitterNs.Load()),
		LateFrames: s.st.lateFrames.Load(), CatchUps: s.st.catchUps.Load(),
		LiveDrops: s.st.liveDrops.Load(), LiveDirect: s.st.liveDirect.Load(),
		Relatches:       s.st.relatches.Load(),
		PacketsRejected: s.st.rejected.Load(), PacketsWithheld: s.st.withheld.Load(),
	}
	if n := s.remote.Load(); n != nil {
		st.RemoteAddr, st.Latched = *n.dest.Load(), n.latched.Load()
	}
	s.digits.stats(&st)
	return st
}
