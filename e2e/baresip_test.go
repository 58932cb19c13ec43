package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/media"
)

// baresip calls the e2e flow, presses keys with RFC 4733 when the server
// says the menu is there, and Hotline hangs up at the end of the flow.
func TestBaresipCaller(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	b := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.caller", Tone: 1000})
	b.Command("dial", "sip:200@"+h.sipAddr("udp"))
	b.WaitEvent(10*time.Second, "CALL_ESTABLISHED")

	h.node("", "first")
	b.Command("sndcode", "1")
	h.node("", "second")
	b.Command("sndcode", "3")
	h.node("", "done")
	closed := b.WaitEvent(20*time.Second, "CALL_CLOSED")
	t.Logf("baresip: call closed: %v", closed.Param)

	id := h.waitEvent(time.Second, "call", func(e events.Event) bool { return e.Type == "call.started" }).CallID
	it := h.interaction(id)
	if !slices.Equal(path(it), []string{"welcome", "first", "second", "done"}) || it.Voice.HangupSide != "hotline" {
		t.Errorf("path %v side %q", path(it), it.Voice.HangupSide)
	}
	assertDigits(t, h, id, "13", media.SourceRFC4733)
	if it.Voice.PacketsLost != 0 {
		t.Errorf("server counted %d lost packets from baresip", it.Voice.PacketsLost)
	}

	// What baresip heard: the prompts (welcome, two menus, goodbye ≈ 10 s).
	var heard audioMeter
	b.Heard(heard.sink)
	if d := time.Duration(heard.loud.Load()) * 20 * time.Millisecond; d < 5*time.Second {
		t.Errorf("baresip heard %v of audio, want the prompts (> 5 s)", d)
	}
	h.shutdown()
}
