package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// Shared-port media mode end to end: three Go callers on 127.0.0.1 (they
// send RTP from their SDP address) walk the short flow at once on one
// shared RTP port; each hears its prompts and its RFC 4733 digits reach its
// own call over the shared socket, no per-call port is taken, and the
// shared port is left with no call once they hang up.
func TestSharedPortCalls(t *testing.T) {
	leakCheck(t)
	shared := toolPorts.Block(t).Media()
	h := start(t, func(c *config.Config) {
		c.Media.SharedPorts = []int{shared}
		c.Media.SharedPortNetworks = []string{"127.0.0.0/8"}
	})
	const calls = 3
	type leg struct {
		call  *sip.OutboundCall
		meter *audioMeter
	}
	var legs []leg
	for range calls {
		_, call, m := dial(t, h, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "+84281234567", Codecs: []media.Codec{media.PCMU}})
		legs = append(legs, leg{call, m})
	}
	for _, l := range legs {
		h.node(l.call.ID(), "first")
	}
	if st := h.app.Ports().SharedStats(); st.Calls != calls || h.app.Ports().InUse() != 0 {
		t.Errorf("%d calls on the shared port, %d per-call ports; want %d and 0", st.Calls, h.app.Ports().InUse(), calls)
	}
	// The calls stay up together while each walks the menus (the
	// harness's event wait is not for concurrent use: one call at a time).
	for _, l := range legs {
		press(t, l.call, "1", media.SourceRFC4733)
	}
	for _, l := range legs {
		h.node(l.call.ID(), "second")
		press(t, l.call, "3", media.SourceRFC4733)
	}
	for _, l := range legs {
		h.node(l.call.ID(), "done")
	}
	for i, l := range legs {
		select {
		case <-l.call.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("call %d: Hotline did not hang up", i)
		}
		id := l.call.ID()
		var digits []string
		for _, e := range h.callEvents(id) {
			if e.Type == events.DigitPressed {
				digits = append(digits, payload[ivr.DigitPress](e).Digit)
			}
		}
		if !slices.Equal(digits, []string{"1", "3"}) {
			t.Errorf("call %d: digits %v, want [1 3]", i, digits)
		}
		if loud := l.meter.loud.Load(); loud < 25 {
			t.Errorf("call %d heard %d non-silent frames of %d, want its prompts", i, loud, l.meter.frames.Load())
		}
		if it := h.interaction(id); !slices.Equal(path(it), []string{"welcome", "first", "second", "done"}) {
			t.Errorf("call %d path = %v", i, path(it))
		}
	}
	h.shutdown()
	if st := h.app.Ports().SharedStats(); st.Calls != 0 || st.Batched == 0 {
		t.Errorf("after the calls: %d shared calls, %d packets batched; want 0 and some", st.Calls, st.Batched)
	}
}
