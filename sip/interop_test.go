package sip

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/media"
)

// toolPorts are the ports this package's tests name for sipp (-p, and -mp,
// which it binds with -mp+2): this package's range in internal/testports,
// below the kernel's ephemeral range, where a port-0 bind cannot take them
// between the check and sipp's bind.
var toolPorts = testports.New(12000, 12399)

// TestSippUAC runs sipp's built-in UAC scenario (INVITE with SDP, ACK, BYE)
// against the server: an independent implementation, not our own client.
func TestSippUAC(t *testing.T) {
	sipp := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	h := newWaitHandler()
	r := newRig(t, h, nil)
	ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
	defer cancel()
	b := toolPorts.Block(t)
	cmd := exec.CommandContext(ctx, sipp, "-sn", "uac", "-s", "100", "-m", "3", "-l", "1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(b.SIP()), "-mp", strconv.Itoa(b.Media()),
		"-timeout", "10s", "-timeout_error", "-nostdin", "-d", "200", r.srv.Addr().String())
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp failed: %v\n%s", err, out)
	}
	for range 3 {
		<-h.calls
		if e := r.waitEnded(); e.Cause != CauseCallerBye {
			t.Errorf("ended %+v", e)
		}
	}
}

func runSipp(t *testing.T, ctx context.Context, r *rig, args ...string) {
	t.Helper()
	sipp := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	b := toolPorts.Block(t)
	base := []string{"-s", "100", "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(b.SIP()),
		"-mp", strconv.Itoa(b.Media()), "-timeout", "10s", "-timeout_error", "-nostdin"}
	cmd := exec.CommandContext(ctx, sipp, append(append(base, args...), r.srv.Addr().String())...)
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp %v: %v\n%s", args, err, out)
	}
}

func TestSippCancel(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.RingTime = time.Minute })
	scen, _ := filepath.Abs("testdata/sipp/cancel.xml")
	runSipp(t, r.ctx, r, "-sf", scen)
	if e := r.waitEnded(); e.Cause != CauseCancelled {
		t.Errorf("ended %+v", e)
	}
}

func TestSippINFO(t *testing.T) {
	got := make(chan media.Digit, 1)
	r := newRig(t, HandlerFunc(func(ctx context.Context, c *Call) {
		select {
		case d := <-c.Digits():
			got <- d
		case <-ctx.Done():
		}
	}), nil)
	scen, _ := filepath.Abs("testdata/sipp/info.xml")
	runSipp(t, r.ctx, r, "-sf", scen)
	if d := <-got; d.Key != '4' || d.Source != media.SourceINFO {
		t.Errorf("digit %+v", d)
	}
	if e := r.waitEnded(); e.Cause != CauseCompleted {
		t.Errorf("ended %+v", e)
	}
}
