package sip

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestInfoDigitsInOutboundCall: the called party of an outbound call (a
// callback customer whose phone sends keys as INFO) reaches the call's
// digits like RFC 4733 keys do; a body that is not DTMF is refused with
// 415 and a bad one with 400, and no digit comes of them.
func TestInfoDigitsInOutboundCall(t *testing.T) {
	h := newWaitHandler()
	r := newRig(t, h, nil)
	oc := r.dial("100", DialOptions{})
	c := <-h.calls
	info := func(ctype, body string) int {
		t.Helper()
		req := sip.NewRequest(sip.INFO, c.dialog.InviteRequest.Contact().Address)
		req.AppendHeader(sip.NewHeader("Content-Type", ctype))
		req.SetBody([]byte(body))
		res, err := c.dialog.Do(r.ctx, req)
		if err != nil {
			t.Fatalf("INFO: %v", err)
		}
		return res.StatusCode
	}
	for _, s := range []struct {
		name, ctype, body string
		want              int
	}{
		{"not DTMF", "application/broadsoft", "event=flashhook", 415},
		{"bad key", "application/dtmf-relay", "Signal=x\r\nDuration=160\r\n", 400},
		{"key 1", "application/dtmf-relay", "Signal=1\r\nDuration=160\r\n", 200},
	} {
		if got := info(s.ctype, s.body); got != s.want {
			t.Fatalf("%s: %d, want %d", s.name, got, s.want)
		}
	}
	select {
	case d := <-oc.Media().Digits():
		if d.Key != '1' {
			t.Fatalf("digit %q, want '1' (the refused INFOs must not yield one)", d.Key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the INFO key never reached the outbound call's digits")
	}
	if err := oc.Hangup(r.ctx); err != nil {
		t.Fatal(err)
	}
}
