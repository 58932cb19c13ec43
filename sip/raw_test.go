package sip

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var branchSeq atomic.Int64

// rawUDP sends msg to the server and returns the first final response's
// status line and headers ("" when nothing came back within wait).
func rawUDP(t *testing.T, srv *Server, msg []byte, wait time.Duration) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	addr := net.UDPAddrFromAddrPort(srv.Addr())
	br := strconv.FormatInt(branchSeq.Add(1), 10) + strconv.FormatInt(time.Now().UnixNano(), 36)
	msg = bytes.ReplaceAll(msg, []byte("{ADDR}"), []byte(srv.Addr().String()))
	msg = bytes.ReplaceAll(msg, []byte("{BR}"), []byte(br))
	msg = bytes.ReplaceAll(msg, []byte("127.0.0.1:5999"), []byte(conn.LocalAddr().String())) // Via sent-by: responses go there (RFC 3261 §18.2.2)
	if _, err := conn.WriteTo(msg, addr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(wait)
	for {
		conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return ""
		}
		res := string(buf[:n])
		if strings.HasPrefix(res, "SIP/2.0 1") {
			continue
		}
		if strings.HasPrefix(res, "SIP/2.0 4") || strings.HasPrefix(res, "SIP/2.0 5") || strings.HasPrefix(res, "SIP/2.0 6") {
			// ACK the final response so the server transaction completes (RFC 3261 §17.1.1.3)
			if strings.HasPrefix(string(msg), "INVITE") {
				conn.WriteTo(ackFor(msg), addr)
			}
		}
		return res
	}
}

// ackFor builds the ACK for a non-2xx final response to msg.
func ackFor(invite []byte) []byte {
	var b strings.Builder
	lines := strings.Split(string(invite), "\r\n")
	b.WriteString(strings.Replace(lines[0], "INVITE", "ACK", 1) + "\r\n")
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		lower := strings.ToLower(l)
		switch {
		case strings.HasPrefix(lower, "cseq:"):
			b.WriteString(strings.Replace(l, "INVITE", "ACK", 1) + "\r\n")
		case strings.HasPrefix(lower, "via:"), strings.HasPrefix(lower, "from:"), strings.HasPrefix(lower, "to:"), strings.HasPrefix(lower, "call-id:"):
			b.WriteString(l + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

func TestMalformedRequests(t *testing.T) {
	r := newRig(t, newWaitHandler(), nil)
	tests := []struct {
		file   string
		status string // expected status line prefix; "" = no answer is fine
		names  string // text the response must contain
	}{
		{"nocontact.sip", "SIP/2.0 400", "Contact"},
		{"missing.sip", "SIP/2.0 400", ""},
		{"badsdp.sip", "SIP/2.0 400", "SDP"},
		{"badctype.sip", "SIP/2.0 415", "Accept: application/sdp"},
		{"wsopt.sip", "SIP/2.0 200", "Allow:"},
		// RFC 4475 §3.1.2.21 bext01, §3.1.2.16 mismatch01, §3.1.2.19 mcl01
		// (RFC 3261 §8.2.2.3, §8.1.1.7, §20.14).
		{"bext01.sip", "SIP/2.0 420", "Unsupported: nothingSupportsThis, nothingSupportsThisEither"},
		{"mismatch01.sip", "SIP/2.0 400", "CSeq method"},
		{"mcl01.sip", "SIP/2.0 400", "Content-Length"},
		{"ncl.sip", "", ""},
		{"garbage.sip", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join("testdata", "torture", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			wait := 2 * time.Second
			if tt.status == "" {
				wait = 300 * time.Millisecond
			}
			res := rawUDP(t, r.srv, msg, wait)
			if tt.status != "" && !strings.HasPrefix(res, tt.status) {
				t.Fatalf("response %q, want %s", firstLine(res), tt.status)
			}
			if tt.status == "" && res != "" && !strings.HasPrefix(res, "SIP/2.0 4") {
				t.Fatalf("response %q, want 4xx or nothing", firstLine(res))
			}
			if !strings.Contains(res, tt.names) {
				t.Errorf("response does not mention %q:\n%s", tt.names, res)
			}
		})
	}
	// Still alive and serving after all of it.
	opt := []byte("OPTIONS sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: alive-{BR}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	res := rawUDP(t, r.srv, opt, 2*time.Second)
	if !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "Accept: application/sdp") {
		t.Fatalf("OPTIONS after torture: %q", res)
	}
	if r.srv.ActiveCalls() != 0 {
		t.Errorf("ActiveCalls = %d", r.srv.ActiveCalls())
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.RateLimit = 0.001; c.RateBurst = 2 })
	opt := []byte("OPTIONS sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: rl-{BR}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	want := []string{"SIP/2.0 200", "SIP/2.0 200", "SIP/2.0 503"}
	for i, w := range want {
		if res := rawUDP(t, r.srv, opt, 2*time.Second); !strings.HasPrefix(res, w) {
			t.Fatalf("request %d: %q, want %s", i+1, firstLine(res), w)
		}
	}
}

func TestUnknownMethod405(t *testing.T) {
	r := newRig(t, newWaitHandler(), nil)
	msg := []byte("SUBSCRIBE sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: sub-{BR}\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	res := rawUDP(t, r.srv, msg, 2*time.Second)
	if !strings.HasPrefix(res, "SIP/2.0 405") || !strings.Contains(res, "Allow: INVITE") {
		t.Fatalf("SUBSCRIBE: %q", res)
	}
}

func TestTCPListener(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.TCP = "127.0.0.1:0" })
	addrs := r.srv.Addrs()
	tcp, ok := addrs["tcp"]
	if !ok || tcp.Port() == 0 || addrs["udp"].Port() == 0 {
		t.Fatalf("Addrs = %v", addrs)
	}
	if r.srv.Addr() != addrs["udp"] {
		t.Errorf("Addr = %v, want the UDP address %v", r.srv.Addr(), addrs["udp"])
	}
	conn, err := net.Dial("tcp", tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg := "OPTIONS sip:" + tcp.String() + ";transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP " + local + ";branch=z9hG4bKtcp1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:" + tcp.String() + ">\r\nCall-ID: tcp-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if res := string(buf[:n]); !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "Allow: INVITE") {
		t.Fatalf("OPTIONS over TCP: %q", res)
	}
}
