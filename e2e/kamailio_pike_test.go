package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/sip"
)

// TestKamailioConfigCheck: the shipped kamailio.cfg passes `kamailio -c`
// with its defaults and with the defines the other Kamailio tests set,
// and the check does fail on a broken copy (a misspelt function), so a
// pass means something.
func TestKamailioConfigCheck(t *testing.T) {
	bin := sbinTool(t, "kamailio", "Debian: apt-get install kamailio")
	cfg, err := filepath.Abs("../deploy/kamailio/kamailio.cfg")
	must(t, err)
	list, err := filepath.Abs("../deploy/kamailio/dispatcher.list")
	must(t, err)
	check := func(file string, defines ...string) (string, error) {
		args := []string{"-c", "-f", file}
		for _, d := range defines {
			args = append(args, "-A", d)
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name    string
		defines []string
	}{
		{"defaults", nil},
		{"test defines", []string{"LISTEN=udp:127.0.0.1:5099", `DS_LIST="` + list + `"`,
			`CTL_SOCK="unix:` + filepath.Join(t.TempDir(), "ctl") + `"`, "DS_PING_INTERVAL=1", "DS_ALG=4", "PIKE_DENSITY=10"}},
	} {
		if out, err := check(cfg, tc.defines...); err != nil || !strings.Contains(out, "config file ok") {
			t.Errorf("kamailio -c (%s): %v\n%s", tc.name, err, out)
		}
	}

	b, err := os.ReadFile(cfg)
	must(t, err)
	broken := strings.Replace(string(b), "ds_select_dst(", "ds_selekt_dst(", 1)
	if broken == string(b) {
		t.Fatal("kamailio.cfg no longer calls ds_select_dst: change the broken copy")
	}
	bad := filepath.Join(t.TempDir(), "broken.cfg")
	must(t, os.WriteFile(bad, []byte(broken), 0o644))
	if out, err := check(bad); err == nil {
		t.Errorf("kamailio -c passed a config calling ds_selekt_dst:\n%s", out)
	}
}

// TestKamailioPikeBlocksFlood: the shipped pike limit (PIKE_DENSITY: 30
// requests per 2 s from one source) at work. A caller on 127.0.0.3 is in
// a call through Kamailio; a flooder on 127.0.0.2 sends OPTIONS for a
// node at 200/s. The flooder's first requests reach the node and are
// answered, the rest are dropped by Kamailio (each logged: every request
// is accounted for, none lost elsewhere); the caller's own OPTIONS at 5/s
// are all answered meanwhile and its BYE still ends its call. Once the
// flood stops, the flooder is answered again: pike blocks while a source
// floods, it does not ban it. Nodes (127.0.0.1) are exempt, so neither
// source is on 127.0.0.1.
func TestKamailioPikeBlocksFlood(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) {
		c.SIP.Trusted = []string{"127.0.0.1"} // Kamailio
	})
	node := h.sipAddr("udp")
	k := startKamailio(t, node)
	k.poll(5*time.Second, "node active", func() bool { return strings.HasPrefix(k.nodeFlags(node), "A") })

	// A call from the well-behaved source, up before the flood.
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.3:0", InactivityTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	call, err := cli.Dial(ctx, "sip:300@"+k.addr, sip.DialOptions{From: "0912345678"})
	cancel()
	if err != nil {
		t.Fatalf("call through kamailio from 127.0.0.3: %v", err)
	}
	h.waitEvent(10*time.Second, "the call answered", func(e events.Event) bool {
		return e.Type == events.CallAnswered && e.CallID == call.ID()
	})

	normal := newProber(t, "127.0.0.3")
	flooder := newProber(t, "127.0.0.2")
	const flood, pace = 600, 5 * time.Millisecond // 200/s for 3 s: 13 times the limit
	var normalSent int
	tick := time.NewTicker(pace)
	for i := range flood {
		<-tick.C
		flooder.send(k.addr, "300")
		if i%40 == 0 { // every 200 ms
			normal.send(k.addr, "300")
			normalSent++
		}
	}
	tick.Stop()

	// Every flood request is either answered (relayed before pike saw a
	// flood) or logged as blocked; wait for the last answers to come back.
	blocked := func() int { return strings.Count(k.log.String(), "pike: blocking OPTIONS from 127.0.0.2") }
	k.poll(30*time.Second, "every flood request answered or blocked", func() bool {
		return flooder.answered()+blocked() >= flood && normal.answered() >= normalSent
	})
	passed := flooder.answered()
	t.Logf("flood: %d of %d answered, %d blocked; the other source: %d of %d answered", passed, flood, blocked(), normal.answered(), normalSent)
	if passed == 0 || passed > flood/4 {
		t.Errorf("%d of %d flood requests reached the node; want some (the first ones), then none (pike at 30 per 2 s)", passed, flood)
	}
	if strings.Contains(k.log.String(), "pike: blocking OPTIONS from 127.0.0.3") {
		t.Error("pike blocked the well-behaved source too")
	}

	// The call from the other source ends through Kamailio.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hang up through kamailio: %v", err)
	}
	e := h.waitEvent(10*time.Second, "the call ended", func(e events.Event) bool {
		return e.Type == events.CallEnded && e.CallID == call.ID()
	})
	if p := payload[sip.CallEnd](e); p.Cause != sip.CauseCallerBye {
		t.Errorf("the call ended with %q, want %q (the caller's BYE through kamailio)", p.Cause, sip.CauseCallerBye)
	}

	// The flood over, the flooder's requests are relayed again.
	// One request every 500 ms: well under the limit.
	before := flooder.answered()
	again := time.NewTicker(500 * time.Millisecond)
	defer again.Stop()
	deadline := time.After(30 * time.Second)
	for flooder.answered() == before {
		flooder.send(k.addr, "300")
		select {
		case <-again.C:
		case <-deadline:
			t.Fatalf("the flooder was not answered again within 30 s of the flood's end")
		}
	}
	h.shutdown()
}

// prober sends OPTIONS from its own UDP socket on ip and counts the 200s
// that come back (by Call-ID, so a retransmitted answer counts once).
type prober struct {
	t    *testing.T
	conn *net.UDPConn
	mu   sync.Mutex
	sent int
	ok   map[string]bool
	done chan struct{}
}

func newProber(t *testing.T, ip string) *prober {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	must(t, err)
	p := &prober{t: t, conn: conn, ok: map[string]bool{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			if !strings.HasPrefix(msg, "SIP/2.0 200") {
				continue
			}
			if id := header(msg, "Call-ID"); id != "" {
				p.mu.Lock()
				p.ok[id] = true
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-p.done })
	return p
}

// send sends one OPTIONS for user at addr (a new transaction each time).
func (p *prober) send(addr, user string) {
	p.mu.Lock()
	p.sent++
	n := p.sent
	p.mu.Unlock()
	me := p.conn.LocalAddr().String()
	id := "pike-" + strconv.Itoa(n) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@" + me
	msg := "OPTIONS sip:" + user + "@" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(n) + ";rport\r\n" +
		"From: <sip:probe@" + me + ">;tag=p" + strconv.Itoa(n) + "\r\nTo: <sip:" + user + "@" + addr + ">\r\n" +
		"Call-ID: " + id + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	ua, err := net.ResolveUDPAddr("udp", addr)
	must(p.t, err)
	_, err = p.conn.WriteTo([]byte(msg), ua)
	must(p.t, err)
}

func (p *prober) answered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ok)
}

// header is the value of the first header named name in a SIP message.
func header(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
