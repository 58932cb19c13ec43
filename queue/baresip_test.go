package queue

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/media"
)

// TestBaresipAgentAnswersQueuedCaller uses Debian's baresip as the agent
// phone: it registers with digest auth and auto-answers; a PCMU caller joins
// the queue, Hotline rings baresip's registered contact and bridges. The
// caller must hear baresip's 440 Hz sine and baresip must hear (its WAV dump
// of decoded audio) the caller's 1000 Hz tone. Then one side hangs up and
// the BYE must reach the other through Hotline.
func TestBaresipAgentAnswersQueuedCaller(t *testing.T) {
	bin, err := exec.LookPath("baresip")
	switch {
	case err != nil && os.Getenv("HOTLINE_REQUIRE_TOOLS") == "1":
		t.Fatal("baresip not installed and HOTLINE_REQUIRE_TOOLS=1")
	case err != nil:
		t.Skip("baresip not installed (apt-get install baresip-core)")
	case testing.Short():
		t.Skip("end-to-end with baresip")
	}
	for _, side := range []string{"caller", "agent"} {
		t.Run(side+" hangs up", func(t *testing.T) { baresipBridge(t, bin, side) })
	}
}

func baresipBridge(t *testing.T, bin, hangupSide string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ags := []config.Agent{{ID: "lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"q": 0}}}
	h := startHotline(t, ctx, ags)

	ctrlPort, rec, stop := startBaresipAgent(t, ctx, bin, h.addr, "lan", "s3cret")
	defer stop()

	for len(h.reg.Lookup("lan")) == 0 { // registration: wait for the binding event
		select {
		case <-h.sub.C:
		case <-ctx.Done():
			t.Fatal("baresip did not register")
		}
	}
	if err := h.svc.Login("lan"); err != nil {
		t.Fatal(err)
	}
	oc, stopPlay := dialTone(t, ctx, h.addr, 1000)
	callerHears := newToneSeen(440)
	oc.Media().SetAudioSink(callerHears.sink)
	select {
	case <-callerHears.C:
	case <-ctx.Done():
		a, _ := h.svc.Agent("lan")
		t.Logf("agent %+v contacts %+v", a, h.reg.Lookup("lan"))
		for {
			select {
			case e := <-h.sub.C:
				t.Logf("event %s %s %v", e.Type, e.Agent, e.Data)
				continue
			default:
			}
			break
		}
		t.Fatal("caller did not hear the agent's 440 Hz through the bridge")
	}
	// Let the caller's tone run a moment so baresip's dump holds some, then
	// hang up: BYE must reach baresip, which closes its WAV files.
	wait := time.NewTimer(500 * time.Millisecond)
	<-wait.C
	stopPlay()
	if hangupSide == "caller" {
		if err := oc.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	} else {
		baresipCommand(t, ctx, ctrlPort, "hangup", "")
		select {
		case <-oc.Done():
		case <-ctx.Done():
			t.Fatal("baresip hung up but no BYE reached the caller")
		}
		if cause, side := oc.Ended(); side != "remote" {
			t.Errorf("caller's call ended %s by %s, want a remote BYE", cause, side)
		}
	}
	h.waitIdleAfterCall(t, ctx)
	stop() // baresip closes its WAV dumps on exit
	dumps, _ := filepath.Glob(filepath.Join(rec, "*dec*.wav"))
	if len(dumps) == 0 {
		t.Fatalf("no decoded-audio dump from baresip in %s", rec)
	}
	agentHears := newToneSeen(1000)
	for _, d := range dumps {
		p, err := media.LoadWAV(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		pcm := p.PCM()
		for i := 0; i+160 <= len(pcm); i += 160 {
			agentHears.sink(pcm[i : i+160])
		}
	}
	select {
	case <-agentHears.C:
	default:
		t.Fatalf("baresip's decoded audio %v holds no 1000 Hz tone", dumps)
	}
}

// startBaresipAgent runs baresip as an auto-answering agent phone that
// registers user/password to Hotline at hotlineAddr (testdata/baresip). It
// returns its ctrl_tcp port, its WAV dump directory and a stop function
// (SIGTERM, wait; idempotent).
func startBaresipAgent(t *testing.T, ctx context.Context, bin, hotlineAddr, user, password string) (ctrlPort int, rec string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	rec = filepath.Join(dir, "rec")
	if err := os.Mkdir(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	ctrl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrlPort = ctrl.Addr().(*net.TCPAddr).Port
	ctrl.Close()
	_, port, _ := net.SplitHostPort(hotlineAddr)
	vars := map[string]string{"BARESIP_CTRL_PORT": strconv.Itoa(ctrlPort), "BARESIP_TONE": "440",
		"BARESIP_REC_DIR": rec, "AGENT_USER": user, "AGENT_PASSWORD": password, "HOTLINE_SIP_PORT": port}
	for name, src := range map[string]string{"config": "config.template", "accounts": "accounts.agent.template"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "baresip", src))
		if err != nil {
			t.Fatal("testdata/baresip: ", err)
		}
		out := os.Expand(string(b), func(k string) string { return vars[k] })
		if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(ctx, bin, "-f", dir)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() { cmd.Process.Signal(syscall.SIGTERM) })
		<-exited
	}
	t.Cleanup(stop)
	return ctrlPort, rec, stop
}

// baresipCtrl is a ctrl_tcp connection: JSON in netstrings
// (testdata/baresip/README.md). Connected before a call, it sees its events.
type baresipCtrl struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

type baresipMsg struct {
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Token    string `json:"token"`
	Data     string `json:"data"`
	Event    bool   `json:"event"`
	Type     string `json:"type"`
	Param    string `json:"param"`
}

func dialBaresipCtrl(t *testing.T, ctx context.Context, port int) *baresipCtrl {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("ctrl_tcp: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return &baresipCtrl{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *baresipCtrl) read() baresipMsg {
	c.t.Helper()
	n, err := c.r.ReadString(':')
	if err != nil {
		c.t.Fatalf("ctrl_tcp read: %v", err)
	}
	size, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(n, ":")))
	if err != nil || size < 0 || size > 1<<20 {
		c.t.Fatalf("ctrl_tcp: bad netstring length %q", n)
	}
	body := make([]byte, size+1) // JSON and the trailing ','
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("ctrl_tcp read: %v", err)
	}
	var m baresipMsg
	if err := json.Unmarshal(body[:size], &m); err != nil {
		c.t.Fatalf("ctrl_tcp: %v in %q", err, body)
	}
	return m
}

// cmd sends a command and waits for its response; events read meanwhile
// are returned.
func (c *baresipCtrl) cmd(command, params string) []baresipMsg {
	c.t.Helper()
	token := "t-" + command
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if _, err := fmt.Fprintf(c.conn, "%d:%s,", len(msg), msg); err != nil {
		c.t.Fatalf("ctrl_tcp write: %v", err)
	}
	var evs []baresipMsg
	for {
		m := c.read()
		if m.Event {
			evs = append(evs, m)
			continue
		}
		if m.Response && m.Token == token {
			if !m.OK {
				c.t.Fatalf("ctrl_tcp %s: %s", command, m.Data)
			}
			return evs
		}
	}
}

// baresipCommand sends one ctrl_tcp command on its own connection.
func baresipCommand(t *testing.T, ctx context.Context, port int, command, params string) {
	t.Helper()
	dialBaresipCtrl(t, ctx, port).cmd(command, params)
}
