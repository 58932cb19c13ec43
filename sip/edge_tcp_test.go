package sip

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testenv"
)

// tcpFrom connects to addr from a chosen loopback source IP.
func tcpFrom(t *testing.T, ip string, addr netip.AddrPort) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
	return d.Dial("tcp", addr.String())
}

// tcpOptions sends an OPTIONS over c and returns the response's status line.
func tcpOptions(t *testing.T, c net.Conn, id string) string {
	t.Helper()
	dst := c.RemoteAddr().String()
	msg := "OPTIONS sip:" + dst + ";transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP " + c.LocalAddr().String() + ";branch=z9hG4bK" + id +
		"\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:" + dst + ">\r\nCall-ID: " + id + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return "write: " + err.Error()
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// closedByServer waits until the server closes c (EOF or reset).
func closedByServer(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestEdgeTCPConnectionCaps: connections beyond the per-source and total
// caps are closed at accept; others still get answers (issue 8.3).
func TestEdgeTCPConnectionCaps(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) {
		c.TCP = "127.0.0.1:0"
		c.Limits.TCPMaxConnsPerSource = 3
		c.Limits.TCPMaxConns = 5
	})
	addr := r.srv.Addrs()["tcp"]
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		c, err := tcpFrom(t, "127.0.0.2", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if res := tcpOptions(t, c, "cap"+strconv.Itoa(i)); !strings.HasPrefix(res, "SIP/2.0 200") {
			t.Fatalf("connection %d within the cap: %q", i, res)
		}
	}
	over, err := tcpFrom(t, "127.0.0.2", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if !closedByServer(over, 3*time.Second) {
		t.Fatal("4th connection from one source was kept")
	}
	// Another source still gets in, up to the total.
	for i := range 2 {
		c, err := tcpFrom(t, "127.0.0.3", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if res := tcpOptions(t, c, "other"+strconv.Itoa(i)); !strings.HasPrefix(res, "SIP/2.0 200") {
			t.Fatalf("other source: %q", res)
		}
	}
	full, err := tcpFrom(t, "127.0.0.4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if !closedByServer(full, 3*time.Second) {
		t.Fatal("connection over the total cap was kept")
	}
	edge := r.srv.EdgeCounts()
	if edge[EdgeTCPRefusedSource] != 1 || edge[EdgeTCPRefusedTotal] != 1 {
		t.Errorf("edge %v", edge)
	}
	// Closing frees the slots: a new connection is served.
	conns[0].Close()
	eventually(t, 3*time.Second, func() bool { return r.srv.tcpGuard.Stats().Open < 5 }, "slot not freed")
	c, err := tcpFrom(t, "127.0.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res := tcpOptions(t, c, "after"); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("after a slot was freed: %q", res)
	}
}

// TestEdgeTCPSlowAndIdle: a message trickled a byte at a time is cut at
// tcp_read_timeout, a connection that never sends is cut too, and an idle
// one after tcp_idle_timeout (issue 8.3: a half-sent message kept its
// connection for ever).
func TestEdgeTCPSlowAndIdle(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) {
		c.TCP = "127.0.0.1:0"
		c.Limits.TCPReadTimeout = 500 * time.Millisecond
		c.Limits.TCPIdleTimeout = 700 * time.Millisecond
	})
	addr := r.srv.Addrs()["tcp"]

	slow, err := tcpFrom(t, "127.0.0.2", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	start := time.Now()
	msg := []byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5060;branch=z9hG4bKslow\r\n")
	tick := time.NewTicker(100 * time.Millisecond) // the attack: one byte every 100 ms
	defer tick.Stop()
	for _, b := range msg {
		if _, err := slow.Write([]byte{b}); err != nil {
			break // the server closed it
		}
		<-tick.C
		if time.Since(start) > 5*time.Second {
			t.Fatal("slow message still accepted after 5 s")
		}
	}
	if !closedByServer(slow, 3*time.Second) {
		t.Fatal("slow message's connection kept open")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v, tcp_read_timeout 500ms", d)
	}

	silent, err := tcpFrom(t, "127.0.0.2", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if !closedByServer(silent, 3*time.Second) {
		t.Fatal("connection that never sent a byte kept open")
	}

	idle, err := tcpFrom(t, "127.0.0.3", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if res := tcpOptions(t, idle, "idle"); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("OPTIONS: %q", res)
	}
	if !closedByServer(idle, 3*time.Second) {
		t.Fatal("idle connection kept open")
	}
	edge := r.srv.EdgeCounts()
	if edge[EdgeTCPReadTimeout] < 2 || edge[EdgeTCPIdleClosed] < 1 {
		t.Errorf("edge %v", edge)
	}
	// Still serving.
	c, err := tcpFrom(t, "127.0.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res := tcpOptions(t, c, "alive"); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("after the attack: %q", res)
	}
}

// TestEdgeAcceptEMFILE runs the server in a child process with a low
// RLIMIT_NOFILE (the shared machine's descriptors stay untouched):
// descriptors run out, accept fails with EMFILE, and the server must keep
// serving once some are free (issue 8.3: sipgo's Serve returned and Hotline
// shut down). The connections come from this, unlimited, process: dialled
// from the child they would take the child's last descriptor on the client
// side and leave no connection pending for accept to fail on.
func TestEdgeAcceptEMFILE(t *testing.T) {
	if os.Getenv("HOTLINE_EMFILE_CHILD") == "1" {
		emfileChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeAcceptEMFILE$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HOTLINE_EMFILE_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	addrc, seen, done := make(chan string, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if a, ok := strings.CutPrefix(line, "EMFILE-ADDR "); ok {
				addrc <- a
			}
			if line == "EMFILE-SEEN" {
				close(seen)
			}
		}
	}()
	var conns []net.Conn
	select {
	case addr := <-addrc:
	dial:
		for len(conns) < 200 {
			select {
			case <-seen:
				break dial
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				break // the backlog is full: accept has stopped taking them
			}
			conns = append(conns, c)
		}
	case <-done:
	}
	// Free the descriptors (and the per-source connection slots) before the
	// child checks that it serves again.
	for _, c := range conns {
		c.Close()
	}
	stdin.Write([]byte("closed\n"))
	<-done
	err = cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "EMFILE-CHILD-OK") {
		t.Fatalf("child (%d connections dialled): %v\n%s", len(conns), err, out.String())
	}
}

func emfileChild(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.TCP = "127.0.0.1:0"; c.Limits.TCPIdleTimeout = -1 })
	addr := r.srv.Addrs()["tcp"]
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Leave room above what is open now for a few dozen accepted connections.
	open := countFDs(t)
	low := syscall.Rlimit{Cur: uint64(open + 40), Max: lim.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("EMFILE-ADDR " + addr.String() + "\n")
	eventually(t, 10*time.Second, func() bool { return r.srv.EdgeCounts()[EdgeTCPAcceptRetries] > 0 },
		"accept never failed with EMFILE")
	os.Stdout.WriteString("EMFILE-SEEN\n")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("waiting for the parent to close its connections: %v", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res := tcpOptions(t, c, "emfile"); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("after EMFILE: %q", res)
	}
	c.Close()
	t.Log("EMFILE-CHILD-OK")
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.Unavailable(t, "no /proc/self/fd: %v", err)
	}
	return len(ents)
}
