package ivr

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"go.uber.org/goleak"
)

const voicemailFlow = `
flow: t
languages: [en]
nodes:
  vm:
    type: voicemail
    prompts: [leave-message]
    silence: 2s
    max: 20s
    retries: 1
    next: bye
  bye: {type: hangup}
`

// tapCall is a fakeCall with received audio: a goroutine it owns sends a
// 20 ms frame every 20 ms (fake time) to the tap while one is set; the
// audio at each moment is tone(t) since the call started (nil: silence),
// and frames whose index lost(i) reports are never sent (packet loss).
type tapCall struct {
	*fakeCall
	mu   sync.Mutex
	tap  func(media.Frame)
	taps int
}

func (c *tapCall) SetReceiveTap(f func(media.Frame)) {
	c.mu.Lock()
	c.tap = f
	if f != nil {
		c.taps++
	}
	c.mu.Unlock()
}

func (c *tapCall) send(ctx context.Context, tone func(time.Duration) float64, lost func(int) bool) {
	start := time.Now()
	// Phase-continuous tones, cut by sample index, as a phone sends them.
	tones := map[float64][]int16{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pcm := make([]int16, 160)
		if f := tone(time.Since(start)); f > 0 {
			if tones[f] == nil {
				tones[f] = media.Tone([]float64{f}, 30*time.Second)
			}
			off := (i * 160) % (len(tones[f]) - 160)
			pcm = tones[f][off : off+160]
		}
		c.mu.Lock()
		tap := c.tap
		c.mu.Unlock()
		if tap != nil && (lost == nil || !lost(i)) {
			tap(media.Frame{SSRC: 42, Sequence: uint16(i), Timestamp: 5000 + uint32(i*160), PCM: pcm})
		}
	}
}

// between is a tone of freq from a to b.
func between(freq float64, a, b time.Duration) func(time.Duration) float64 {
	return func(t time.Duration) float64 {
		if t >= a && t < b {
			return freq
		}
		return 0
	}
}

type vmCase struct {
	name    string
	flow    string
	tone    func(time.Duration) float64
	lost    func(int) bool
	presses []press
	hangup  time.Duration // cancel the call then; 0: never
	// want
	path     string
	outcome  store.Outcome
	played   string
	messages int
	freq     float64       // the kept message's tone
	length   time.Duration // the kept message's length (±60 ms)
}

func TestVoicemail(t *testing.T) {
	// The greeting (1 s) and the beep (250 ms) end at 1.25 s: the
	// recording starts there.
	tests := []vmCase{
		{name: "pound ends, 1 keeps", flow: voicemailFlow, tone: between(440, 0, 3*time.Second),
			presses: []press{{3 * time.Second, '#'}, {4500 * time.Millisecond, '1'}},
			path:    "vm[1] bye", outcome: store.OutcomeVoicemail, played: "en/leave-message beep en/voicemail-review en/voicemail-saved",
			messages: 1, freq: 440, length: 1750 * time.Millisecond},
		{name: "silence ends, silence keeps", flow: voicemailFlow, tone: between(440, 0, 2250*time.Millisecond),
			path: "vm bye", outcome: store.OutcomeVoicemail, played: "en/leave-message beep en/voicemail-review en/voicemail-saved",
			messages: 1, freq: 440, length: time.Second + silenceKept},
		{name: "lost packets keep the length", flow: voicemailFlow, tone: between(440, 0, 3*time.Second),
			lost:    func(i int) bool { return i%5 == 0 },
			presses: []press{{3 * time.Second, '#'}, {4500 * time.Millisecond, '1'}},
			path:    "vm[1] bye", outcome: store.OutcomeVoicemail, messages: 1, freq: 440, length: 1750 * time.Millisecond},
		{name: "2 records again, then 1 keeps the second", flow: voicemailFlow,
			tone: func(t time.Duration) float64 {
				if t < 3*time.Second {
					return 440
				}
				return 880
			},
			presses: []press{{3 * time.Second, '#'}, {4500 * time.Millisecond, '2'}, {7 * time.Second, '#'}, {8500 * time.Millisecond, '1'}},
			path:    "vm[2 1] bye", outcome: store.OutcomeVoicemail,
			played:   "en/leave-message beep en/voicemail-review beep en/voicemail-review en/voicemail-saved",
			messages: 1, freq: 880, length: 7*time.Second - 4750*time.Millisecond},
		{name: "3 plays the message back", flow: voicemailFlow, tone: between(440, 0, 3*time.Second),
			presses: []press{{3 * time.Second, '#'}, {4500 * time.Millisecond, '3'}, {8 * time.Second, '1'}},
			path:    "vm[3 1] bye", outcome: store.OutcomeVoicemail,
			played:   "en/leave-message beep en/voicemail-review voicemail-message en/voicemail-review en/voicemail-saved",
			messages: 1, freq: 440, length: 1750 * time.Millisecond},
		{name: "hanging up after speaking leaves the message", flow: voicemailFlow, tone: between(440, 0, time.Hour),
			hangup: 4 * time.Second, path: "vm", outcome: store.OutcomeVoicemail, messages: 1, freq: 440, length: 2750 * time.Millisecond},
		{name: "nothing said", flow: voicemailFlow, tone: func(time.Duration) float64 { return 0 },
			path: "vm bye", outcome: store.OutcomeCompleted, played: "en/leave-message beep en/voicemail-empty"},
		{name: "max ends", flow: replaceOnce(voicemailFlow, "max: 20s", "max: 5s"), tone: between(440, 0, time.Hour),
			presses: []press{{7 * time.Second, '1'}},
			path:    "vm[1] bye", outcome: store.OutcomeVoicemail, messages: 1, freq: 440, length: 5 * time.Second},
		{name: "no review", flow: replaceOnce(voicemailFlow, "retries: 1", "review: false"), tone: between(440, 0, 3*time.Second),
			presses: []press{{3 * time.Second, '#'}},
			path:    "vm bye", outcome: store.OutcomeVoicemail, played: "en/leave-message beep en/voicemail-saved",
			messages: 1, freq: 440, length: 1750 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runVoicemail(t, tc) })
	}
}

func runVoicemail(t *testing.T, tc vmCase) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		recs, err := recording.NewDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(Config{Prompts: lib{}, Clock: newTestClock(monday10), Recordings: recs})
		if err != nil {
			t.Fatal(err)
		}
		call := &tapCall{fakeCall: newFakeCall("+84281234567")}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { call.script(ctx, tc.presses) })
		wg.Go(func() { call.send(ctx, tc.tone, tc.lost) })
		if tc.hangup > 0 {
			wg.Go(func() {
				select {
				case <-time.After(tc.hangup):
					cancel()
				case <-ctx.Done():
				}
			})
		}
		res := e.Run(ctx, call, mustFlow(t, tc.flow))
		cancel()
		wg.Wait()
		if got := pathString(res); got != tc.path {
			t.Errorf("path %q, want %q", got, tc.path)
		}
		if res.Outcome != tc.outcome {
			t.Errorf("outcome %q, want %q (err %v)", res.Outcome, tc.outcome, res.Err)
		}
		if tc.played != "" && call.Played() != tc.played {
			t.Errorf("played %q, want %q", call.Played(), tc.played)
		}
		call.mu.Lock()
		if call.tap != nil {
			t.Error("the tap is still set after the node")
		}
		call.mu.Unlock()
		files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
		if len(res.Recordings) != tc.messages || len(files) != tc.messages {
			t.Fatalf("%d recordings, %d files; want %d", len(res.Recordings), len(files), tc.messages)
		}
		if tc.messages == 0 {
			return
		}
		rec := res.Recordings[0]
		if res.Vars["voicemail"] != rec.ID || rec.Kind != recording.KindVoicemail || rec.Node != "vm" {
			t.Errorf("recording %+v, var voicemail %q", rec, res.Vars["voicemail"])
		}
		f, err := os.Open(filepath.Join(dir, recording.Key(rec.ID, recording.FormatWAV)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		p, err := media.DecodeWAV("msg", f)
		if err != nil {
			t.Fatal(err)
		}
		if d := p.Duration() - tc.length; d < -60*time.Millisecond || d > 60*time.Millisecond {
			t.Errorf("message %v long, want %v", p.Duration(), tc.length)
		}
		if rec.Duration != p.Duration() || rec.Size != int64(44+2*p.Samples()) {
			t.Errorf("recorded %v %d bytes; the file has %v", rec.Duration, rec.Size, p.Duration())
		}
		// The tone fills the message (gaps from loss are silence, 20%).
		if share := media.ToneShare(p.PCM(), tc.freq); share < 0.6 {
			t.Errorf("%v Hz share %.2f of the message", tc.freq, share)
		}
	})
}

// TestKeyStart places the end key in the track: an RFC 4733 key whose
// phone went quiet cuts nothing; a key in the audio cuts its tone.
func TestKeyStart(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    media.Digit
		last time.Time
		want int
	}{
		{"no frame yet", media.Digit{At: at}, time.Time{}, 8000},
		{"rfc 4733 after the audio stopped", media.Digit{At: at, Source: media.SourceRFC4733}, at.Add(-50 * time.Millisecond), 8000},
		{"rfc 4733 during audio", media.Digit{At: at, Source: media.SourceRFC4733}, at.Add(100 * time.Millisecond), 8000 - 800},
		{"in-band", media.Digit{At: at, Source: media.SourceInband}, at.Add(100 * time.Millisecond), 8000 - 800 - recording.Samples(keyMargin)},
		{"never before the start", media.Digit{At: at, Source: media.SourceInband}, at.Add(time.Hour), 0},
	}
	for _, tt := range tests {
		if got := keyStart(tt.d, tt.last, 8000, 8000); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
