package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/store"
)

// buildHotline builds cmd/hotline (the binary `hotline serve` runs) into
// the test's temp dir.
func buildHotline(t *testing.T) string {
	t.Helper()
	gobin := testenv.Tool(t, "go", "the Go toolchain builds cmd/hotline")
	bin := filepath.Join(t.TempDir(), "hotline")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", bin, "./cmd/hotline")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hotline: %v\n%s", err, out)
	}
	return bin
}

// served is a `hotline serve` process: its HTTP address (from its
// "hotline serving" log line) and its log.
type served struct {
	t      *testing.T
	cmd    *exec.Cmd
	http   string
	log    *logLines
	exited chan error
}

// serve runs bin serve --config cfg until the test ends (SIGTERM, then
// kill by PID) and waits for its "hotline serving" line.
func serve(t *testing.T, bin, cfg string) *served {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()} // no HOTLINE_* from the developer's shell
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	s := &served{t: t, cmd: cmd, log: &logLines{}, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			_, _ = s.log.Write(append([]byte(nil), sc.Bytes()...))
			if m["msg"] == "hotline serving" {
				select {
				case addr <- str(m["http"]):
				default:
				}
			}
		}
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			for _, l := range s.log.all() {
				j, _ := json.Marshal(l)
				t.Logf("hotline: %s", j)
			}
		}
	})
	select {
	case s.http = <-addr:
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("hotline serve exited before serving: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("hotline serve did not log \"hotline serving\" within 60s")
	}
	return s
}

// stop is SIGTERM and a clean exit.
func (s *served) stop() {
	s.t.Helper()
	must(s.t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Errorf("hotline serve exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("hotline serve did not stop within 30s of SIGTERM")
	}
}

// api sends one request with the write token.
func (s *served) api(method, path, body string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.http+path, strings.NewReader(body))
	must(s.t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	must(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(s.t, err)
	return res.StatusCode, b
}

// Issue 10, an API-requested callback against the real binary: `hotline
// serve` with a configuration file whose trunk points at sipp
// (testdata/sipp/uas_callback_customer.xml, the customer's phone: it checks
// the number in the Request-URI and the trunk's caller ID in From itself,
// answers, presses 1 over RFC 4733 during the greeting and waits for
// Hotline's BYE). An agent (a Go phone, static URI) logs in through the
// API; POST /api/v1/callbacks; the callback is dialled, confirmed and
// bridged to the agent; the agent hangs up, Hotline hangs the customer
// up, and the callback is completed with the call on the trunk.
func TestServeAPICallbackSippCustomer(t *testing.T) {
	sippBin := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	leakCheck(t)
	bin := buildHotline(t)
	agent := startAgentPhone(t)
	sippPorts := ports(t)
	sippPort, mp, sipPort := sippPorts.sip(), sippPorts.media(), ports(t).sip()

	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "flows"), 0o755))
	copyFile(t, "testdata/flows/queues.yaml", filepath.Join(dir, "flows", "queues.yaml"))
	prompts, err := filepath.Abs("../prompts")
	must(t, err)
	cfg := filepath.Join(dir, "hotline.yaml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`log: {format: json, level: info}
sip: {udp: "127.0.0.1:%d", tcp: "", rate_limit: 0}
http:
  addr: "127.0.0.1:0"
  tokens: [{name: e2e, secret: %q, scope: write}]
media: {prompts: %q, port_min: 32500, port_max: 32698}
flows: {dir: %q, watch: false}
database: {url: "sqlite:%s", spool_dir: %q}
allow:
  hosts: ["127.0.0.1"]
  numbers: ["+849*"]
agents:
  - {id: lan, name: Lan, uri: "sip:lan@%s", queues: {technical: 0}}
queues:
  technical:
    keys: {"9": callback}
    callback: {enabled: true}
trunks:
  - {name: sipp, host: "127.0.0.1:%d", caller_id: "+842838001234", numbers: ["+84*"], default: true}
`, sipPort, testToken, prompts, filepath.Join(dir, "flows"), filepath.Join(dir, "hotline.db"), filepath.Join(dir, "spool"),
		agent.srv.Addr(), sippPort)), 0o644))

	errFile := filepath.Join(dir, "sipp.err")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sipp := exec.CommandContext(ctx, sippBin, "-sf", "uas_callback_customer.xml", "-i", "127.0.0.1", "-p", fmt.Sprint(sippPort),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(mp), "-m", "1", "-timeout", "60s", "-timeout_error",
		"-trace_err", "-error_file", errFile, "-trace_msg", "-message_file", errFile+".msg", "-nostdin")
	sipp.Dir = "../testdata/sipp"
	var sippOut strings.Builder
	sipp.Stdout, sipp.Stderr = &sippOut, &sippOut
	must(t, sipp.Start())
	sippDone := make(chan error, 1)
	go func() { sippDone <- sipp.Wait() }()
	t.Cleanup(func() {
		_ = sipp.Process.Kill() // by PID; an error: it has exited already
		<-sippDone
		sippDone <- nil
		if t.Failed() {
			trace, _ := os.ReadFile(errFile)
			msgs, _ := os.ReadFile(errFile + ".msg")
			t.Logf("sipp output:\n%s\nerrors:\n%s\nmessages:\n%s", tail([]byte(sippOut.String()), 3000), trace, tail(msgs, 6000))
		}
	})

	h := serve(t, bin, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + h.http + "/readyz")
		must(t, err)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %s after 20s", res.Status)
		}
		time.Sleep(50 * time.Millisecond) // polling a real condition, with a deadline
	}
	if code, body := h.api("POST", "/api/v1/agents/lan/state", `{"state":"login"}`); code != http.StatusOK {
		t.Fatalf("agent login: %d %s", code, body)
	}
	code, body := h.api("POST", "/api/v1/callbacks", `{"number": "0912 345 678", "queue": "technical", "note": "from the web site"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/callbacks: %d %s", code, body)
	}
	var cb callback.Callback
	must(t, json.Unmarshal(body, &cb))

	select {
	case <-agent.calls: // the customer confirmed, the agent's phone rang and answered
	case err := <-sippDone:
		sippDone <- err
		t.Fatalf("sipp ended (%v) before the agent was rung", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's phone never rang")
	}
	// Bridged: the agent hears the customer's line (sipp's noise).
	deadline = time.Now().Add(10 * time.Second)
	for !agentHearsSomething(agent) {
		if time.Now().After(deadline) {
			t.Fatal("the agent heard nothing from the customer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(agent.hangup)
	select {
	case err := <-sippDone:
		sippDone <- err
		if err != nil {
			t.Fatalf("sipp: %v (the scenario's checks or Hotline's BYE)", err)
		}
	case <-ctx.Done():
		t.Fatal("sipp got no BYE after the agent hung up")
	}

	var done callback.Callback
	deadline = time.Now().Add(20 * time.Second)
	for done.Status != callback.Status(store.CallbackCompleted) {
		if time.Now().After(deadline) {
			t.Fatalf("callback %d is %s, not completed, 20s after the call", cb.ID, done.Status)
		}
		time.Sleep(50 * time.Millisecond)
		code, body := h.api("GET", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), "")
		if code != http.StatusOK {
			t.Fatalf("GET callback: %d %s", code, body)
		}
		must(t, json.Unmarshal(body, &done))
	}
	if len(done.Calls) != 1 {
		t.Fatalf("calls %+v, want one", done.Calls)
	}
	if a := done.Calls[0]; a.Result != store.AttemptCompleted || a.Trunk != "sipp" || a.Agent != "lan" || a.SIPStatus != 200 || a.ConfirmedAt == nil {
		t.Errorf("the call: %+v", a)
	}
	if done.Number != "+84912345678" || done.Source != store.SourceAPI {
		t.Errorf("callback %+v", done.Callback)
	}
	h.stop()
}

// agentHearsSomething: the agent phone has received a second of audio.
func agentHearsSomething(a *agentPhone) bool {
	a.heard.mu.Lock()
	defer a.heard.mu.Unlock()
	return len(a.heard.pcm) >= 8000
}
