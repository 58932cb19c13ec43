package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// SIGTERM behaviour: once shutdown starts new INVITEs get 503, a live call
// keeps going until the drain time runs out, then Hotline sends it BYE.
func TestShutdownDrainsThenHangsUp(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) { c.SIP.DrainTime = 2 * time.Second })
	client, live, _ := dial(t, h, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "0281234567"})
	h.node(live.ID(), "first")

	stop := h.stop
	h.stop = nil
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// Shutdown starts asynchronously: the first INVITEs may still be
	// answered; the test is that one is refused with 503 while the live
	// call is still up.
	refused := false
	for i := 0; i < 50 && !refused; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := client.Dial(ctx, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "0281234568"})
		cancel()
		var se *sip.StatusError
		switch {
		case errors.As(err, &se) && se.Code == 503:
			refused = true
		case err == nil:
			_ = c.Hangup(context.Background())
		default:
			t.Fatalf("INVITE during shutdown: %v (want 503)", err)
		}
	}
	if !refused {
		t.Fatal("no INVITE was refused with 503 while draining")
	}
	select {
	case <-live.Done():
		t.Fatal("live call ended before the drain time")
	default:
	}
	select {
	case <-live.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("live call not hung up at the end of the drain time")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	e := h.waitEvent(time.Second, "call.ended", func(e events.Event) bool { return e.CallID == live.ID() && e.Type == events.CallEnded })
	if p, _ := e.Payload.(sip.CallEnd); p.Cause != sip.CauseShutdown {
		t.Errorf("live call ended with cause %v, want %s", p.Cause, sip.CauseShutdown)
	}
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports in use after shutdown", n)
	}
}

// A reload swaps flows for new calls only; a call in progress finishes on
// the version it started with; an invalid flow is refused with file and
// line named and the previous version keeps serving.
func TestReloadKeepsLiveCallsAndRefusesBadFlows(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	file := filepath.Join(h.dir, "flows", "e2e.yaml")
	_, a, _ := dial(t, h, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "0281234567"})
	h.node(a.ID(), "first")
	oldVersion := nodeVersion(h, a.ID(), "first")

	// New version: "1" in the first menu goes straight to done ("2" keeps
	// second reachable, or the checker would rightly refuse the flow).
	orig, err := os.ReadFile(file)
	must(t, err)
	changed := strings.Replace(string(orig), `options: {"1": second}`, `options: {"1": done, "2": second}`, 1)
	if changed == string(orig) {
		t.Fatal("test flow changed shape; update the reload test")
	}
	must(t, os.WriteFile(file, []byte(changed), 0o644))
	if problems, err := h.app.Reload(); err != nil {
		t.Fatalf("valid reload refused: %v %v", err, problems)
	}

	press(t, a, "1", media.SourceRFC4733)
	h.node(a.ID(), "second") // old version: 1 → second
	if v := nodeVersion(h, a.ID(), "second"); v != oldVersion {
		t.Errorf("live call moved from version %s to %s", oldVersion, v)
	}

	_, b, _ := dial(t, h, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "0281234569"})
	h.node(b.ID(), "first")
	newVersion := nodeVersion(h, b.ID(), "first")
	if newVersion == oldVersion {
		t.Fatalf("new call still on version %s", oldVersion)
	}
	press(t, b, "1", media.SourceRFC4733)
	h.node(b.ID(), "done")

	// An invalid flow: refused, with file, line and node named.
	broken := strings.Replace(changed, `"1": done,`, `"1": nowhere,`, 1)
	must(t, os.WriteFile(file, []byte(broken), 0o644))
	problems, err := h.app.Reload()
	if err == nil {
		t.Fatal("invalid flow accepted")
	}
	found := false
	for _, p := range problems {
		s := p.String()
		if strings.Contains(s, "e2e.yaml:") && strings.Contains(s, `"first"`) && strings.Contains(s, "nowhere") {
			found = true
		}
	}
	if !found {
		t.Errorf("problems do not name file, line, node and target: %v", problems)
	}
	_, c, _ := dial(t, h, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "0281234560"})
	h.node(c.ID(), "first")
	if v := nodeVersion(h, c.ID(), "first"); v != newVersion {
		t.Errorf("after a refused reload calls run version %s, want the last good %s", v, newVersion)
	}
	for _, call := range []*sip.OutboundCall{a, c} {
		_ = call.Hangup(context.Background())
	}
	h.shutdown()
}

func nodeVersion(h *harness, callID, node string) string {
	for _, e := range h.callEvents(callID) {
		if p := payload[ivr.NodeEnter](e); e.Type == events.NodeEntered && p.Node == node {
			return p.Version
		}
	}
	h.t.Fatalf("no node event for %s", node)
	return ""
}
