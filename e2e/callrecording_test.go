package e2e

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// A caller (Go user agent) dials the straight-to-technical number; the
// agent's phone (another Go user agent) sends 440 Hz, the caller 1000 Hz.
// With recording on, the caller hears the recording notice before the
// agent's voice, and the call's interaction has one call recording that
// the API serves: mixed, one channel with both tones; split, two channels,
// the caller's tone on the left and the agent's on the right. With
// recording off, the interaction has none and no file is written.
func TestQueueCallRecording(t *testing.T) {
	for _, mode := range []string{config.RecordingMixed, config.RecordingSplit, "off"} {
		t.Run(mode, func(t *testing.T) { queueCallRecording(t, mode) })
	}
}

// callerEar keeps everything the caller hears (up to two minutes).
type callerEar struct {
	mu  sync.Mutex
	pcm []int16
}

func (e *callerEar) sink(p []int16) {
	e.mu.Lock()
	if len(e.pcm) < 120*media.SampleRate {
		e.pcm = append(e.pcm, p...)
	}
	e.mu.Unlock()
}

func (e *callerEar) snapshot() []int16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int16(nil), e.pcm...)
}

func queueCallRecording(t *testing.T, mode string) {
	leakCheck(t)
	agent := startAgentPhone(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", URI: "sip:lan@" + agent.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
		if mode != "off" {
			q := c.Queues["technical"]
			q.Recording = config.QueueRecording{Enabled: true, Announce: config.DefaultRecordingAnnounce, Channels: mode,
				Retention: config.DefaultRecordingRetention}
			c.Queues["technical"] = q
		}
	})
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)
	_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	var ear callerEar
	call.Media().SetAudioSink(ear.sink)
	id := call.ID()
	// A phone sends RTP all along (silence too): Hotline's strict RTP stops
	// sending to a far end it has not heard for 5 s, and so would the
	// agent's phone.
	quietCtx, stopQuiet := context.WithCancel(context.Background())
	quiet := make(chan struct{})
	go func() {
		defer close(quiet)
		_ = call.Media().Play(quietCtx, media.NewPromptPCM("caller-quiet", make([]int16, 60*media.SampleRate)))
	}()
	defer func() { stopQuiet(); <-quiet }()
	h.waitEvent(30*time.Second, "bridge to the agent", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == id
	})
	select {
	case <-agent.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("agent phone never got the call")
	}
	// Wait until the caller hears the agent (a second of 440 Hz).
	deadline := time.Now().Add(15 * time.Second)
	for firstTone(ear.snapshot(), 440) < 0 || len(ear.snapshot()) < firstTone(ear.snapshot(), 440)+media.SampleRate {
		if time.Now().After(deadline) {
			e := ear.snapshot()
			t.Fatalf("the caller never heard the agent's phone (heard %v, 440 Hz from %v, notice at %v)", samplesDur(len(e)), samplesDur(firstTone(e, 440)), samplesDur(noticeAt(t, e)))
		}
		time.Sleep(20 * time.Millisecond) // polling the ear, not synchronising
	}
	stopQuiet()
	<-quiet
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(t, call.Media().Play(ctx, media.NewPromptPCM("caller-tone", media.Tone([]float64{1000}, 3*time.Second))))
	cancel()
	close(agent.hangup)
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("caller not hung up after the agent hung up")
	}

	heard := ear.snapshot()
	agentAt := firstTone(heard, 440)
	notice := noticeAt(t, heard)
	it := h.interaction(id)
	v := it.Voice
	files, _ := filepath.Glob(filepath.Join(h.dir, "recordings", "*.wav"))
	if mode == "off" {
		if len(v.Recordings) != 0 || len(files) != 0 {
			t.Fatalf("recording off: recordings %+v, files %v", v.Recordings, files)
		}
		if notice >= 0 {
			t.Errorf("recording off: the caller heard the recording notice at %v", samplesDur(notice))
		}
		return
	}
	if notice < 0 || agentAt < 0 || notice > agentAt {
		t.Errorf("the notice at %v, the agent first heard at %v: want the notice first", samplesDur(notice), samplesDur(agentAt))
	}
	if len(v.Recordings) != 1 || len(files) != 1 {
		t.Fatalf("recordings %+v, files %v; want one", v.Recordings, files)
	}
	rec := v.Recordings[0]
	if rec.Kind != store.RecordingCall || rec.Queue != "technical" || rec.InteractionID != it.ID || rec.CallID != id || rec.Format != recording.FormatWAV {
		t.Fatalf("recording %+v (interaction %d)", rec, it.ID)
	}
	if talk := time.Duration(v.TalkSeconds * float64(time.Second)); absDur(time.Duration(rec.DurationMillis)*time.Millisecond-talk) > time.Second {
		t.Errorf("recording %d ms long, talk time %v", rec.DurationMillis, talk)
	}
	wav := fetchRecording(t, h, rec.ID)
	ch, err := recording.ReadWAV(bytes.NewReader(wav))
	must(t, err)
	const caller, agentHz, neither = 1000.0, 440.0, 700.0
	switch mode {
	case config.RecordingMixed:
		if len(ch) != 1 {
			t.Fatalf("mixed: %d channels", len(ch))
		}
		m := ch[0]
		if c, a, n := media.TonePower(m, caller), media.TonePower(m, agentHz), media.TonePower(m, neither); c < 20*n || a < 20*n {
			t.Errorf("mixed: caller 1 kHz power %.3g, agent 440 Hz %.3g, 700 Hz (neither) %.3g", c, a, n)
		}
		if d := toneLength(m, caller); absDur(d-3*time.Second) > 300*time.Millisecond {
			t.Errorf("mixed: the caller's 3 s tone lasts %v", d)
		}
	case config.RecordingSplit:
		if len(ch) != 2 {
			t.Fatalf("split: %d channels", len(ch))
		}
		l, r := ch[0], ch[1]
		if media.TonePower(l, caller) < 20*media.TonePower(l, agentHz) {
			t.Errorf("split: left (caller) 1 kHz %.3g vs 440 Hz %.3g", media.TonePower(l, caller), media.TonePower(l, agentHz))
		}
		if media.TonePower(r, agentHz) < 20*media.TonePower(r, caller) {
			t.Errorf("split: right (agent) 440 Hz %.3g vs 1 kHz %.3g", media.TonePower(r, agentHz), media.TonePower(r, caller))
		}
		if d := toneLength(l, caller); absDur(d-3*time.Second) > 300*time.Millisecond {
			t.Errorf("split: the caller's 3 s tone lasts %v on the left", d)
		}
	}
	// Deleted (as the retention sweep does): the API answers 404.
	st, err := h.app.Store(t.Context())
	must(t, err)
	must(t, st.(store.Recordings).DeleteRecording(t.Context(), rec.ID, time.Now()))
	if code := getStatus(t, h, "/api/v1/recordings/"+rec.ID); code != http.StatusNotFound {
		t.Errorf("a deleted recording: %d, want 404", code)
	}
}

func fetchRecording(t *testing.T, h *harness, id string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+h.app.HTTPAddr().String()+"/api/v1/recordings/"+id, nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("GET recording %s: %s %q", id, resp.Status, resp.Header.Get("Content-Type"))
	}
	return b
}

func getStatus(t *testing.T, h *harness, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+h.app.HTTPAddr().String()+path, nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// firstTone is where freq first holds for 100 ms (5 windows of 20 ms), in
// samples; -1 when never.
func firstTone(pcm []int16, freq float64) int {
	run := 0
	for i := 0; i+160 <= len(pcm); i += 160 {
		if media.ToneShare(pcm[i:i+160], freq) > 0.5 {
			run++
			if run == 5 {
				return i - 4*160
			}
		} else {
			run = 0
		}
	}
	return -1
}

// toneLength is how long freq dominates pcm, by 20 ms windows.
func toneLength(pcm []int16, freq float64) time.Duration {
	n := 0
	for i := 0; i+160 <= len(pcm); i += 160 {
		if media.ToneShare(pcm[i:i+160], freq) > 0.3 {
			n++
		}
	}
	return time.Duration(n) * 20 * time.Millisecond
}

// noticeAt finds the recording notice (prompts/en/recording-notice.wav) in
// what the caller heard: where a 250 ms piece from its middle matches
// best, if the match is close (normalised correlation above 0.8, G.711
// twice keeps far more); -1 when it is not there.
func noticeAt(t *testing.T, heard []int16) int {
	t.Helper()
	b, err := os.ReadFile("../prompts/en/" + config.DefaultRecordingAnnounce + ".wav")
	must(t, err)
	p, err := media.DecodeWAV("notice", bytes.NewReader(b))
	must(t, err)
	ref := p.PCM()
	mid := len(ref) / 2
	piece := ref[mid : mid+2000]
	var pe float64
	for _, v := range piece {
		pe += float64(v) * float64(v)
	}
	best, at := 0.0, -1
	for off := 0; off+len(piece) <= len(heard); off += 2 {
		var dot, he float64
		for i, v := range piece {
			x := float64(heard[off+i])
			dot += float64(v) * x
			he += x * x
		}
		if he == 0 {
			continue
		}
		if c := dot / math.Sqrt(pe*he); c > best {
			best, at = c, off
		}
	}
	if best < 0.8 {
		return -1
	}
	return at - mid
}

func samplesDur(n int) time.Duration { return time.Duration(n) * time.Second / media.SampleRate }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
