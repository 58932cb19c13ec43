package recording

import (
	"math"
	"time"

	"github.com/hotline-dev/hotline/media"
)

const (
	// maxFill is the longest run of missing timestamps filled with
	// silence: a longer forward jump is the far end restarting its stream
	// (a new timeline, as RFC 3550 A.1 treats a large sequence jump), so
	// the capture continues where it is instead of inserting a minute of
	// silence.
	maxFill = 10 * media.SampleRate
	// LoudRMS is the frame level (RMS of 16-bit samples, about -42 dBFS)
	// above which a frame counts as sound for the silence detector: far
	// above G.711 line noise, far below speech.
	LoudRMS = 260
)

// Capture assembles the audio frames received on a call into one 8 kHz
// track: each frame is placed by its RTP timestamp, so lost packets (and
// the pauses of a sender that suppresses silence) become silence of the
// right length, a late packet fills its place, a duplicate changes nothing,
// and a new SSRC (or a jump beyond maxFill) continues the track. It is not
// safe for concurrent use.
type Capture struct {
	pcm      []int16
	max      int
	anchored bool
	ssrc     uint32
	base     uint32 // RTP timestamp of sample 0 on the current timeline
	loud     int    // end of the last frame louder than LoudRMS, in samples
	heard    bool

	// Filled counts samples of silence put in for missing packets; Late
	// counts frames that came too late (before the track's start) and were
	// dropped.
	Filled int
	Late   int
}

// NewCapture returns a capture that stops growing at max.
func NewCapture(max time.Duration) *Capture {
	n := int(max * media.SampleRate / time.Second)
	return &Capture{max: n, pcm: make([]int16, 0, min(n, 30*media.SampleRate))}
}

// Add places one frame and reports whether the capture is full.
func (c *Capture) Add(f media.Frame) bool {
	if !c.anchored || f.SSRC != c.ssrc {
		c.anchor(f)
	}
	pos := int(int32(f.Timestamp - c.base))
	switch {
	case pos < -maxFill || pos > len(c.pcm)+maxFill:
		c.anchor(f)
		pos = len(c.pcm)
	case pos < 0:
		c.Late++
		return c.Full()
	}
	if pos >= c.max {
		return true
	}
	if gap := pos - len(c.pcm); gap > 0 {
		c.Filled += gap
		c.pcm = append(c.pcm, make([]int16, gap)...)
	}
	end := min(pos+len(f.PCM), c.max)
	in := f.PCM[:end-pos]
	if over := min(len(c.pcm), end) - pos; over > 0 {
		copy(c.pcm[pos:], in[:over]) // a late packet in its gap, or a duplicate
		in = in[over:]
	}
	c.pcm = append(c.pcm, in...)
	if rms(f.PCM) > LoudRMS {
		c.heard = true
		c.loud = max(c.loud, end)
	}
	return c.Full()
}

func (c *Capture) anchor(f media.Frame) {
	c.anchored, c.ssrc = true, f.SSRC
	c.base = f.Timestamp - uint32(len(c.pcm))
}

// Full reports whether the capture reached its maximum length.
func (c *Capture) Full() bool { return len(c.pcm) >= c.max }

// Len is the track's length in samples.
func (c *Capture) Len() int { return len(c.pcm) }

// Duration is the track's length.
func (c *Capture) Duration() time.Duration { return samplesToDuration(len(c.pcm)) }

// Heard reports whether any frame was louder than LoudRMS.
func (c *Capture) Heard() bool { return c.heard }

// Silence is how long the track has been quiet: since the end of the last
// loud frame, or since the start when nothing was heard.
func (c *Capture) Silence() time.Duration { return samplesToDuration(len(c.pcm) - c.loud) }

// LoudEnd is where the last loud frame ended, in samples.
func (c *Capture) LoudEnd() int { return c.loud }

// Truncate shortens the track to n samples (no-op when it is shorter).
func (c *Capture) Truncate(n int) {
	if n < 0 {
		n = 0
	}
	if n < len(c.pcm) {
		c.pcm = c.pcm[:n]
		c.loud = min(c.loud, n)
	}
}

// PCM is the track; it aliases the capture's buffer.
func (c *Capture) PCM() []int16 { return c.pcm }

// Samples converts a duration to samples at 8 kHz.
func Samples(d time.Duration) int { return int(d * media.SampleRate / time.Second) }

func samplesToDuration(n int) time.Duration { return time.Duration(n) * time.Second / media.SampleRate }

func rms(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v)
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(pcm)))
}
