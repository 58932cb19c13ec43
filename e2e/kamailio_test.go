package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/internal/logbuf"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// kamailio is the shipped deploy/kamailio/kamailio.cfg running in the
// foreground (-DD -E) on 127.0.0.1, its defines set with -A, its
// dispatcher list naming the test's Hotline.
type kamailio struct {
	t    *testing.T
	addr string // host:port of its SIP socket
	ctl  string // kamcmd socket
	cmd  *exec.Cmd
	log  *logbuf.Buffer
	done chan struct{}
}

// sbinTool is testenv.Tool for a program Debian puts in /usr/sbin, which
// is not on an ordinary user's PATH.
func sbinTool(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return testenv.Tool(t, name, install) // skips, or fails under HOTLINE_REQUIRE_TOOLS=1
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startKamailio runs Kamailio with the shipped configuration in front of
// the given Hotline nodes (host:port each), probing them every second.
func startKamailio(t *testing.T, nodes ...string) *kamailio {
	t.Helper()
	return startKamailioAlg(t, "8", nodes...)
}

// startKamailioAlg is startKamailio with the dispatcher algorithm alg
// (8: by priority, the first node first; 4: round robin).
func startKamailioAlg(t *testing.T, alg string, nodes ...string) *kamailio {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end with kamailio")
	}
	bin := sbinTool(t, "kamailio", "Debian: apt-get install kamailio")
	sbinTool(t, "kamcmd", "Debian: apt-get install kamailio")
	dir := t.TempDir()
	var list strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&list, "1 sip:%s 0 %d duid=node%d\n", n, 10*(len(nodes)-i), i)
	}
	dsList := filepath.Join(dir, "dispatcher.list")
	must(t, os.WriteFile(dsList, []byte(list.String()), 0o644))
	// Kamailio cannot be told port 0: a named port (ports_test.go).
	addr := fmt.Sprintf("127.0.0.1:%d", ports(t).sip())
	k := &kamailio{t: t, addr: addr, ctl: "unix:" + filepath.Join(dir, "ctl"), log: &logbuf.Buffer{}, done: make(chan struct{})}
	cfg, err := filepath.Abs("../deploy/kamailio/kamailio.cfg")
	must(t, err)
	k.cmd = exec.Command(bin, "-DD", "-E", "-f", cfg, "-Y", dir, "-w", dir, "-m", "32", "-M", "4",
		"-A", "LISTEN=udp:"+addr,
		"-A", `DS_LIST="`+dsList+`"`,
		"-A", `CTL_SOCK="`+k.ctl+`"`,
		"-A", "DS_PING_INTERVAL=1",
		"-A", "DS_ALG="+alg)
	k.cmd.Stdout, k.cmd.Stderr = k.log, k.log
	must(t, k.cmd.Start())
	go func() { k.cmd.Wait(); close(k.done) }()
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM) // by PID: the process we started
		select {
		case <-k.done:
		case <-time.After(5 * time.Second):
			k.cmd.Process.Kill()
			<-k.done
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", k.log.String())
		}
	})
	// Up when its control socket answers.
	k.poll(5*time.Second, "kamailio's control socket", func() bool {
		_, err := k.rpc("core.version")
		return err == nil
	})
	return k
}

func (k *kamailio) rpc(cmd ...string) (string, error) {
	out, err := exec.Command(sbinTool(k.t, "kamcmd", ""), append([]string{"-s", k.ctl}, cmd...)...).CombinedOutput()
	return string(out), err
}

// poll checks cond every 50 ms until it holds or d has passed.
func (k *kamailio) poll(d time.Duration, what string, cond func() bool) {
	k.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case <-k.done:
			k.t.Fatalf("kamailio exited while waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("no %s within %v", what, d)
		}
	}
}

// nodeFlags is the dispatcher's FLAGS for a node ("AP": active and
// probed; "IP": inactive, probed), "" when the list does not show it.
func (k *kamailio) nodeFlags(node string) string {
	out, err := k.rpc("dispatcher.list")
	if err != nil {
		return ""
	}
	_, rest, ok := strings.Cut(out, "URI: sip:"+node)
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, "FLAGS: ")
	if !ok {
		return ""
	}
	flags, _, _ := strings.Cut(rest, "\n")
	return strings.TrimSpace(flags)
}

// TestKamailioFront: Hotline behind the shipped Kamailio configuration.
// baresip registers through Kamailio (which adds a Path); a caller through
// Kamailio reaches the agent, and Hotline's INVITE to the agent goes back
// through Kamailio on that Path; audio flows both ways. Then Hotline
// drains with the call still up: OPTIONS answers 503, and Kamailio's
// dispatcher marks the node inactive.
func TestKamailioFront(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) {
		c.SIP.Trusted = []string{"127.0.0.1"} // Kamailio: its Path is believed
		c.SIP.NonceSecret = strings.Repeat("n", 32)
		c.SIP.DrainTime = 20 * time.Second // the drain outlasts the dispatcher's verdict
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
	})
	node := h.sipAddr("udp")
	k := startKamailio(t, node)
	k.poll(5*time.Second, "node active", func() bool { return strings.HasPrefix(k.nodeFlags(node), "A") })

	// The agent's phone registers to Kamailio, not to Hotline.
	_, kport, _ := net.SplitHostPort(k.addr)
	agent := baresiptest.Start(t, baresiptest.Config{Accounts: "accounts.agent.template", Tone: 440,
		Vars: map[string]string{"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret", "HOTLINE_SIP_PORT": kport}})
	h.waitEvent(10*time.Second, "lan registered", func(e events.Event) bool {
		return e.Type == registrar.EventBinding && e.Agent == "lan"
	})
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)

	// The caller dials Kamailio; Kamailio dispatches to the node.
	_, call, _ := dial(t, h, "sip:300@"+k.addr, sip.DialOptions{From: "0912345678"})
	h.bridged(call.ID(), "lan")
	agent.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
	if !strings.Contains(k.log.String(), "dispatch INVITE sip:300@") {
		t.Error("kamailio's log has no dispatched INVITE: the call did not go through it")
	}
	if !talk(t, call, 2*time.Second) {
		t.Error("the caller did not hear baresip's 440 Hz through Kamailio and the bridge")
	}
	// The agent leg went out on the Path: Kamailio relayed the node's
	// INVITE to the phone's received address.
	if !strings.Contains(k.log.String(), "relay INVITE from node 127.0.0.1 to sip:lan-") {
		t.Error("kamailio did not relay the node's INVITE to the agent: it did not follow the Path")
	}

	// Drain with the call up: the node stays on the wire and answers
	// OPTIONS 503, so the dispatcher takes it out.
	stop := h.stop
	h.stop = nil
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	k.poll(10*time.Second, "node inactive after the drain began", func() bool {
		return strings.HasPrefix(k.nodeFlags(node), "I")
	})
	if res := optionsTo(t, node); !strings.HasPrefix(res, "SIP/2.0 503") || !strings.Contains(res, "Retry-After:") {
		t.Errorf("OPTIONS to the draining node: %q, want 503 with Retry-After", res)
	}
	// A new call now finds no node.
	c := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Dial(ctx, "sip:300@"+k.addr, sip.DialOptions{From: "0912345679"}); err == nil {
		t.Error("a new call was answered while the only node drains")
	}

	// The agent hangs up: its BYE reaches the node's agent leg, and the
	// node's BYE reaches the caller, each through Kamailio on the dialog's
	// Record-Route (as UAC and as UAS).
	agent.Command("hangup", "")
	agent.WaitEvent(10*time.Second, "CALL_CLOSED")
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the caller got no BYE after the agent hung up")
	}
	if !strings.Contains(k.log.String(), "in-dialog BYE from "+node) {
		t.Error("the node's BYE to the caller did not follow the Record-Route through Kamailio")
	}
	if n := strings.Count(k.log.String(), "in-dialog BYE from 127.0.0.1:"); n < 2 {
		t.Errorf("%d BYEs through Kamailio, want the agent's and the node's", n)
	}
	var agentHeard pcmRecorder
	agent.Heard(agentHeard.sink) // once the call is closed: baresip has finished its recording
	if !agentHeard.hears(1000, 440) {
		t.Error("the agent did not hear the caller's 1000 Hz")
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("app.Run: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("Hotline did not stop after its last call ended")
	}
}

// optionsTo sends one OPTIONS to addr from a socket of its own and returns
// the response ("" without one within 2 s).
func optionsTo(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer conn.Close()
	me := conn.LocalAddr().String()
	msg := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + me + ";branch=z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36) +
		"\r\nFrom: <sip:probe@" + me + ">;tag=p\r\nTo: <sip:" + addr + ">\r\nCall-ID: probe-" + strconv.FormatInt(time.Now().UnixNano(), 36) +
		"\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	ua, err := net.ResolveUDPAddr("udp", addr)
	must(t, err)
	_, err = conn.WriteTo([]byte(msg), ua)
	must(t, err)
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// TestOptionsFollowReadiness: SIP OPTIONS (a proxy's probe) is 503 with
// Retry-After while the database is unreachable, as /readyz is, and 200
// again once it is back.
func TestOptionsFollowReadiness(t *testing.T) {
	leakCheck(t)
	pg := pgtest.StartCluster(t)
	h := start(t, func(c *config.Config) {
		c.Database.URL = pg.URL()
		c.Database.Timeout = dbTimeout
	})
	node := h.sipAddr("udp")
	optionsUntil := func(phase, want string) {
		t.Helper()
		deadline := time.Now().Add(dbTimeout + 5*time.Second)
		var res string
		for {
			if res = optionsTo(t, node); strings.HasPrefix(res, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: OPTIONS = %q, want %s", phase, firstLine(res), want)
			}
			<-time.After(100 * time.Millisecond) // poll: the readiness cache refreshes once a second
		}
		if want == "SIP/2.0 503" && !strings.Contains(res, "Retry-After:") {
			t.Fatalf("%s: 503 without Retry-After: %q", phase, res)
		}
	}
	optionsUntil("database up", "SIP/2.0 200")
	pg.Stop()
	optionsUntil("database stopped", "SIP/2.0 503")
	pg.Start()
	optionsUntil("database restarted", "SIP/2.0 200")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}
