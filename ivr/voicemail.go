package ivr

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
)

// AudioTap is implemented by a Call whose received audio can be recorded
// (the app's calls: media.Session.SetReceiveTap). A voicemail node on a
// call without it (the simulator) records nothing and goes on to next.
type AudioTap interface {
	SetReceiveTap(f func(media.Frame))
}

// Recorded is one recording a flow made and stored, for the call log.
type Recorded struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`            // recording.KindVoicemail, KindCall
	Format    string        `json:"format"`          // recording.FormatWAV
	Node      string        `json:"node,omitempty"`  // the voicemail node
	Queue     string        `json:"queue,omitempty"` // where a call recording was made
	Duration  time.Duration `json:"duration"`
	Size      int64         `json:"size"`
	CreatedAt time.Time     `json:"created_at"`
}

const (
	// beepTone is the tone before the recording starts (1 kHz, 250 ms:
	// the usual voicemail beep).
	beepFreq = 1000
	beepLen  = 250 * time.Millisecond
	// pollEvery is how often the recorder checks the wall clock for a
	// caller who sends no RTP at all (a muted phone that suppresses
	// silence): the silence limit applies to time, not only to packets.
	pollEvery = 200 * time.Millisecond
	// keyMargin is cut beyond the end key's own duration: the in-band tone
	// (or the packets around an RFC 4733 event) must not end the message.
	keyMargin = 60 * time.Millisecond
	// silenceKept is the silence left at the end of a message that
	// stopped on silence.
	silenceKept = 300 * time.Millisecond
	// saveTimeout bounds storing a message once the caller has hung up.
	saveTimeout = 15 * time.Second
)

// Why a recording stopped.
const (
	stopKey     = "key"
	stopSilence = "silence"
	stopMax     = "max"
)

// voicemail runs a voicemail node: the greeting, a beep, the recording
// until # or silence or max, then the review (1 keep, 2 record again, 3
// listen; silence keeps). A caller who hangs up after speaking leaves the
// message too: that is how most messages end.
func (r *run) voicemail(ctx context.Context, n *flows.Node) (string, error) {
	tap, ok := r.call.(AudioTap)
	if r.e.trace != nil && !ok {
		r.traceEvent("voicemail", simVoicemailEvent{Silence: n.Silence, Max: n.Max})
		return n.Next, nil
	}
	if !ok || r.e.cfg.Recordings == nil {
		r.log.Error("ivr: voicemail cannot record: no recording store or no audio on this call", "node", n.Name)
		return n.Next, nil
	}
	for take := 0; ; take++ {
		if take == 0 {
			// A key during the greeting skips to the beep; it is not
			// type-ahead for anything (a # must not end the message at
			// once).
			if err := r.playRefs(ctx, n.Prompts, true); err != nil {
				return "", err
			}
			r.pending = nil
		}
		if n.Beep {
			beep := resolved{name: "beep", lang: r.lang, p: media.NewPromptPCM("beep", media.Tone([]float64{beepFreq}, beepLen))}
			if err := r.playOne(ctx, beep, false); err != nil {
				return "", err
			}
		}
		c, why, err := r.record(ctx, tap, n)
		r.log.Info("ivr: voicemail recorded", "node", n.Name, "take", take+1, "stop", why, "duration", c.Duration(),
			"heard", c.Heard(), "filled_ms", c.Filled*1000/media.SampleRate, "late", c.Late)
		if err != nil {
			if c.Heard() {
				r.keepMessage(ctx, n, c)
			}
			return "", err
		}
		if !c.Heard() {
			if err := r.playNames(ctx, false, flows.PromptVoicemailEmpty); err != nil {
				return "", err
			}
			return n.Next, nil
		}
		again := false
		if n.Review {
			if again, err = r.review(ctx, n, c, take); err != nil {
				r.keepMessage(ctx, n, c) // hung up during the review: keep it
				return "", err
			}
		}
		if again {
			continue
		}
		if err := r.keepMessage(ctx, n, c); err != nil {
			return n.Next, nil // logged; the caller is not told a message was saved
		}
		if err := r.playNames(ctx, true, flows.PromptVoicemailSaved); err != nil {
			return "", err
		}
		return n.Next, nil
	}
}

// playNames plays built-in prompts by name.
func (r *run) playNames(ctx context.Context, bargeIn bool, names ...string) error {
	var list []resolved
	for _, name := range names {
		if rp, ok := r.resolveName(name); ok {
			list = append(list, rp)
		}
	}
	return r.playResolved(ctx, list, bargeIn)
}

// review asks keep, record again or listen and reports whether to record
// again. Silence (the node's timeout) or a key pressed past the retries
// keeps the message; so does 2 once the node's retries are used up.
func (r *run) review(ctx context.Context, n *flows.Node, c *recording.Capture, take int) (again bool, err error) {
	for wrong := 0; wrong <= n.Retries; {
		if err := r.playNames(ctx, true, flows.PromptVoicemailReview); err != nil {
			return false, err
		}
		r.waitingForInput(n)
		d, ok, err := r.waitDigit(ctx, n.Timeout)
		r.inputDone(n)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, nil
		}
		r.addDigits(string(d.Key))
		switch d.Key {
		case flows.VoicemailKeepKey:
			return false, nil
		case flows.VoicemailRerecordKey:
			if take >= n.Retries {
				r.log.Info("ivr: voicemail re-recorded as often as allowed; kept", "node", n.Name, "takes", take+1)
				return false, nil
			}
			return true, nil
		case flows.VoicemailListenKey:
			msg := resolved{name: "voicemail-message", lang: r.lang, p: media.NewPromptPCM("voicemail-message", slices.Clone(c.PCM()))}
			if err := r.playOne(ctx, msg, true); err != nil {
				return false, err
			}
			r.pending = nil
		default:
			wrong++
		}
	}
	return false, nil
}

// record captures the caller until the end key, silence or max; ctx's
// end (the caller hung up) returns the capture so far with ctx's error.
func (r *run) record(ctx context.Context, tap AudioTap, n *flows.Node) (*recording.Capture, string, error) {
	c := recording.NewCapture(n.Max)
	frames := make(chan media.Frame, 256) // 5 s of 20 ms frames: the engine never falls that far behind
	var dropped atomic.Int64
	tap.SetReceiveTap(func(f media.Frame) {
		f.PCM = slices.Clone(f.PCM) // the reader reuses its buffer
		select {
		case frames <- f:
		default:
			dropped.Add(1)
		}
	})
	defer func() {
		tap.SetReceiveTap(nil)
		if d := dropped.Load(); d > 0 {
			r.log.Warn("ivr: voicemail frames dropped (engine too slow)", "node", n.Name, "frames", d)
		}
	}()
	r.pending = nil
	clock := r.e.cfg.Clock
	last := clock.Now() // the last frame, for a caller who sends nothing
	// lastAt and lastEnd place the end key in the track: the wall time
	// (as digits are stamped) the last frame arrived, and where it ended.
	var lastAt time.Time
	lastEnd := 0
	// The wall-clock guard: a stream whose timestamps stall must still end.
	guard, stopGuard := clock.After(n.Max + 2*time.Second)
	defer stopGuard()
	for {
		poll, stopPoll := clock.After(pollEvery)
		select {
		case f := <-frames:
			stopPoll()
			last, lastAt = clock.Now(), time.Now()
			full := c.Add(f)
			lastEnd = c.Len()
			if full {
				return c, stopMax, nil
			}
			if c.Silence() >= n.Silence {
				c.Truncate(c.LoudEnd() + recording.Samples(silenceKept))
				return c, stopSilence, nil
			}
		case d, ok := <-r.digits:
			stopPoll()
			if !r.usable(d, ok) {
				continue
			}
			r.digitEvent(d, d.Key != flows.VoicemailEndKey)
			if d.Key == flows.VoicemailEndKey {
				r.drainFrames(c, frames)
				c.Truncate(keyStart(d, lastAt, lastEnd, c.Len()))
				return c, stopKey, nil
			}
		case <-poll:
			if clock.Now().Sub(last) >= n.Silence {
				c.Truncate(c.LoudEnd() + recording.Samples(silenceKept))
				return c, stopSilence, nil
			}
		case <-guard:
			stopPoll()
			return c, stopMax, nil
		case <-ctx.Done():
			stopPoll()
			r.drainFrames(c, frames)
			return c, "hangup", ctx.Err()
		}
	}
}

// keyStart is where the end key began in the track, so the message ends
// before it: the key's start (d.At) placed against the last frame that
// arrived before the key was handled (at lastAt, ending at sample
// lastEnd). A phone that stops sending audio while it sends an RFC 4733
// event leaves nothing to cut; one whose key is in the audio (in-band)
// loses the tone and the detector's lead (keyMargin).
func keyStart(d media.Digit, lastAt time.Time, lastEnd, n int) int {
	if lastAt.IsZero() {
		return n
	}
	cut := lastEnd
	if d.At.Before(lastAt) {
		cut -= recording.Samples(lastAt.Sub(d.At))
	}
	if d.Source == media.SourceInband {
		cut -= recording.Samples(keyMargin)
	}
	return min(max(cut, 0), n)
}

// drainFrames adds the frames already queued.
func (r *run) drainFrames(c *recording.Capture, frames <-chan media.Frame) {
	for {
		select {
		case f := <-frames:
			c.Add(f)
		default:
			return
		}
	}
}

// keepMessage stores the capture as a WAV file and records it on the
// result (the call log makes it a recording of the call's interaction).
// It runs after a hang-up too, on a context of its own.
func (r *run) keepMessage(ctx context.Context, n *flows.Node, c *recording.Capture) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	var buf bytes.Buffer
	if err := media.WriteWAV(&buf, c.PCM()); err != nil {
		r.log.Error("ivr: voicemail not saved", "node", n.Name, "err", err)
		return err
	}
	id := recording.NewID()
	info, err := r.e.cfg.Recordings.Put(sctx, recording.Key(id, recording.FormatWAV), bytes.NewReader(buf.Bytes())) // seekable: a store may retry it elsewhere (recording.Fallback)
	if err != nil {
		r.log.Error("ivr: voicemail not saved", "node", n.Name, "err", err)
		return fmt.Errorf("voicemail %s: %w", n.Name, err)
	}
	rec := Recorded{ID: id, Kind: recording.KindVoicemail, Format: recording.FormatWAV, Node: n.Name,
		Duration: c.Duration(), Size: info.Size, CreatedAt: r.e.cfg.Clock.Now()}
	r.res.Recordings = append(r.res.Recordings, rec)
	r.res.Outcome = store.OutcomeVoicemail
	r.setVar("voicemail", id)
	r.log.Info("ivr: voicemail saved", "node", n.Name, "recording", id, "duration", rec.Duration, "bytes", info.Size)
	return nil
}
