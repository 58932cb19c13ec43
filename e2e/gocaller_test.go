package e2e

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/testcall"
)

// leakCheck registers, before anything else, a cleanup that runs last: every
// goroutine the test started (server, calls, clients) must be gone.
func leakCheck(t *testing.T) {
	opts := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opts) })
}

// audioMeter counts received frames that are not silence.
type audioMeter struct{ loud, frames atomic.Int64 }

func (m *audioMeter) sink(pcm []int16) {
	m.frames.Add(1)
	var peak int16
	for _, s := range pcm {
		if s < 0 {
			s = -s
		}
		peak = max(peak, s)
	}
	if peak > 500 {
		m.loud.Add(1)
	}
}

func dial(t *testing.T, h *harness, uri string, o sip.DialOptions) (*sip.Client, *sip.OutboundCall, *audioMeter) {
	t.Helper()
	c := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", InactivityTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := c.Dial(ctx, uri, o)
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	m := &audioMeter{}
	call.Media().SetAudioSink(m.sink)
	return c, call, m
}

// menus walks menus: for each (node, keys) pair it waits until the server
// says the call is in node, then presses keys over RFC 4733.
func (h *harness) menus(call *sip.OutboundCall, nodeKeys ...string) {
	h.t.Helper()
	for i := 0; i+1 < len(nodeKeys); i += 2 {
		h.node(call.ID(), nodeKeys[i])
		press(h.t, call, nodeKeys[i+1], media.SourceRFC4733)
	}
}

func press(t *testing.T, call *sip.OutboundCall, keys string, src media.DigitSource) {
	t.Helper()
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if src == media.SourceINFO {
			err = call.SendINFO(ctx, k, 120*time.Millisecond)
		} else {
			err = call.Media().SendDigit(ctx, k, 120*time.Millisecond, src)
		}
		cancel()
		if err != nil {
			t.Fatalf("send %q via %s: %v", k, src, err)
		}
	}
}

// The shipped support flow, self-service branch: English, order status, an
// order number read back and confirmed, the HTTP lookup, the status read out,
// silence → goodbye and Hotline hangs up. Digits are sent when the server
// says the caller has reached each menu.
func TestSupportFlowOrderStatusOverRFC4733(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	_, call, meter := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()

	h.menus(call, "language", "1", "main", "3", "order", "123453#")
	h.waitEvent(20*time.Second, "read-back of the order number", func(e events.Event) bool {
		return e.CallID == id && e.Type == events.PromptPlayed && payload[ivr.PromptPlay](e).Prompt == "you-entered"
	})
	press(t, call, "1", media.SourceRFC4733)
	h.node(id, "say-shipped")
	h.node(id, "after-status")

	select { // no answer at after-status → goodbye → Hotline sends BYE
	case <-call.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("Hotline did not hang up; events:\n%s", h.dump())
	}
	h.waitEvent(10*time.Second, "call.ended", func(e events.Event) bool { return e.CallID == id && e.Type == events.CallEnded })

	var digits []string
	for _, e := range h.callEvents(id) {
		if d := payload[ivr.DigitPress](e); e.Type == events.DigitPressed {
			if d.Source != string(media.SourceRFC4733) {
				t.Errorf("digit %v from source %v, want rfc4733", d.Digit, d.Source)
			}
			digits = append(digits, d.Digit)
		}
	}
	// 1 (language), 3 (main), 123453# (order number), 1 (confirm).
	if got := strings.Join(digits, ""); got != "13123453#1" {
		t.Errorf("digits seen by the server = %q, want 13123453#1", got)
	}
	if loud := meter.loud.Load(); loud < 100 { // 2 s of non-silent prompt audio at least
		t.Errorf("caller heard %d non-silent frames of %d, want prompts", loud, meter.frames.Load())
	}

	it := h.interaction(id)
	v := it.Voice
	if v.Outcome != store.OutcomeCompleted || v.HangupSide != "hotline" || v.FlowName != "support" {
		t.Errorf("voice record = outcome %q side %q flow %q", v.Outcome, v.HangupSide, v.FlowName)
	}
	if v.CallerNumber != "0912345678" || v.CalledNumber != "100" {
		t.Errorf("numbers = %q → %q", v.CallerNumber, v.CalledNumber)
	}
	want := []string{"welcome", "language", "set-en", "hours", "main", "order-start", "order", "order-lookup", "order-status", "say-shipped", "after-status"}
	if p := path(it); !slices.Equal(p[:min(len(p), len(want))], want) {
		t.Errorf("IVR path = %v, want prefix %v", p, want)
	}
	ctx := context.Background()
	st, _ := h.app.Store(ctx)
	tk, err := st.GetTicket(ctx, it.TicketID)
	must(t, err)
	if tk.Category != "order-status" {
		t.Errorf("ticket category = %q, want order-status (set by the flow)", tk.Category)
	}
	cust, err := st.GetCustomer(ctx, it.CustomerID)
	must(t, err)
	if !slices.Contains(cust.Phones, "+84912345678") {
		t.Errorf("customer phones = %v, want the caller normalised to +84912345678", cust.Phones)
	}

	h.shutdown()
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports still in use after the call", n)
	}
}

// SIP INFO digits, and in-band tones on a PCMA call (the server detects them
// with its Goertzel detector), walk the short e2e flow.
func TestDigitsOverINFOAndInband(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) { c.Media.InbandDTMF = "always" })
	for _, tc := range []struct {
		src    media.DigitSource
		codecs []media.Codec
	}{
		{media.SourceINFO, []media.Codec{media.PCMU}},
		{media.SourceInband, []media.Codec{media.PCMA}},
	} {
		_, call, _ := dial(t, h, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "+84281234567", Codecs: tc.codecs})
		id := call.ID()
		h.node(id, "first")
		press(t, call, "1", tc.src)
		h.node(id, "second")
		press(t, call, "3", tc.src)
		h.node(id, "done")
		<-call.Done()
		for _, e := range h.callEvents(id) {
			if d := payload[ivr.DigitPress](e); e.Type == events.DigitPressed && d.Source != string(tc.src) {
				t.Errorf("%s call: digit %v arrived as %v", tc.src, d.Digit, d.Source)
			}
		}
		if it := h.interaction(id); !slices.Equal(path(it), []string{"welcome", "first", "second", "done"}) {
			t.Errorf("%s call path = %v", tc.src, path(it))
		}
	}
	h.shutdown()
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports still in use", n)
	}
}

// `hotline dial`'s engine (testcall.Run) against the server: digits on a
// schedule, recording, and the caller hangs up first.
func TestHotlineDialCaller(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	res, err := testcall.Run(context.Background(), testcall.Options{
		URI: "sip:200@" + h.sipAddr("udp"), From: "0281234567",
		Digits:   mustSchedule(t, "1@7s"),
		Duration: 9 * time.Second,
	}, io.Discard)
	if err != nil {
		t.Fatalf("testcall.Run: %v", err)
	}
	if !res.Answered || res.HungUpBy != sip.SideLocal || res.SeqGaps != 0 || res.NonSilent < 2*time.Second {
		t.Errorf("result: answered %v hung up by %q seq gaps %d non-silent %v", res.Answered, res.HungUpBy, res.SeqGaps, res.NonSilent)
	}
	e := h.waitEvent(10*time.Second, "call.ended", func(e events.Event) bool { return e.Type == events.CallEnded })
	h.node(e.CallID, "second")
	if it := h.interaction(e.CallID); it.Voice.Outcome != store.OutcomeAbandonedIVR || it.Voice.HangupSide != "caller" {
		t.Errorf("record: outcome %q side %q, want abandoned_ivr by the caller", it.Voice.Outcome, it.Voice.HangupSide)
	}
	h.shutdown()
}

func mustSchedule(t *testing.T, s string) []testcall.Step {
	steps, err := testcall.ParseSchedule(s)
	must(t, err)
	return steps
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
