// Package baresiptest runs Debian's baresip, an independent SIP softphone, as
// a peer in Hotline's tests and drives it over its ctrl_tcp control port
// (JSON in netstrings; testdata/baresip/README.md).
//
// It is a normal package so that tests in several packages can share it, but
// only tests import it; nothing in the server does.
package baresiptest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/media"
)

// Config says which peer to run.
type Config struct {
	Accounts string            // accounts template in testdata/baresip: "accounts.agent.template", "accounts.caller"
	Tone     int               // Hz of the sine this peer sends (agent 440, caller 1000)
	Vars     map[string]string // the other ${NAME}s: AGENT_USER, AGENT_PASSWORD, HOTLINE_SIP_PORT
	// Ports is the calling package's range (internal/testports) that the
	// ctrl_tcp port comes from: baresip binds it itself, after the test
	// named it, so it must not be a probed port of the ephemeral range.
	Ports *testports.Pool
}

// Message is one ctrl_tcp message: an event or the response to a command.
type Message struct {
	Event bool   `json:"event"`
	Type  string `json:"type"`  // event: CALL_ESTABLISHED, CALL_CLOSED, REGISTER_OK ...
	Param string `json:"param"` // event: e.g. why a call closed

	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// Phone is one running baresip and its ctrl_tcp connection. Its methods are
// called from the test's goroutine.
type Phone struct {
	t      testing.TB
	cmd    *exec.Cmd
	recDir string
	exited chan struct{} // closed once the process has been waited for
	conn   net.Conn
	reader sync.WaitGroup
	stop   sync.Once

	mu      sync.Mutex
	inbox   []Message     // received, not yet taken
	closed  bool          // the control connection has ended
	arrived chan struct{} // cap 1: the inbox or closed changed

	tokens int // commands sent (test goroutine only)
}

// Start renders testdata/baresip/config.template and cfg.Accounts into a
// directory of the test's own, starts baresip there and connects to its
// ctrl_tcp. The test is skipped under -short, or when baresip is not
// installed unless HOTLINE_REQUIRE_TOOLS=1, where that fails it. The phone
// stops when the test ends, and its log is printed if the test failed.
func Start(t testing.TB, cfg Config) *Phone {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end with baresip")
	}
	bin := testenv.Tool(t, "baresip", "Debian: apt-get install baresip-core")
	dir := t.TempDir() // baresip writes a uuid file here: one per run
	p := &Phone{t: t, recDir: filepath.Join(dir, "rec"), exited: make(chan struct{}), arrived: make(chan struct{}, 1)}
	must(t, os.Mkdir(p.recDir, 0o700))
	if cfg.Ports == nil {
		t.Fatal("baresiptest: Config.Ports is nil: pass the package's testports pool")
	}
	port := strconv.Itoa(cfg.Ports.Block(t).Ctrl())
	vars := map[string]string{"BARESIP_CTRL_PORT": port, "BARESIP_TONE": strconv.Itoa(cfg.Tone), "BARESIP_REC_DIR": p.recDir}
	maps.Copy(vars, cfg.Vars)
	for name, src := range map[string]string{"config": "config.template", "accounts": cfg.Accounts} {
		b, err := os.ReadFile(filepath.Join(templateDir(t), src))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(os.Expand(string(b), func(k string) string { return vars[k] })), 0o600))
	}

	p.cmd = exec.Command(bin, "-f", dir, "-t", "120") // -t: it quits by itself after 120 s
	logPath := filepath.Join(dir, "baresip.log")
	logf, err := os.Create(logPath)
	must(t, err)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); logf.Close(); close(p.exited) }() // joined by Stop
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("baresip log (last 4 kB):\n%s", b[max(0, len(b)-4000):])
		}
	})

	// ctrl_tcp listens once baresip has loaded its modules: poll for it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if p.conn, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", port)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("baresip: ctrl_tcp did not open within 10 s: %v", err)
		}
		select {
		case <-p.exited:
			t.Fatalf("baresip exited at start")
		case <-time.After(50 * time.Millisecond): // another process opens the port
		}
	}
	p.reader.Go(p.read)
	return p
}

// RecDir is where baresip writes its WAV dumps: -dec.wav holds what it
// heard, -enc.wav what it sent.
func (p *Phone) RecDir() string { return p.recDir }

// Command sends a ctrl_tcp command (a menu command without its slash:
// "dial", "sndcode", "hangup" ...) and returns the data of its response,
// matched by token. It fails the test if baresip says the command failed.
func (p *Phone) Command(command, params string) string {
	p.t.Helper()
	p.tokens++
	token := "t" + strconv.Itoa(p.tokens)
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if _, err := fmt.Fprintf(p.conn, "%d:%s,", len(msg), msg); err != nil {
		p.t.Fatalf("baresip: ctrl_tcp %s: %v", command, err)
	}
	r := p.take("the response to "+command, 10*time.Second, false, func(m Message) bool { return m.Response && m.Token == token })
	if !r.OK {
		p.t.Fatalf("baresip: %s %q failed: %s", command, params, r.Data)
	}
	return r.Data
}

// WaitEvent returns the next event of one of types (of any type if none
// given), waiting up to d; the other events before it are dropped.
func (p *Phone) WaitEvent(d time.Duration, types ...string) Message {
	p.t.Helper()
	return p.take(fmt.Sprintf("event %v", types), d, true, func(m Message) bool {
		return m.Event && (len(types) == 0 || slices.Contains(types, m.Type))
	})
}

// take removes the first message of the inbox that match accepts (and with
// dropEvents the events before it), waiting for it up to d; it fails the
// test on timeout or when the control connection has ended.
func (p *Phone) take(what string, d time.Duration, dropEvents bool, match func(Message) bool) Message {
	p.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		p.mu.Lock()
		i := slices.IndexFunc(p.inbox, match)
		if i >= 0 {
			m, before := p.inbox[i], slices.Clone(p.inbox[:i])
			if dropEvents {
				before = slices.DeleteFunc(before, func(m Message) bool { return m.Event })
			}
			p.inbox = append(before, p.inbox[i+1:]...)
			p.mu.Unlock()
			return m
		}
		closed := p.closed
		p.mu.Unlock()
		if closed {
			p.t.Fatalf("baresip: control connection closed waiting for %s", what)
		}
		select {
		case <-p.arrived:
		case <-timer.C:
			p.t.Fatalf("baresip: no %s within %v", what, d)
		}
	}
}

// read queues the messages (netstrings: LEN:JSON,) of the control connection
// until it ends. It never waits for the test, so Stop can always join it.
func (p *Phone) read() {
	r := bufio.NewReader(p.conn)
	defer p.push(Message{}, true)
	for {
		n, err := r.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(n, ":")))
		if err != nil || size < 0 || size > 1<<20 {
			p.t.Errorf("baresip: bad ctrl_tcp netstring length %q", n)
			return
		}
		body := make([]byte, size+1) // the JSON and its trailing ','
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		var m Message
		if err := json.Unmarshal(body[:size], &m); err != nil {
			p.t.Errorf("baresip: ctrl_tcp message %q: %v", body, err)
			return
		}
		p.push(m, false)
	}
}

// push queues m, or marks the connection closed, and wakes a waiter.
func (p *Phone) push(m Message, closed bool) {
	p.mu.Lock()
	if closed {
		p.closed = true
	} else {
		p.inbox = append(p.inbox, m)
	}
	p.mu.Unlock()
	select {
	case p.arrived <- struct{}{}:
	default:
	}
}

// Stop ends baresip: SIGTERM (it hangs up and unregisters), up to 10 s for
// it to exit, then Kill; then it closes the control connection and joins its
// reader. Once it returns the WAV dumps are complete. Safe to call more than
// once; the test's cleanup calls it.
func (p *Phone) Stop() {
	p.stop.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.t.Logf("baresip did not exit within 10 s of SIGTERM; killing it")
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if p.conn != nil {
			p.conn.Close()
		}
		p.reader.Wait()
	})
}

// Heard feeds every 20 ms frame (160 samples, 8 kHz mono) of the -dec.wav
// dumps, what this peer heard, to sink and returns the dumps' paths; it fails
// the test if there is none. A dump is complete once its call has ended.
func (p *Phone) Heard(sink func(frame []int16)) []string {
	p.t.Helper()
	dumps, _ := filepath.Glob(filepath.Join(p.recDir, "*-dec.wav"))
	if len(dumps) == 0 {
		p.t.Fatalf("baresip wrote no -dec.wav dump in %s", p.recDir)
	}
	for _, d := range dumps {
		w, err := media.LoadWAV(d)
		must(p.t, err)
		for pcm := w.PCM(); len(pcm) >= 160; pcm = pcm[160:] {
			sink(pcm[:160])
		}
	}
	return dumps
}

// templateDir is testdata/baresip in the module root: the first directory
// with a go.mod up from the working directory (the test's package).
func templateDir(t testing.TB) string {
	dir, err := os.Getwd()
	must(t, err)
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "baresip")
		} else if dir == filepath.Dir(dir) {
			t.Fatalf("baresip: no go.mod above the working directory")
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
