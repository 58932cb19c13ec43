package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"time"

	"github.com/pion/rtp"
)

const (
	rtpHeaderLen = 12
	// maxLateFrames: a sender waking this many frames late skips ahead
	// (a catch-up) instead of bursting the missed frames at once.
	maxLateFrames = 3
	// liveHangover: frame slots the talkspurt stays open, sending nothing,
	// after live audio ran dry, so a bridge whose frames arrive just after
	// a slot keeps one steady schedule instead of restarting talkspurts.
	liveHangover = 3
	// eventEndCopies: RFC 4733 §2.5.1.4 sends the final packet 3 times.
	eventEndCopies = 3
)

// sendState is the outgoing stream: one SSRC, sequence and timestamp for
// paced and immediate packets alike. Guarded by Session.txMu.
type sendState struct {
	hdr rtp.Header // SequenceNumber and Timestamp are the next packet's
	// Reused for every packet, sized by frameBuf on first use: a held call
	// playing music needs only buf, and for 20 ms frames (172 bytes), not
	// for maxPtime's (972 bytes of buf, 1,920 of pcm, 960 of scratch were
	// 4 KiB per call).
	buf      []byte    // header + payload
	pcm      []int16   // mixing buffer (live audio, mixed prompts, in-band digits)
	scratch  []byte    // prompt payload assembly across prompt boundaries; events
	tsBase   uint32    // RTP timestamp at s.epoch
	active   bool      // the pacer runs frame slots
	marker   bool      // next audio packet starts a talkspurt (RFC 3551 §4.1)
	next     time.Time // the pacer's next slot
	idleLive int       // empty slots since live audio ran dry
	lastSent time.Time // last packet sent, paced or immediate; zero: none yet
	stopped  bool      // closed or timed out: no more slots
	// The pacer's slot for this stream (pacer.schedule): whether there is
	// one, and its grid tick. Only the pacer's goroutine uses them.
	paceIn   bool
	paceTick int64
	// viaPacer: the pacer's goroutine is sending (paceWake, paceDue), so a
	// shared-port session's packet joins the pass's batch (shared.go).
	viaPacer bool
}

func newSendState() *sendState {
	var rnd [10]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	// RFC 3550 §5.1: random initial sequence number and timestamp, and
	// §8.1 a random SSRC.
	st := &sendState{
		hdr: rtp.Header{
			Version:        2,
			SequenceNumber: binary.BigEndian.Uint16(rnd[0:]),
			SSRC:           binary.BigEndian.Uint32(rnd[2:]),
		},
		tsBase: binary.BigEndian.Uint32(rnd[6:]),
	}
	st.hdr.Timestamp = st.tsBase
	return st
}

// frameBuf returns b with length n, reallocated only when its capacity is
// short: a session's buffers grow to the frames it sends, never shrink.
func frameBuf[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// clockTS is the RTP timestamp of the wall clock now: tsBase at s.epoch,
// then SampleRate per second.
func (s *Session) clockTS(st *sendState, now time.Time) uint32 {
	return st.tsBase + uint32(now.Sub(s.epoch)*SampleRate/time.Second)
}

// inTalkspurt reports whether a packet sent now continues the current
// talkspurt: the pacer is running slots, or a packet left within window.
// Called with txMu held.
func inTalkspurt(st *sendState, window time.Duration, now time.Time) bool {
	return st.active || (!st.lastSent.IsZero() && now.Sub(st.lastSent) <= window)
}

// startTalkspurt prepares the next packet: inside a talkspurt (see
// inTalkspurt) the timestamp simply continues; after silence the packet
// gets the marker bit and a timestamp that follows the clock (RFC 3551
// §4.1), never behind the previous packet's. Called with txMu held.
func (s *Session) startTalkspurt(st *sendState, window time.Duration, now time.Time) {
	if inTalkspurt(st, window, now) {
		return
	}
	st.marker = true
	if ts := s.clockTS(st, now); int32(ts-st.hdr.Timestamp) > 0 {
		st.hdr.Timestamp = ts
	}
}

// Outgoing frames are paced on the schedule start + n*ptime by the
// session's pacer (pacer.go), which calls paceWake when the session is
// nudged and paceDue when its next slot is due. Nothing is sent while there
// is nothing to play: silence is not sent (no comfort noise negotiated),
// which the far end handles as the end of a talkspurt (RFC 3551 §4.1,
// marker on restart). Live audio written while nothing plays does not wait
// for it: WriteAudio sends it at once.

// paceWake starts the slots if there is work and schedules the next one.
// Called by the pacer's goroutine.
func (s *Session) paceWake(p *pacer) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	st := s.tx
	st.viaPacer = true
	defer func() { st.viaPacer = false }()
	if st.stopped {
		p.unschedule(st)
		return
	}
	if !st.active && s.hasWork() {
		// A prompt starting right after live frames sent at once
		// (within one frame) continues their talkspurt.
		now := time.Now()
		s.startTalkspurt(st, s.remote.Load().Ptime, now)
		st.active, st.next = true, now
		s.frame(st)
	}
	if st.active {
		p.schedule(s, st)
	} else {
		p.unschedule(st)
	}
}

// paceDue runs the slot the pacer just took off its wheel, due by tick.
// Called by the pacer's goroutine.
func (s *Session) paceDue(p *pacer, tick time.Time) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	st := s.tx
	st.viaPacer = true
	defer func() { st.viaPacer = false }()
	// WriteAudio may have ended the slots since.
	if !st.active || st.stopped {
		return
	}
	if st.next.After(tick) {
		p.schedule(s, st)
		return
	}
	s.frame(st)
	if st.active {
		p.schedule(s, st)
	}
}

// inactivityCheck runs on the inactivity timer: the media timeout, unless
// RTP arrived (or a hold began) since it was set.
func (s *Session) inactivityCheck() {
	select {
	case <-s.stop:
		return
	default:
	}
	if left := s.inactivityLeft(); left > 0 {
		s.mu.Lock()
		s.inact.Reset(left) // set by Start under mu, maybe after the timer fired
		s.mu.Unlock()
		return
	}
	s.log.Warn("media timeout: no RTP received", "timeout", s.cfg.InactivityTimeout)
	s.fail(ErrMediaTimeout)
	s.mu.Lock()
	s.closed = true // refuse new work; Close still releases
	s.mu.Unlock()
	s.stopSending()
}

// stopSending ends the slots for good: nothing is sent after it returns,
// and the pacer is told to drop the session's slot (so that its goroutine
// can exit when no other session needs it).
func (s *Session) stopSending() {
	s.txMu.Lock()
	s.tx.stopped, s.tx.active = true, false
	s.txMu.Unlock()
	s.nudge()
}

// inactivityLeft returns how long until the media timeout, or 0 if it has
// passed. Held sessions get a full timeout.
func (s *Session) inactivityLeft() time.Duration {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold {
		return s.cfg.InactivityTimeout
	}
	idle := time.Since(s.epoch) - time.Duration(s.lastRecv.Load())
	return max(0, s.cfg.InactivityTimeout-idle)
}

// hasWork reports whether a frame would be sent now.
func (s *Session) hasWork() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.paused() && (s.play != nil || s.dig != nil || len(s.live) > 0)
}

// paused reports whether jobs wait instead of being sent: on hold, or the
// far end has not been heard yet and its SDP address is not on the
// signalling IP (strictrtp.go). Called with s.mu held.
func (s *Session) paused() bool {
	return s.hold || s.remote.Load().waiting()
}

// frame runs one frame slot: catch up if late, build and send the packet,
// and schedule the next slot. Called with txMu held.
func (s *Session) frame(st *sendState) {
	r := s.remote.Load()
	n := r.frameSamples()
	now := time.Now()
	if late := now.Sub(st.next); late > maxLateFrames*r.Ptime {
		skip := int64(late / r.Ptime)
		st.next = st.next.Add(time.Duration(skip) * r.Ptime)
		st.hdr.Timestamp += uint32(skip) * uint32(n)
		s.st.catchUps.Add(1)
	} else if late > r.Ptime/2 {
		s.st.lateFrames.Add(1)
	}
	st.next = st.next.Add(r.Ptime)
	if !s.buildAndSend(st, r, n) {
		st.active = false
	}
	st.hdr.Timestamp += uint32(n)
}

// buildAndSend sends the packet of this slot; false ends the slots.
func (s *Session) buildAndSend(st *sendState, r *negotiation, n int) bool {
	s.mu.Lock()
	if s.paused() {
		s.mu.Unlock()
		return false
	}
	if j := s.dig; j != nil && j.src == SourceRFC4733 {
		ev, ts, marker, done := s.eventStep(j, st, n)
		s.mu.Unlock()
		s.writeEvent(st, r, ev, ts, marker)
		if done {
			j.done <- nil
		}
		return true
	}
	var payload []byte
	usePCM := len(s.live) > 0 || s.dig != nil
	pj := s.play
	if pj != nil && pj.cancelled.Load() {
		s.play, pj = nil, nil
	}
	if pj == nil && !usePCM {
		s.mu.Unlock()
		if st.idleLive > 0 && st.idleLive < liveHangover {
			st.idleLive++
			return true // keep the slot schedule for live audio, send nothing
		}
		st.idleLive = 0
		return false
	}
	var digDone *digitJob
	if usePCM {
		st.pcm = frameBuf(st.pcm, n)
		pcm := st.pcm
		clear(pcm)
		if len(s.live) > 0 {
			k := copy(pcm, s.live)
			s.live = s.live[:copy(s.live, s.live[k:])]
			st.idleLive = 1
		}
		if pj != nil {
			pj.mixPCM(pcm)
		}
		if j := s.dig; j != nil {
			if s.inbandStep(j, pcm) {
				s.dig, digDone = nil, j
			}
		}
		st.buf = frameBuf(st.buf, rtpHeaderLen+n)
		payload = st.buf[rtpHeaderLen:]
		encodeG711(r.Codec, payload, pcm)
	} else {
		st.scratch = frameBuf(st.scratch, n)
		payload = pj.payload(r.Codec, n, st.scratch)
	}
	var playDone *playJob
	if pj != nil && !pj.remaining() {
		s.play, playDone = nil, pj
	}
	s.mu.Unlock()

	st.hdr.PayloadType = r.PayloadType
	st.hdr.Marker = st.marker
	st.marker = false
	s.writePacket(st, payload)
	if playDone != nil {
		playDone.done <- nil
	}
	if digDone != nil {
		digDone.done <- nil
	}
	return true
}

// inbandStep mixes the next tone samples (or the trailing gap) into pcm and
// reports whether the digit is finished. Called with s.mu held.
func (s *Session) inbandStep(j *digitJob, pcm []int16) bool {
	if j.cancelled.Load() {
		j.elapsed = j.dur
		j.gap = 0
	}
	if j.elapsed < j.dur {
		k := min(len(pcm), j.dur-j.elapsed)
		j.tone.add(pcm[:k])
		j.elapsed += k
		return false
	}
	j.gap -= len(pcm)
	return j.gap <= 0
}

// eventStep advances an RFC 4733 event by one slot. RFC 4733 §2.5.1: every
// packet of the event carries the start timestamp and the duration so far;
// the first has the marker bit; the last is sent eventEndCopies times with
// the E bit. Called with s.mu held.
func (s *Session) eventStep(j *digitJob, st *sendState, n int) (ev TelephoneEvent, ts uint32, marker, done bool) {
	if !j.started {
		j.started, j.ts, marker = true, st.hdr.Timestamp, true
	}
	if j.cancelled.Load() && j.elapsed < j.dur {
		j.dur = max(j.elapsed, n)
	}
	if j.elapsed < j.dur {
		j.elapsed = min(j.elapsed+n, j.dur)
	}
	ev = TelephoneEvent{Event: j.event, Volume: 10, Duration: uint16(j.elapsed)}
	if j.elapsed >= j.dur {
		ev.End = true
		j.endsSent++
		if j.endsSent == eventEndCopies {
			s.dig, done = nil, true
			// Audio after the event starts a new talkspurt.
			st.marker = true
		}
	}
	return ev, j.ts, marker, done
}

func (s *Session) writeEvent(st *sendState, r *negotiation, ev TelephoneEvent, ts uint32, marker bool) {
	saved := st.hdr.Timestamp
	st.hdr.Timestamp = ts
	st.hdr.PayloadType = r.DTMFPayloadType
	st.hdr.Marker = marker
	st.scratch = ev.AppendTo(st.scratch[:0])
	s.writePacket(st, st.scratch)
	st.hdr.Timestamp = saved
}

// writePacket marshals the header in front of payload in st.buf and sends
// it to the current (possibly latched) address, unless the far end has not
// answered within UnansweredSendLimit: then the packet is dropped as if
// lost on the way (its sequence number is used) and counted. Called with
// txMu held.
func (s *Session) writePacket(st *sendState, payload []byte) {
	now := time.Now()
	st.lastSent = now
	// A payload already in st.buf (the encoders') fits it; another may grow it.
	st.buf = frameBuf(st.buf, rtpHeaderLen+len(payload))
	hn, err := st.hdr.MarshalTo(st.buf[:rtpHeaderLen])
	if err != nil {
		s.log.Error("marshal RTP header", "error", err)
		return
	}
	pkt := st.buf[:hn+len(payload)]
	if len(payload) > 0 && &payload[0] != &st.buf[hn] {
		copy(pkt[hn:], payload)
	}
	st.hdr.SequenceNumber++
	r := s.remote.Load()
	if !r.cleared(now.Sub(s.epoch)) {
		s.st.withheld.Add(1)
		return
	}
	addr := *r.dest.Load()
	if st.viaPacer && s.sh.port != nil {
		s.sh.port.queue(s, pkt, addr) // sent with the tick's batch (shared.go)
		s.st.pktSent.Add(1)
		s.st.bytesSent.Add(uint64(len(pkt)))
		return
	}
	if _, err := s.conn.WriteToUDPAddrPort(pkt, addr); err != nil {
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("send RTP", "to", addr, "error", err)
		}
		return
	}
	s.st.pktSent.Add(1)
	s.st.bytesSent.Add(uint64(len(pkt)))
}
