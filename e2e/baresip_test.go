package e2e

import (
	"bufio"
	"io"

	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
)

// baresip is one headless baresip process driven over ctrl_tcp.
type baresip struct {
	t      *testing.T
	cmd    *exec.Cmd
	conn   net.Conn
	rd     *bufio.Reader
	recDir string
	events chan map[string]any
	done   chan struct{}
}

func startBaresip(t *testing.T, accounts string, vars map[string]string) *baresip {
	t.Helper()
	bin := needTool(t, "baresip")
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	must(t, os.MkdirAll(rec, 0o755))
	ctrl := freeTCPPort(t)
	vars["BARESIP_CTRL_PORT"] = strconv.Itoa(ctrl)
	vars["BARESIP_REC_DIR"] = rec
	render := func(from, to string) {
		b, err := os.ReadFile(from)
		must(t, err)
		must(t, os.WriteFile(to, []byte(os.Expand(string(b), func(k string) string { return vars[k] })), 0o644))
	}
	render("../testdata/baresip/config.template", filepath.Join(dir, "config"))
	render(accounts, filepath.Join(dir, "accounts"))

	cmd := exec.Command(bin, "-f", dir, "-t", "120") // -t: baresip quits by itself after 120 s at most
	logf, err := os.Create(filepath.Join(dir, "baresip.log"))
	must(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	b := &baresip{t: t, cmd: cmd, recDir: rec, events: make(chan map[string]any, 64), done: make(chan struct{})}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if b.conn != nil {
			b.conn.Close()
		}
		<-b.done
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
			t.Logf("baresip log:\n%s", tail(log, 4000))
		}
	})
	// ctrl_tcp listens once baresip has loaded its modules.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctrl))
		if err == nil {
			b.conn, b.rd = c, bufio.NewReader(c)
			break
		}
		select {
		case <-exited:
			close(b.done)
			t.Fatalf("baresip exited at start")
		case <-time.After(50 * time.Millisecond): // polling a port another process opens
		}
		if time.Now().After(deadline) {
			close(b.done)
			t.Fatalf("baresip ctrl_tcp did not open: %v", err)
		}
	}
	go b.read()
	return b
}

// read parses netstrings (LEN:JSON,) and forwards events.
func (b *baresip) read() {
	defer close(b.done)
	defer close(b.events)
	for {
		n, err := b.rd.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(n[:len(n)-1]))
		if err != nil || size < 0 || size > 1<<20 {
			return
		}
		buf := make([]byte, size+1)
		if _, err := io.ReadFull(b.rd, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:size], &m) == nil && m["event"] == true {
			b.events <- m
		}
	}
}

func (b *baresip) command(cmd, params string) {
	b.t.Helper()
	j, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": cmd})
	_, err := fmt.Fprintf(b.conn, "%d:%s,", len(j), j)
	must(b.t, err)
}

func (b *baresip) waitEvent(typ string, d time.Duration) map[string]any {
	b.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-b.events:
			if !ok {
				b.t.Fatalf("baresip control connection closed waiting for %s", typ)
			}
			if e["type"] == typ {
				return e
			}
		case <-timer.C:
			b.t.Fatalf("baresip: no %s within %v", typ, d)
		}
	}
}

// baresip calls the e2e flow, presses keys with RFC 4733 when the server
// says the menu is there, and Hotline hangs up at the end of the flow.
func TestBaresipCaller(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	b := startBaresip(t, "../testdata/baresip/accounts.caller", map[string]string{"BARESIP_TONE": "1000"})
	b.command("dial", "sip:200@"+h.sipAddr("udp"))
	b.waitEvent("CALL_ESTABLISHED", 10*time.Second)

	h.node("", "first")
	b.command("sndcode", "1")
	h.node("", "second")
	b.command("sndcode", "3")
	h.node("", "done")
	closed := b.waitEvent("CALL_CLOSED", 20*time.Second)
	t.Logf("baresip: call closed: %v", closed["param"])

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
	heard := decodedAudio(t, b.recDir)
	if heard < 5*time.Second {
		t.Errorf("baresip heard %v of audio, want the prompts (> 5 s)", heard)
	}
	h.shutdown()
}

// decodedAudio sums the non-silent audio in baresip's -dec.wav dumps.
func decodedAudio(t *testing.T, dir string) time.Duration {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*-dec.wav"))
	if len(files) == 0 {
		t.Fatalf("baresip wrote no -dec.wav dump in %s", dir)
	}
	var loud int
	for _, f := range files {
		p, err := media.LoadWAV(f)
		if err != nil {
			t.Fatalf("baresip dump: %v", err)
		}
		pcm := p.PCM()
		for i := 0; i+160 <= len(pcm); i += 160 {
			var peak int16
			for _, s := range pcm[i : i+160] {
				peak = max(peak, s, -s)
			}
			if peak > 500 {
				loud++
			}
		}
	}
	return time.Duration(loud) * 20 * time.Millisecond
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
