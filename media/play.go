package media

import (
	"context"
	"sync/atomic"
	"time"
)

// playJob is one Play call: prompts played back to back, consumed by the
// sender one frame at a time.
type playJob struct {
	prompts   []*Prompt
	idx, off  int        // current prompt and sample offset in it
	done      chan error // receives the outcome once (capacity 1)
	cancelled atomic.Bool
	// loop, when set, is the last prompt, played over and over (Loop): the
	// job never runs out.
	loop bool
}

// remaining reports whether samples are left to play; a looping job
// starts its last prompt again.
func (j *playJob) remaining() bool {
	for j.idx < len(j.prompts) && j.off >= j.prompts[j.idx].Samples() {
		j.idx, j.off = j.idx+1, 0
	}
	if j.idx == len(j.prompts) && j.loop {
		j.idx, j.off = len(j.prompts)-1, 0 // Loop keeps only a non-empty last prompt
	}
	return j.idx < len(j.prompts)
}

// payload returns the next n encoded samples. When they lie within one
// prompt it returns the shared slice (no copy); otherwise it assembles them
// into scratch, padding the end with silence.
func (j *playJob) payload(c Codec, n int, scratch []byte) []byte {
	j.remaining()
	if j.idx < len(j.prompts) {
		b := j.prompts[j.idx].Payload(c)
		if j.off+n <= len(b) {
			out := b[j.off : j.off+n]
			j.off += n
			return out
		}
	}
	out := scratch[:n]
	got := 0
	for got < n && j.remaining() {
		b := j.prompts[j.idx].Payload(c)
		k := copy(out[got:], b[j.off:])
		got += k
		j.off += k
	}
	for i := got; i < n; i++ {
		out[i] = silenceByte(c)
	}
	return out
}

// mixPCM adds the next len(dst) linear samples into dst.
func (j *playJob) mixPCM(dst []int16) {
	got := 0
	for got < len(dst) && j.remaining() {
		src := j.prompts[j.idx].PCM()[j.off:]
		k := min(len(src), len(dst)-got)
		for i := 0; i < k; i++ {
			dst[got+i] = sat16(int32(dst[got+i]) + int32(src[i]))
		}
		got += k
		j.off += k
	}
}

func sat16(v int32) int16 {
	return int16(max(-32768, min(32767, v)))
}

// Play sends the prompts back to back and returns when the last frame has
// been sent. When ctx is cancelled (barge-in) it returns ctx.Err() at once
// and the sender stops within one frame. A newer Play supersedes this one
// (ErrPlaySuperseded). While on hold the play pauses.
func (s *Session) Play(ctx context.Context, prompts ...*Prompt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &playJob{done: make(chan error, 1)}
	for _, p := range prompts {
		if p != nil { // a nil prompt plays as nothing rather than crashing the call
			j.prompts = append(j.prompts, p)
		}
	}
	if !j.remaining() {
		return nil
	}
	return s.runJob(ctx, j.done, &j.cancelled, func() {
		if old := s.play; old != nil {
			old.done <- ErrPlaySuperseded
		}
		s.play = j
	})
}

// Loop plays first back to back, then loop over and over, in the
// background: it returns at once, and the sender plays the job until stop,
// a newer Play or Loop (which supersedes it), or the session's end. A nil
// or empty loop plays first only. Music on hold is one Loop per
// announcement cycle (bridge.StartHold), so no goroutine waits on it per
// held call (issue 15). While on hold the job pauses, as Play's does.
func (s *Session) Loop(loop *Prompt, first ...*Prompt) (stop func(), err error) {
	j := &playJob{done: make(chan error, 1)}
	for _, p := range first {
		if p != nil {
			j.prompts = append(j.prompts, p)
		}
	}
	if loop != nil && loop.Samples() > 0 {
		j.prompts, j.loop = append(j.prompts, loop), true
	}
	stop = func() {
		if !j.cancelled.Swap(true) {
			s.nudge() // the sender drops the job on its next slot, as runJob's
		}
	}
	if !j.remaining() {
		return func() {}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, s.closedErr()
	case !s.started:
		return nil, ErrNotStarted
	}
	if old := s.play; old != nil {
		old.done <- ErrPlaySuperseded
	}
	s.play = j
	s.nudge()
	return stop, nil
}

// runJob hands a job to the sender (install runs with s.mu held, once the
// session is known to be started and open) and waits for its outcome. On
// ctx cancellation it marks the job cancelled and wakes the sender, which
// drops it (or, for an RFC 4733 digit, ends the event) on its next tick.
func (s *Session) runJob(ctx context.Context, done <-chan error, cancelled *atomic.Bool, install func()) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return s.closedErr()
	case !s.started:
		s.mu.Unlock()
		return ErrNotStarted
	}
	install()
	s.nudge()
	s.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		cancelled.Store(true)
		s.nudge()
		return ctx.Err()
	case <-s.done:
		return s.Err()
	}
}

// digitJob is one SendDigit call.
type digitJob struct {
	src       DigitSource
	event     uint8 // RFC 4733 event code
	tone      toneGen
	dur       int // samples of event/tone
	elapsed   int // samples sent so far
	gap       int // inband: silence samples still to send after the tone
	started   bool
	ts        uint32 // RFC 4733: timestamp of the event's first packet
	endsSent  int
	done      chan error
	cancelled atomic.Bool
}

// inbandGap is the silence sent after an inband tone so that the far
// detector sees the key released before the next one (Q.24 pause ≥ 40 ms).
const inbandGap = 60 * time.Millisecond

// maxDigitDuration keeps the RFC 4733 16-bit duration field (§2.3.5) in
// range without segmenting long events.
const maxDigitDuration = 8 * time.Second

// SendDigit sends key as RFC 4733 telephone-events (SourceRFC4733) or as
// inband tones mixed into the outgoing audio (SourceInband), lasting dur
// (0 = 100 ms, at least 40 ms), and returns when it has been sent.
// Concurrent calls are sent one after the other.
func (s *Session) SendDigit(ctx context.Context, key rune, dur time.Duration, src DigitSource) error {
	code, err := eventCode(key)
	if err != nil {
		return err
	}
	if dur == 0 {
		dur = 100 * time.Millisecond
	}
	dur = max(40*time.Millisecond, min(dur, maxDigitDuration))
	j := &digitJob{src: src, event: code, dur: int(dur * SampleRate / time.Second), done: make(chan error, 1)}
	switch src {
	case SourceRFC4733:
		if r := s.remote.Load(); r != nil && r.DTMFPayloadType == 0 {
			return ErrNoTelephoneEvent
		}
	case SourceInband:
		lo, hi, _ := DTMFFreqs(key)
		j.tone = newToneGen([]float64{lo, hi})
		j.gap = int(inbandGap * SampleRate / time.Second)
	default:
		return ErrBadDigitSource
	}
	select {
	case s.digitSem <- struct{}{}:
		defer func() { <-s.digitSem }()
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.Err()
	}
	return s.runJob(ctx, j.done, &j.cancelled, func() { s.dig = j })
}

// WriteAudio sends one frame of live audio (a bridge relaying the other
// leg, or a recording played back). It never blocks on the pacer and keeps
// no more than two frames.
//
// When nothing else is being sent (no prompt, no digit, not on hold, no
// earlier live samples still queued) and pcm is exactly one frame of this
// leg's ptime, the frame leaves at once, from the caller's goroutine (for
// a bridge, the other leg's RTP reader): no pacing delay is added to a
// relayed call. It is its own RTP packet of this session's stream: the next
// sequence number, the timestamp advanced by one frame (continuous within
// a talkspurt; after silence it follows the clock and carries the marker
// bit, RFC 3551 §4.1), encoded in this leg's codec.
//
// Otherwise the samples are queued for the pacer, which sends them on its
// next frame slot mixed with the prompt or inband digit (a whisper over a
// bridged call), so a queued frame waits at most about one frame; older
// samples beyond two frames are dropped (Stats.LiveDrops). Frames of
// another size (legs that negotiated different ptimes) always take this
// paced path. Both paths share one sequence and timestamp, so switching
// between them neither repeats nor skips a sequence number and never moves
// the timestamp backwards.
func (s *Session) WriteAudio(pcm []int16) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return
	}
	r := s.remote.Load()
	n := r.frameSamples()
	if len(pcm) == n && !s.paused() && s.play == nil && s.dig == nil && len(s.live) == 0 {
		s.mu.Unlock()
		s.sendLive(r, pcm)
		return
	}
	defer s.mu.Unlock()
	limit := 2 * n
	if s.live == nil {
		s.live = make([]int16, 0, 2*maxFrame)
	}
	if extra := len(pcm) - limit; extra > 0 {
		s.st.liveDrops.Add(uint64(extra))
		pcm = pcm[extra:]
	}
	s.live = append(s.live, pcm...)
	if over := len(s.live) - limit; over > 0 {
		s.st.liveDrops.Add(uint64(over))
		s.live = s.live[:copy(s.live, s.live[over:])]
	}
	s.nudge()
}

// WriteEncoded is WriteAudio for a frame still in codec c, as a
// session's payload sink receives it (SetPayloadSink): when c is this
// leg's codec and WriteAudio would send the frame at once, its bytes are
// sent as they are, in this session's own stream (sequence number,
// timestamp, SSRC, marker), with no decode and re-encode. Otherwise it is
// decoded and takes WriteAudio's way (another codec, a prompt or digit
// playing, a held or not yet cleared leg, another ptime).
func (s *Session) WriteEncoded(c Codec, payload []byte) {
	if !validCodec(c) {
		return
	}
	s.txMu.Lock()
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		s.txMu.Unlock()
		return
	}
	r := s.remote.Load()
	if c == r.Codec && len(payload) == r.frameSamples() && !s.paused() && s.play == nil && s.dig == nil && len(s.live) == 0 {
		s.mu.Unlock()
		s.sendLiveEncoded(r, payload)
		s.txMu.Unlock()
		return
	}
	s.mu.Unlock()
	s.txMu.Unlock()
	var buf [maxFrame]int16
	var pcm []int16
	if len(payload) <= len(buf) {
		pcm = buf[:len(payload)]
	} else {
		pcm = make([]int16, len(payload))
	}
	decodeG711(c, pcm, payload)
	s.WriteAudio(pcm)
}

// sendLiveEncoded is sendLive for a frame already in the leg's codec.
// Called with txMu held.
func (s *Session) sendLiveEncoded(r *negotiation, payload []byte) {
	st := s.tx
	s.startTalkspurt(st, liveHangover*r.Ptime, time.Now())
	st.active, st.idleLive = false, 0
	st.buf = frameBuf(st.buf, rtpHeaderLen+len(payload))
	out := st.buf[rtpHeaderLen:]
	copy(out, payload)
	s.sendLiveFrame(st, r, out)
}

// sendLive sends one live frame at once (WriteAudio's immediate path) and
// ends the pacer's slots, which had nothing left to send. Called with txMu
// held.
func (s *Session) sendLive(r *negotiation, pcm []int16) {
	st := s.tx
	// Live frames keep their talkspurt over the same hangover the pacer
	// allows them (jitter, a lost frame upstream).
	s.startTalkspurt(st, liveHangover*r.Ptime, time.Now())
	st.active, st.idleLive = false, 0
	st.buf = frameBuf(st.buf, rtpHeaderLen+len(pcm))
	payload := st.buf[rtpHeaderLen:]
	encodeG711(r.Codec, payload, pcm)
	s.sendLiveFrame(st, r, payload)
}

// sendLiveFrame sends the live frame encoded in payload (st.buf's payload
// part). Called with txMu held.
func (s *Session) sendLiveFrame(st *sendState, r *negotiation, payload []byte) {
	st.hdr.PayloadType = r.PayloadType
	st.hdr.Marker = st.marker
	st.marker = false
	s.writePacket(st, payload)
	st.hdr.Timestamp += uint32(len(payload))
	s.st.liveDirect.Add(1)
}
