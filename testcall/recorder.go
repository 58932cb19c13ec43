package testcall

import (
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// silenceRMS is the mean-square level below which a frame counts as silence
// (about -50 dBFS).
const silenceRMS = 100 * 100

// recorder keeps received audio and arrival-gap statistics. sink runs on the
// session's RTP reader (a media poller) and must not block.
type recorder struct {
	mu        sync.Mutex
	pcm       []int16
	limit     int
	nonSilent int // samples in non-silent frames
	last      time.Time
	gaps      int
	gapSum    time.Duration
	gapMin    time.Duration
	gapMax    time.Duration
}

func newRecorder(d time.Duration) *recorder {
	return &recorder{limit: int(d/time.Second+2) * media.SampleRate}
}

func (r *recorder) sink(pcm []int16) {
	now := time.Now()
	var sum int64
	for _, s := range pcm {
		sum += int64(s) * int64(s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(pcm) > 0 && sum/int64(len(pcm)) > silenceRMS {
		r.nonSilent += len(pcm)
	}
	if room := r.limit - len(r.pcm); room > 0 {
		r.pcm = append(r.pcm, pcm[:min(room, len(pcm))]...)
	}
	if !r.last.IsZero() {
		g := now.Sub(r.last)
		if r.gaps == 0 || g < r.gapMin {
			r.gapMin = g
		}
		r.gapMax = max(r.gapMax, g)
		r.gapSum += g
		r.gaps++
	}
	r.last = now
}

func (r *recorder) fill(res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.PCM = r.pcm
	res.Audio = time.Duration(len(r.pcm)) * time.Second / media.SampleRate
	res.NonSilent = time.Duration(r.nonSilent) * time.Second / media.SampleRate
	res.GapMin, res.GapMax = r.gapMin, r.gapMax
	if r.gaps > 0 {
		res.GapMean = r.gapSum / time.Duration(r.gaps)
	}
}
