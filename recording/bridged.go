package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// Side is one direction of a bridged call.
type Side int

// The two sides of a bridged call (bridge.Connect's a and b).
const (
	Caller Side = iota // what the caller says (the left channel when split)
	Agent              // what the agent says (the right channel)
)

const (
	// maxBehind and maxAhead bound how far a frame's RTP timestamp may
	// place it from where its arrival says it belongs. Within them the
	// timestamp wins (a lost packet is silence of the right length, a
	// burst after a network stall lands where it was spoken); beyond them
	// the sender's clock is not the call's (a phone that stopped sending
	// on hold without advancing its timestamps, a restarted stream, a
	// clock running fast), and the track is re-anchored at the arrival
	// time, so caller and agent stay aligned with each other.
	maxBehind = 2 * media.SampleRate
	maxAhead  = media.SampleRate / 2
)

// Bridged records both directions of a bridged call on one timeline: the
// wall clock from the recording's start. Each direction is a track whose
// frames are placed by RTP timestamp (RFC 3550 §5.1) and anchored to the
// time its first frame arrived, with gaps as silence. The two legs' RTP
// clocks are unrelated (different phones), so only arrival time can line
// them up; within a track the timestamps place audio more exactly than
// arrival, which jitters. Add is safe to call from the two legs' reader
// goroutines at once; it copies the frame and does not block on anything
// but its track's lock.
type Bridged struct {
	start  time.Time
	max    int
	tracks [2]track
}

type track struct {
	mu       sync.Mutex
	closed   bool
	pcm      []int16
	anchored bool
	ssrc     uint32
	base     uint32 // RTP timestamp of sample 0
	// Counters for the log: silence put in for missing packets, frames
	// dropped as too late (before the start), re-anchors.
	filled, late, anchors int
}

// NewBridged starts a recording at start that stops growing at max.
func NewBridged(start time.Time, max time.Duration) *Bridged {
	return &Bridged{start: start, max: Samples(max)}
}

// Add places one received frame of side, which arrived at at.
func (b *Bridged) Add(side Side, f media.Frame, at time.Time) {
	if side != Caller && side != Agent {
		return
	}
	arrival := Samples(at.Sub(b.start)) - len(f.PCM) // the frame's first sample
	t := &b.tracks[side]
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.add(f, max(arrival, 0), b.max)
	}
}

func (t *track) add(f media.Frame, arrival, limit int) {
	if !t.anchored || f.SSRC != t.ssrc {
		t.anchor(f, arrival)
	}
	pos := int(int32(f.Timestamp - t.base))
	if pos < arrival-maxBehind || pos > arrival+maxAhead {
		t.anchor(f, arrival)
		pos = arrival
	}
	if pos < 0 {
		t.late++
		return
	}
	if pos >= limit {
		return
	}
	if gap := pos - len(t.pcm); gap > 0 {
		t.filled += gap
		t.pcm = append(t.pcm, make([]int16, gap)...)
	}
	end := min(pos+len(f.PCM), limit)
	in := f.PCM[:end-pos]
	if over := min(len(t.pcm), end) - pos; over > 0 {
		copy(t.pcm[pos:], in[:over]) // a late packet in its gap, or a duplicate
		in = in[over:]
	}
	t.pcm = append(t.pcm, in...)
}

func (t *track) anchor(f media.Frame, arrival int) {
	t.anchored, t.ssrc = true, f.SSRC
	t.base = f.Timestamp - uint32(arrival)
	t.anchors++
}

// Close stops the recording: frames added after it are dropped (a reader
// goroutine may still hold the tap for one packet after it was removed).
func (b *Bridged) Close() {
	for i := range b.tracks {
		t := &b.tracks[i]
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
	}
}

// Stats are a recording's counters, for the log.
type Stats struct {
	Filled  [2]int // samples of silence put in for missing packets
	Late    [2]int // frames dropped as too late
	Anchors [2]int // times a track was (re-)anchored to arrival time
}

// Stats reports the counters.
func (b *Bridged) Stats() Stats {
	var s Stats
	for i := range b.tracks {
		t := &b.tracks[i]
		t.mu.Lock()
		s.Filled[i], s.Late[i], s.Anchors[i] = t.filled, t.late, t.anchors
		t.mu.Unlock()
	}
	return s
}

// Len is the recording's length in samples: the longer track's.
func (b *Bridged) Len() int {
	n := 0
	for i := range b.tracks {
		t := &b.tracks[i]
		t.mu.Lock()
		n = max(n, len(t.pcm))
		t.mu.Unlock()
	}
	return n
}

// Duration is the recording's length.
func (b *Bridged) Duration() time.Duration { return samplesToDuration(b.Len()) }

// Track is a copy of one side's audio, as long as the recording.
func (b *Bridged) Track(side Side) []int16 {
	n := b.Len()
	out := make([]int16, n)
	t := &b.tracks[side]
	t.mu.Lock()
	copy(out, t.pcm)
	t.mu.Unlock()
	return out
}

// Mixed is both sides summed into one track. The sum saturates at the
// 16-bit limits instead of wrapping around (two loud talkers at once
// clip, they do not turn into noise).
func (b *Bridged) Mixed() []int16 {
	out := b.Track(Caller)
	t := &b.tracks[Agent]
	t.mu.Lock()
	defer t.mu.Unlock()
	mixInto(out, t.pcm)
	return out
}

func mixInto(dst, src []int16) {
	for i, v := range src[:min(len(src), len(dst))] {
		dst[i] = sat16(int32(dst[i]) + int32(v))
	}
}

func sat16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}

// Stereo is the two sides interleaved: the caller left, the agent right.
func (b *Bridged) Stereo() []int16 {
	c, a := b.Track(Caller), b.Track(Agent)
	out := make([]int16, 2*len(c))
	for i := range c {
		out[2*i], out[2*i+1] = c[i], a[i]
	}
	return out
}

// WriteWAV writes the recording as a WAV file: mono and mixed, or with
// split true, stereo (caller left, agent right).
func (b *Bridged) WriteWAV(w io.Writer, split bool) error {
	if split {
		return WriteWAV(w, 2, b.Stereo())
	}
	return WriteWAV(w, 1, b.Mixed())
}

// WriteWAV writes 16-bit linear PCM at 8 kHz with channels interleaved
// channels (1 or 2) as a RIFF/WAVE file.
func WriteWAV(w io.Writer, channels int, pcm []int16) error {
	if channels != 1 && channels != 2 {
		return fmt.Errorf("recording: write WAV: %d channels", channels)
	}
	dataLen := uint64(len(pcm)) * 2
	if dataLen+36 > 0xFFFFFFFF {
		return errors.New("recording: write WAV: recording too long for RIFF")
	}
	le := binary.LittleEndian
	hdr := make([]byte, 44, 44+dataLen)
	copy(hdr[0:], "RIFF")
	le.PutUint32(hdr[4:], uint32(36+dataLen))
	copy(hdr[8:], "WAVEfmt ")
	le.PutUint32(hdr[16:], 16)
	le.PutUint16(hdr[20:], 1) // PCM
	le.PutUint16(hdr[22:], uint16(channels))
	le.PutUint32(hdr[24:], media.SampleRate)
	le.PutUint32(hdr[28:], media.SampleRate*2*uint32(channels))
	le.PutUint16(hdr[32:], 2*uint16(channels))
	le.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	le.PutUint32(hdr[40:], uint32(dataLen))
	buf := hdr
	for _, v := range pcm {
		buf = le.AppendUint16(buf, uint16(v))
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("recording: write WAV: %w", err)
	}
	return nil
}

// ReadWAV reads a WAV file WriteWAV wrote (8 kHz 16-bit PCM, one or two
// channels) back into its channels; for tests and tools, not for prompts
// (media.DecodeWAV reads any WAV, but mixes channels down).
func ReadWAV(r io.Reader) ([][]int16, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("recording: read WAV: %w", err)
	}
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		return nil, errors.New("recording: read WAV: not a WAV file as WriteWAV writes them")
	}
	ch := int(le.Uint16(b[22:]))
	if ch != 1 && ch != 2 || le.Uint16(b[20:]) != 1 || le.Uint32(b[24:]) != media.SampleRate || le.Uint16(b[34:]) != 16 {
		return nil, errors.New("recording: read WAV: not 8 kHz 16-bit PCM with 1 or 2 channels")
	}
	data := b[44:]
	if n := int(le.Uint32(b[40:])); n < len(data) {
		data = data[:n]
	}
	frames := len(data) / (2 * ch)
	out := make([][]int16, ch)
	for c := range out {
		out[c] = make([]int16, frames)
	}
	for i := range frames {
		for c := range ch {
			out[c][i] = int16(le.Uint16(data[2*(i*ch+c):]))
		}
	}
	return out, nil
}
