package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

const vmReadToken = "vm-read-0123456789abcdef"

// A real caller (Go user agent over SIP/RTP) reaches the shipped flow after
// hours, presses 1 to leave a message, sends a 600 Hz tone for 1.5 s, ends
// with # (RFC 4733, or in-band tones) and keeps it with 1. The stored WAV has the tone at
// 600 Hz for 1.5 s (±100 ms) and not the beep; the call's voice
// interaction on the ticket has the recording; the API serves it whole
// and by range to a read token, and refuses a request with no token.
func TestVoicemailEndToEnd(t *testing.T) {
	for _, src := range []media.DigitSource{media.SourceRFC4733, media.SourceInband} {
		t.Run(string(src), func(t *testing.T) { voicemailEndToEnd(t, src, false) })
	}
	// Most callers end a message by hanging up: it is kept.
	t.Run("hang-up", func(t *testing.T) { voicemailEndToEnd(t, media.SourceRFC4733, true) })
}

func voicemailEndToEnd(t *testing.T, src media.DigitSource, hangUp bool) {
	leakCheck(t)
	h := startVoicemail(t, src)
	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	h.menus(call, "language", "1", "closed-menu", "1")
	h.node(id, "voicemail")
	h.waitBeep(id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(t, call.Media().Play(ctx, media.NewPromptPCM("caller-tone", media.Tone([]float64{600}, vmToneLen))))
	cancel()
	if hangUp {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		must(t, call.Hangup(ctx))
		cancel()
	} else {
		press(t, call, "#", src)
		h.waitDigit(id, "#")
		press(t, call, "1", src)
	}
	select {
	case <-call.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("Hotline did not hang up after the message; events:\n%s", h.dump())
	}
	checkVoicemail(t, h, id)
}

// vmToneLen is how long the caller's 600 Hz tone lasts in the message.
const vmToneLen = 1500 * time.Millisecond

// startVoicemail starts Hotline with the shipped flow after hours (the
// office closed today and tomorrow) and a read token for the recordings API.
func startVoicemail(t *testing.T, src media.DigitSource) *harness {
	t.Helper()
	return start(t, func(c *config.Config) { afterHours(t, c, src) })
}

// afterHours closes the office today and tomorrow in its zone (the
// shipped flow then offers voicemail) and adds the read token.
func afterHours(t *testing.T, c *config.Config, src media.DigitSource) {
	t.Helper()
	if src == media.SourceInband {
		c.Media.InbandDTMF = "always"
	}
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	must(t, err)
	now := time.Now().In(loc)
	cal := c.Calendars["office"]
	cal.Holidays = []string{now.Format(time.DateOnly), now.AddDate(0, 0, 1).Format(time.DateOnly)}
	c.Calendars["office"] = cal
	c.HTTP.Tokens = append(c.HTTP.Tokens, config.Token{Name: "reader", Secret: vmReadToken, Scope: "read"})
}

// waitBeep waits until the voicemail node has played its beep: the
// recording runs from there.
func (h *harness) waitBeep(id string) {
	h.t.Helper()
	h.waitEvent(30*time.Second, "the beep", func(e events.Event) bool {
		return e.CallID == id && e.Type == events.PromptPlayed && payload[ivr.PromptPlay](e).Prompt == "beep"
	})
}

func (h *harness) waitDigit(id, digit string) {
	h.t.Helper()
	h.waitEvent(10*time.Second, "the "+digit+" pressed", func(e events.Event) bool {
		return e.CallID == id && e.Type == events.DigitPressed && payload[ivr.DigitPress](e).Digit == digit
	})
}

// checkVoicemail checks a call that left a vmToneLen 600 Hz tone as a
// voicemail and has ended: the ticket, the stored file, the API and the
// audio. It returns the recording and its WAV as the API served it.
func checkVoicemail(t *testing.T, h *harness, id string) (store.Recording, []byte) {
	t.Helper()
	// The ticket history: one voice interaction with the message.
	it := h.interaction(id)
	v := it.Voice
	if v.Outcome != store.OutcomeVoicemail || len(v.Recordings) != 1 || !strings.Contains(it.Summary, "voicemail") {
		t.Fatalf("interaction: outcome %q, recordings %+v, summary %q", v.Outcome, v.Recordings, it.Summary)
	}
	rec := v.Recordings[0]
	if rec.Kind != store.RecordingVoicemail || rec.Format != recording.FormatWAV || rec.InteractionID != it.ID || rec.CallID != id {
		t.Fatalf("recording %+v (interaction %d)", rec, it.ID)
	}
	st, err := h.app.Store(t.Context())
	must(t, err)
	tk, err := st.GetTicket(t.Context(), it.TicketID)
	must(t, err)
	if !slices.Contains(tk.Tags, "voicemail") {
		t.Errorf("ticket tags %v, want voicemail", tk.Tags)
	}
	// The audio where recordings.store puts it: a file under
	// recordings.dir, or rows in the database and no file.
	key := recording.Key(rec.ID, rec.Format)
	_, fileErr := os.Stat(filepath.Join(h.dir, "recordings", key))
	switch h.recordings {
	case config.RecordingsDatabase:
		info, err := st.(store.RecordingAudio).StatAudio(t.Context(), key)
		if err != nil || info.Size != rec.Size {
			t.Errorf("the audio in the database: %+v, %v (recorded %d bytes)", info, err, rec.Size)
		}
		if !os.IsNotExist(fileErr) {
			t.Errorf("a file under recordings.dir with recordings.store database: %v", fileErr)
		}
	default:
		if fileErr != nil {
			t.Errorf("the file under recordings.dir: %v", fileErr)
		}
	}

	// The API: whole, by range, and not without a token.
	get := func(token string, header map[string]string) (int, http.Header, []byte) {
		return getRecording(t, h.app.HTTPAddr().String(), rec.ID, token, header)
	}
	status, hdr, wav := get(vmReadToken, nil)
	if status != 200 || hdr.Get("Content-Type") != "audio/wav" || int64(len(wav)) != rec.Size {
		t.Fatalf("GET: %d %q, %d bytes (recorded %d)", status, hdr.Get("Content-Type"), len(wav), rec.Size)
	}
	status, hdr, part := get(vmReadToken, map[string]string{"Range": "bytes=1000-2999"})
	if status != http.StatusPartialContent || !bytes.Equal(part, wav[1000:3000]) ||
		hdr.Get("Content-Range") != "bytes 1000-2999/"+strconv.Itoa(len(wav)) {
		t.Fatalf("range: %d %q, %d bytes", status, hdr.Get("Content-Range"), len(part))
	}
	if status, _, _ := get("", nil); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", status)
	}

	// The audio: the caller's tone at 600 Hz for its length, no beep.
	p, err := media.DecodeWAV("message", bytes.NewReader(wav))
	must(t, err)
	pcm := p.PCM()
	const win = 160 // 20 ms
	var toneWins int
	for i := 0; i+win <= len(pcm); i += win {
		if media.ToneShare(pcm[i:i+win], 600) > 0.5 {
			toneWins++
		}
	}
	heard := time.Duration(toneWins) * 20 * time.Millisecond
	if d := heard - vmToneLen; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("the tone lasts %v in the message, sent %v (message %v long)", heard, vmToneLen, p.Duration())
	}
	if d := time.Duration(rec.DurationMillis)*time.Millisecond - p.Duration(); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("recorded duration %d ms, the file has %v", rec.DurationMillis, p.Duration())
	}
	if s := media.ToneShare(pcm, 1000); s > 0.05 {
		t.Errorf("the beep (1 kHz) is in the message: share %.2f", s)
	}
	if s := media.ToneShare(pcm[max(0, len(pcm)-1600):], 1477); s > 0.05 { // # is 941 + 1477 Hz
		t.Errorf("the # tone is at the end of the message: share %.2f", s)
	}
	return rec, wav
}

// getRecording is GET /api/v1/recordings/{id} on addr with token (none when
// empty) and extra headers (a Range): status, headers, body.
func getRecording(t *testing.T, addr, id, token string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/api/v1/recordings/"+id, nil)
	must(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, body
}
