package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/sip"
)

// sayFlow is a self-service flow: a lookup answers a delivery date and an
// amount, a say node says the date and a play node the amount.
const sayFlow = `flow: say-%s
numbers: ["%s"]
languages: [%s]
nodes:
  look:
    type: http
    lookup: bill
    assign: {delivery: delivery, amount: amount}
    next: when
    on_failure: bye
  when:
    type: say
    prompts: [goodbye]
    say: delivery
    as: date
    next: total
  total:
    type: play
    prompts: [{say: amount, as: money}]
    next: bye
  # A goodbye after the values: the call's last audio, which the caller
  # may lose when the BYE overtakes its last frames, is not one checked.
  bye: {type: hangup, prompts: [goodbye]}
`

// A real call (Go caller over SIP/RTP) into a flow whose lookup returns a
// date and an amount: the prompts the server played, as its events name
// them, are the lead-in and then exactly the fragments package say makes
// of the values, in order, each found in the call's language and played
// with audio (duration_ms > 0); and what the caller heard holds each
// fragment file's audio (prompts/<lang>/<name>.wav through G.711), in
// that order. English, Vietnamese and Thai.
func TestSayLookupValuesEndToEnd(t *testing.T) {
	leakCheck(t)
	bill := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"delivery": "2027-03-21", "amount": "1250000 VND"})
	}))
	t.Cleanup(bill.Close)
	h := start(t, func(c *config.Config) {
		c.Lookups["bill"] = config.Lookup{URL: bill.URL + "/bill", Method: "GET", Timeout: 2 * time.Second}
		for _, f := range [][3]string{{"en", "701", "en"}, {"vi", "702", "vi, en"}, {"th", "703", "th"}} {
			must(t, os.WriteFile(filepath.Join(c.Flows.Dir, "say-"+f[0]+".yaml"), fmt.Appendf(nil, sayFlow, f[0], f[1], f[2]), 0o644))
		}
	})
	now := time.Now()
	for _, tc := range []struct{ lang, number string }{{"en", "701"}, {"vi", "702"}, {"th", "703"}} {
		t.Run(tc.lang, func(t *testing.T) {
			_, call, _ := dial(t, h, "sip:"+tc.number+"@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
			heard := &pcmRecorder{}
			call.Media().SetAudioSink(heard.sink) // the lookup runs first: nothing said yet
			// The caller sends silence: Hotline stops sending to a far end
			// that never answers with RTP (UnansweredSendLimit).
			talk, quiet := context.WithCancel(t.Context())
			defer quiet()
			go func() { _ = call.Media().Play(talk, media.NewPromptPCM("silence", make([]int16, 60*media.SampleRate))) }()
			id := call.ID()
			select {
			case <-call.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("Hotline did not hang up; events:\n%s", h.dump())
			}
			h.waitEvent(10*time.Second, "call.ended", func(e events.Event) bool { return e.CallID == id && e.Type == events.CallEnded })

			date, err := say.Value(tc.lang, say.KindDate, "2027-03-21", now, nil)
			must(t, err)
			money, err := say.Value(tc.lang, say.KindMoney, "1250000 VND", now, nil)
			must(t, err)
			want := append(append(append([]string{"goodbye"}, date...), money...), "goodbye")
			var got []string
			for _, e := range h.callEvents(id) {
				if e.Type != events.PromptPlayed {
					continue
				}
				p := payload[ivr.PromptPlay](e)
				got = append(got, p.Prompt)
				if p.Missing || p.Lang != tc.lang || p.DurationMS <= 0 {
					t.Errorf("prompt %s: lang %q missing %v duration %d ms", p.Prompt, p.Lang, p.Missing, p.DurationMS)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("prompts played = %v\nwant %v", got, want)
			}
			// What the caller heard holds each fragment's audio, in order.
			heard.mu.Lock()
			defer heard.mu.Unlock()
			if err := hearsInOrder(heard.pcm, tc.lang, append(date, money...)); err != nil {
				t.Error(err)
			}
		})
	}
}

// hearsInOrder finds each prompt file's audio, as G.711 carries it, in
// rec one after the other: a fragment's first loud 20 ms, sample for
// sample, then the rest of it (all but a little: the last frame may be
// cut). Silent fragments (the pause) are skipped.
func hearsInOrder(rec []int16, lang string, names []string) error {
	at := 0
	for _, name := range names {
		p, err := media.LoadPrompt(filepath.Join("..", "prompts", lang, name+".wav"))
		if err != nil {
			return err
		}
		var want []int16
		for _, c := range []media.Codec{media.PCMU, media.PCMA} {
			w := g711Decode(c, p.Payload(c))
			if i, k := find(rec, w, at); i >= 0 {
				want, at = w, i+len(w)-k
				break
			}
		}
		if loud(p.PCM()) < 0 {
			continue
		}
		if want == nil {
			return fmt.Errorf("%s/%s: not heard after sample %d of %d", lang, name, at, len(rec))
		}
	}
	return nil
}

// loud is the first sample of a 20 ms window that is not silence, or -1.
func loud(pcm []int16) int {
	for i := 0; i+160 <= len(pcm); i++ {
		if pcm[i] > 1000 || pcm[i] < -1000 {
			return i
		}
	}
	return -1
}

// find returns where want's loud part starts in rec at or after from, and
// that offset within want: its first loud 160 samples match exactly and
// at least 98% of the rest does. -1 if nowhere.
func find(rec, want []int16, from int) (int, int) {
	k := loud(want)
	if k < 0 {
		return -1, 0
	}
	head := want[k : k+160]
	for i := from; i+len(head) <= len(rec); i++ {
		if !slices.Equal(rec[i:i+len(head)], head) {
			continue
		}
		rest, same := want[k:], 0
		for j := range rest {
			if i+j < len(rec) && rec[i+j] == rest[j] {
				same++
			}
		}
		if same*100 >= len(rest)*98 {
			return i, k
		}
	}
	return -1, 0
}

func g711Decode(c media.Codec, b []byte) []int16 {
	out := make([]int16, len(b))
	for i, v := range b {
		if c == media.PCMU {
			out[i] = g711.DecodeUlawFrame(v)
		} else {
			out[i] = g711.DecodeAlawFrame(v)
		}
	}
	return out
}
