package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtp"
)

// maxDatagram is the largest datagram we read; RTP over UDP on Ethernet
// fits in it, and G.711 at 120 ms is 972 bytes.
const maxDatagram = 1500

// maxSeqJump: a forward sequence jump beyond this is treated as a restart
// of the far end's stream rather than as loss (RFC 3550 A.1 MAX_DROPOUT).
const maxSeqJump = 3000

// parseRTP checks an RTP packet (RFC 3550 §5.1) and returns its payload,
// aliasing b, with padding removed.
func parseRTP(b []byte, h *rtp.Header) ([]byte, error) {
	n, err := h.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadRTP, err)
	}
	if h.Version != 2 {
		return nil, fmt.Errorf("%w: version %d, need 2", ErrBadRTP, h.Version)
	}
	end := len(b)
	if h.Padding {
		// RFC 3550 §5.1: the last octet counts the padding, itself included.
		pad := int(b[end-1])
		if pad == 0 || n+pad > end {
			return nil, fmt.Errorf("%w: padding %d with %d payload bytes", ErrBadRTP, pad, end-n)
		}
		end -= pad
	}
	return b[n:end], nil
}

// recvState is owned by the session's reader: its poller (under the
// registration's lock) or its readLoop goroutine.
type recvState struct {
	hdr     rtp.Header
	pcm     []int16
	events  eventReceiver
	evOut   []eventDigit
	det     *dtmfDetector
	detOut  []detected
	haveSeq bool
	ssrc    uint32
	maxSeq  uint16
	// RFC 3550 A.8 jitter, in timestamp units.
	haveTransit bool
	transit     int32
	jitter      float64
	warnedPT    bool
	// re-latch probation under neg (see latch)
	neg       *negotiation
	cand      netip.AddrPort
	candSeq   uint16
	candCount int
}

func (s *Session) newRecvState() *recvState {
	rs := &recvState{}
	if s.cfg.InbandDTMF {
		rs.det = newDTMFDetector()
	}
	return rs
}

// readLoop is the reader goroutine of a session whose conn is not a real
// socket (startReading); real sockets are read by the pollers.
func (s *Session) readLoop() {
	defer s.wg.Done()
	rs := s.newRecvState()
	buf := make([]byte, maxDatagram)
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-s.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient errors (ICMP-induced, buffer) do not end the call;
			// the inactivity timeout does if the far end is really gone.
			s.st.ignored.Add(1)
			continue
		}
		s.handlePacket(rs, buf[:n], src)
	}
}

// handlePacket processes one datagram. It never panics on any input
// (FuzzRTPInput).
func (s *Session) handlePacket(rs *recvState, b []byte, src netip.AddrPort) {
	r := s.remote.Load()
	payload, err := parseRTP(b, &rs.hdr)
	if err != nil || r == nil {
		s.st.ignored.Add(1)
		return
	}
	if rs.neg != r { // a SetRemote: probation starts over
		rs.neg, rs.candCount = r, 0
	}
	pt := rs.hdr.PayloadType
	isEvent := r.DTMFPayloadType != 0 && pt == r.DTMFPayloadType
	if pt != r.PayloadType && !isEvent {
		// Comfort noise (13) or an unnegotiated type: ignore, and do not
		// latch onto it.
		s.st.ignored.Add(1)
		if !rs.warnedPT {
			rs.warnedPT = true
			s.log.Warn("ignoring RTP with unexpected payload type", "pt", pt, "from", src)
		}
		return
	}
	if !s.latch(rs, r, src) {
		return // counted as rejected; no audio, no digits
	}
	now := time.Since(s.epoch)
	s.lastRecv.Store(int64(now))
	if !r.heard.Load() {
		r.heard.Store(true)
		s.nudge() // a sender waiting to hear the far end may start
	}
	s.st.pktRecv.Add(1)
	s.st.bytesRecv.Add(uint64(len(b)))
	s.trackSeq(rs)
	if isEvent {
		ev, err := ParseTelephoneEvent(payload)
		if err != nil {
			s.st.ignored.Add(1)
			return
		}
		rs.evOut = rs.events.event(rs.hdr.Timestamp, ev, rs.evOut[:0])
		s.emitEvents(rs)
		return
	}
	s.trackJitter(rs, now)
	rs.evOut = rs.events.audio(rs.hdr.Timestamp, rs.evOut[:0])
	s.emitEvents(rs)
	if len(payload) == 0 {
		return
	}
	sink, tap := s.sink.Load(), s.tap.Load()
	if f := s.rawSink.Load(); f != nil {
		(*f)(r.Codec, payload)
		sink = nil
	}
	if sink == nil && tap == nil && rs.det == nil {
		return // forwarded as it came: nothing wants the PCM
	}
	if cap(rs.pcm) < len(payload) {
		rs.pcm = make([]int16, len(payload))
	}
	pcm := rs.pcm[:len(payload)]
	decodeG711(r.Codec, pcm, payload)
	if sink != nil {
		(*sink)(pcm)
	}
	if f := tap; f != nil {
		(*f)(Frame{SSRC: rs.hdr.SSRC, Sequence: rs.hdr.SequenceNumber, Timestamp: rs.hdr.Timestamp, PCM: pcm})
	}
	if rs.det != nil {
		rs.detOut = rs.det.process(pcm, rs.detOut[:0])
		for _, d := range rs.detOut {
			s.digits.push(Digit{Key: d.key, Source: SourceInband, At: time.Now().Add(-d.dur), Duration: d.dur})
		}
	}
}

func (s *Session) emitEvents(rs *recvState) {
	for _, d := range rs.evOut {
		s.digits.push(Digit{Key: d.key, Source: SourceRFC4733, At: time.Now().Add(-d.dur), Duration: d.dur})
	}
}

// trackSeq counts loss from sequence gaps per SSRC (RFC 3550 A.1,
// simplified: no probation).
func (s *Session) trackSeq(rs *recvState) {
	seq := rs.hdr.SequenceNumber
	if !rs.haveSeq || rs.hdr.SSRC != rs.ssrc {
		rs.haveSeq, rs.ssrc, rs.maxSeq = true, rs.hdr.SSRC, seq
		rs.haveTransit = false
		return
	}
	switch d := seq - rs.maxSeq; {
	case d == 0: // duplicate
	case d < maxSeqJump:
		s.st.lost.Add(uint64(d - 1))
		rs.maxSeq = seq
	case d > 0x8000: // older than the highest: a late packet fills a gap
		if l := s.st.lost.Load(); l > 0 {
			s.st.lost.Add(^uint64(0))
		}
	default: // big jump: the sender restarted its sequence
		rs.maxSeq = seq
	}
}

// trackJitter updates the RFC 3550 A.8 estimate:
// J += (|D(i-1,i)| - J)/16 with D from transit-time differences.
func (s *Session) trackJitter(rs *recvState, now time.Duration) {
	arrival := int32(int64(now) * SampleRate / int64(time.Second))
	transit := arrival - int32(rs.hdr.Timestamp)
	if rs.haveTransit {
		d := float64(transit - rs.transit)
		if d < 0 {
			d = -d
		}
		rs.jitter += (d - rs.jitter) / 16
		s.st.jitterNs.Store(int64(rs.jitter * float64(time.Second) / SampleRate))
	}
	rs.transit, rs.haveTransit = transit, true
}
