package sip

import (
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

var updateRefusals = flag.Bool("update-refusals", false, "rewrite testdata/refusals.golden")

// refusalHeaders are the headers a refusal's meaning rides on.
var refusalHeaders = []string{"retry-after", "warning", "accept", "allow", "unsupported"}

// refusalWire is a response as the golden file keeps it: the status line
// and the headers in refusalHeaders, in that order.
func refusalWire(res string) string {
	head, _, _ := strings.Cut(res, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	out := []string{lines[0]}
	for _, name := range refusalHeaders {
		for _, l := range lines[1:] {
			if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

// invite is a raw INVITE to user with the given body (SDP unless ctype says otherwise).
func invite(user, callID, ctype, body string) []byte {
	if ctype == "" && body != "" {
		ctype = "application/sdp"
	}
	msg := "INVITE sip:" + user + "@{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\n" +
		"From: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:" + user + "@{ADDR}>\r\nCall-ID: " + callID + "-{BR}\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:1@127.0.0.1:5999>\r\nMax-Forwards: 70\r\n"
	if ctype != "" {
		msg += "Content-Type: " + ctype + "\r\n"
	}
	return []byte(msg + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

const pcmuOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

// inDialog is a raw request of method with a To tag no dialog of ours has.
func inDialog(method, ctype, body string) []byte {
	msg := method + " sip:100@{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\n" +
		"From: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:100@{ADDR}>;tag=nosuchdialog\r\nCall-ID: " + strings.ToLower(method) + "-{BR}\r\n" +
		"CSeq: 2 " + method + "\r\nContact: <sip:1@127.0.0.1:5999>\r\nMax-Forwards: 70\r\n"
	if ctype != "" {
		msg += "Content-Type: " + ctype + "\r\n"
	}
	return []byte(msg + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// TestRefusalsOnTheWire pins what every refusal looks like on the wire
// (status line, reason phrase, and the headers it carries) against
// testdata/refusals.golden: every refusal is built from an error in one
// place (statusOf), and the golden was recorded before that was so.
func TestRefusalsOnTheWire(t *testing.T) {
	torture := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "torture", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cancel := []byte("CANCEL sip:100@{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\n" +
		"From: <sip:1@127.0.0.1>;tag=a\r\nTo: <sip:100@{ADDR}>\r\nCall-ID: stray-{BR}\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	subscribe := []byte("SUBSCRIBE sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: sub-{BR}\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	options := []byte("OPTIONS sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: rl-{BR}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")

	var got []string
	record := func(t *testing.T, name string, res string) {
		t.Helper()
		if res == "" {
			t.Errorf("%s: no response", name)
		}
		got = append(got, "== "+name+"\n"+refusalWire(res))
	}

	// Each server is its own subtest, so each is closed and leak-checked
	// before the next starts.
	t.Run("out of dialog", func(t *testing.T) { // on a server that answers only 100 and takes only PCMA
		r := newRig(t, newWaitHandler(), func(c *ServerConfig) {
			c.Accept = func(n string) bool { return n == "100" }
			c.Codecs = []media.Codec{media.PCMA}
		})
		for _, tc := range []struct {
			name string
			msg  []byte
		}{
			{"missing Contact", torture("nocontact.sip")},
			{"missing headers", torture("missing.sip")},
			{"malformed SDP", torture("badsdp.sip")},
			{"body not SDP", torture("badctype.sip")},
			{"Require unsupported (RFC 4475 bext01)", torture("bext01.sip")},
			{"CSeq method mismatch (RFC 4475 mismatch01)", torture("mismatch01.sip")},
			{"two Content-Lengths (RFC 4475 mcl01)", torture("mcl01.sip")},
			{"unknown number", invite("999", "unknown", "", pcmuOffer)},
			{"no common codec", invite("100", "codec", "", pcmuOffer)},
			{"method not served", subscribe},
			{"stray CANCEL", cancel},
			{"BYE without dialog", inDialog("BYE", "", "")},
			{"INFO without dialog", inDialog("INFO", "application/dtmf-relay", "Signal=1\r\nDuration=160\r\n")},
			{"re-INVITE without dialog", inDialog("INVITE", "application/sdp", pcmuOffer)},
		} {
			record(t, tc.name, rawUDP(t, r.srv, tc.msg, 2*time.Second))
		}
	})

	t.Run("over the rate", func(t *testing.T) {
		rl := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.RateLimit = 0.001; c.RateBurst = 1 })
		rawUDP(t, rl.srv, options, 2*time.Second)
		record(t, "over the rate", rawUDP(t, rl.srv, options, 2*time.Second))
	})

	t.Run("set-up slots", func(t *testing.T) { // a call waits for its ACK and takes the only slot
		su := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.Limits.MaxUnconfirmed = 1; c.Limits.AckTimeout = 5 * time.Second })
		unacked := holdUnacked(t, su.srv, invite("100", "noack", "",
			"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"))
		record(t, "too many calls being set up", rawUDP(t, su.srv, invite("100", "second", "", pcmuOffer), 2*time.Second))
		unacked.Close()
	})

	t.Run("busy, then draining", func(t *testing.T) { // MaxCalls: one call up; then Shutdown while it lasts
		h := newWaitHandler()
		busy := newRig(t, h, func(c *ServerConfig) { c.MaxCalls = 1; c.RetryAfter = 42 * time.Second })
		oc := busy.dial("100", DialOptions{})
		<-h.calls
		busyInvite := invite("100", "busy", "", pcmuOffer)
		record(t, "at max calls", rawUDP(t, busy.srv, busyInvite, 2*time.Second))
		drained := make(chan error, 1)
		go func() { drained <- busy.srv.Shutdown(context.Background()) }()
		// Busy until Shutdown has begun, then draining: ask until it says so.
		for res := ""; ; {
			if res = rawUDP(t, busy.srv, busyInvite, 2*time.Second); strings.Contains(res, "Retry-After") {
				record(t, "draining", res)
				break
			}
			if busy.ctx.Err() != nil {
				t.Fatalf("never refused as draining; last %q", firstLine(res))
			}
		}
		_ = oc.Hangup(busy.ctx)
		if err := <-drained; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})

	text := strings.Join(got, "\n") + "\n"
	golden := filepath.Join("testdata", "refusals.golden")
	if *updateRefusals {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if text != string(want) {
		t.Errorf("refusals differ from %s:\n--- got\n%s--- want\n%s", golden, text, want)
	}
}

// holdUnacked sends an INVITE and returns once the server has answered it
// with a provisional response (its set-up slot is taken); the INVITE is
// never ACKed. Close the connection when done.
func holdUnacked(t *testing.T, srv *Server, msg []byte) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msg = []byte(strings.NewReplacer("{ADDR}", srv.Addr().String(), "{BR}", "unacked", "127.0.0.1:5999", conn.LocalAddr().String()).Replace(string(msg)))
	if _, err := conn.WriteTo(msg, net.UDPAddrFromAddrPort(srv.Addr())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := conn.ReadFrom(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 1") {
		t.Fatalf("INVITE not taken: %v %q", err, buf[:n])
	}
	return conn
}
