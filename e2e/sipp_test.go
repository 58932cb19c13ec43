package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
)

// sipp runs one scenario from testdata/sipp against the harness (one call,
// bounded by -timeout) and fails the test with sipp's error trace if the SIP
// exchange was not what the scenario expects.
func sipp(t *testing.T, h *harness, scenario, service, transport string, extra ...string) {
	t.Helper()
	testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	if err := sippRun(h, scenario, service, transport, extra...); err != nil {
		t.Fatalf("%v\nserver events:\n%s", err, h.dump())
	}
}

// sippRun is sipp for any goroutine: it returns the failure instead of
// failing the test. extra may set -m (default one call).
func sippRun(h *harness, scenario, service, transport string, extra ...string) error {
	b, err := toolPorts.Reserve()
	if err != nil {
		return err
	}
	return sippRunIn(h, "../testdata/sipp", b, scenario, service, transport, extra...)
}

// sippRunIn is sippRun from dir (where the scenario's pcap names resolve)
// on ports b, for a test that must know sipp's SIP port.
func sippRunIn(h *harness, dir string, b testports.Block, scenario, service, transport string, extra ...string) error {
	return sippAt(h.t, h.sipAddr(transport), dir, b, scenario, service, transport, extra...)
}

// sippAt is sippRunIn against any SIP address (Kamailio in front of
// nodes, say).
func sippAt(t testing.TB, addr, dir string, b testports.Block, scenario, service, transport string, extra ...string) error {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		return err
	}
	errFile := filepath.Join(t.TempDir(), "sipp.err")
	args := []string{"-sf", scenario, "-s", service, "-timeout", "60s", "-timeout_error",
		"-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(b.Media()), "-p", fmt.Sprint(b.SIP()),
		"-trace_err", "-error_file", errFile, "-nostdin"}
	if !slices.Contains(extra, "-m") {
		args = append(args, "-m", "1")
	}
	if transport == "tcp" {
		args = append(args, "-t", "t1")
	}
	args = append(args, extra...)
	args = append(args, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		trace, _ := os.ReadFile(errFile)
		return fmt.Errorf("sipp %s: %v\n%s\nerrors:\n%s", scenario, err, tail(out, 3000), trace)
	}
	return nil
}

// The RFC 2833 pcap presses 1 then 3: the e2e flow walks first → second →
// done and Hotline hangs up; digits must arrive once each, as rfc4733.
func TestSippRFC2833(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	sipp(t, h, "uac_rfc2833.xml", "200", "udp")
	id := h.waitEvent(5*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
	it := h.interaction(id)
	if !slices.Equal(path(it), []string{"welcome", "first", "second", "done"}) {
		t.Errorf("path = %v, want welcome first second done", path(it))
	}
	assertDigits(t, h, id, "13", media.SourceRFC4733)
	if it.Voice.HangupSide != "hotline" {
		t.Errorf("hang-up side = %q, want hotline (the flow's hangup node)", it.Voice.HangupSide)
	}
	h.shutdown()
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports in use", n)
	}
}

// SIP INFO application/dtmf-relay digits over TCP signalling.
func TestSippINFOOverTCP(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	sipp(t, h, "uac_info.xml", "200", "tcp")
	id := h.waitEvent(5*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
	if p := path(h.interaction(id)); !slices.Equal(p, []string{"welcome", "first", "second", "done"}) {
		t.Errorf("path = %v", p)
	}
	assertDigits(t, h, id, "13", media.SourceINFO)
	h.shutdown()
}

// CANCEL while ringing: sipp asserts 180, 200 to the CANCEL and 487; the
// server must free the call without ever running the flow.
func TestSippCancelBeforeAnswer(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) { c.SIP.RingTime = 5 * time.Second })
	sipp(t, h, "uac_cancel.xml", "200", "udp")
	e := h.waitEvent(10*time.Second, "call.ended", func(e events.Event) bool { return e.Type == events.CallEnded })
	for _, ev := range h.callEvents(e.CallID) {
		if ev.Type == events.CallAnswered || ev.Type == events.NodeEntered {
			t.Errorf("cancelled call was answered or ran the flow: %s", ev.Type)
		}
	}
	h.shutdown()
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports in use after CANCEL", n)
	}
}

// A caller who presses nothing: the menus time out, the flow gives up, and
// Hotline sends BYE (sipp waits for it and answers 200).
func TestSippServerHangsUp(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	sipp(t, h, "uac_bye_wait.xml", "200", "udp")
	id := h.waitEvent(5*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
	it := h.interaction(id)
	if it.Voice.HangupSide != "hotline" || path(it)[len(path(it))-1] != "gave-up" {
		t.Errorf("side %q path %v, want hotline hanging up at gave-up", it.Voice.HangupSide, path(it))
	}
	h.shutdown()
}

func assertDigits(t *testing.T, h *harness, callID, want string, src media.DigitSource) {
	t.Helper()
	got := ""
	for _, e := range h.callEvents(callID) {
		if d := payload[ivr.DigitPress](e); e.Type == events.DigitPressed {
			got += d.Digit
			if d.Source != string(src) {
				t.Errorf("digit %v source %v, want %s", d.Digit, d.Source, src)
			}
		}
	}
	if got != want {
		t.Errorf("digits = %q, want %q (each once)", got, want)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
