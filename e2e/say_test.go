package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
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
  bye: {type: hangup}
`

// A real call (Go caller over SIP/RTP) into a flow whose lookup returns a
// date and an amount: the prompts the server played, as its events name
// them, are the lead-in and then exactly the fragments package say makes
// of the values, in order, each found in the call's language and played
// with audio (duration_ms > 0).
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
			want := append(append([]string{"goodbye"}, date...), money...)
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
		})
	}
}
