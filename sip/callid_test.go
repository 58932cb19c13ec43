package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
)

// rawUAC is a caller written byte by byte, so a test chooses its Call-ID,
// From tag, CSeq and branch (no SIP stack lets a caller break RFC 3261
// §8.1.1.4 on purpose).
type rawUAC struct {
	t    *testing.T
	conn net.PacketConn
	srv  *net.UDPAddr
	rtp  net.PacketConn // the SDP's audio port; nothing is sent from it
}

func newRawUAC(t *testing.T, srv *Server) *rawUAC {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); rtp.Close() })
	return &rawUAC{t: t, conn: conn, srv: net.UDPAddrFromAddrPort(srv.Addr()), rtp: rtp}
}

type dialogReq struct {
	method, callID, fromTag, toTag, branch string
	cseq                                   int
}

func (u *rawUAC) send(r dialogReq) {
	u.t.Helper()
	to := "<sip:100@" + u.srv.String() + ">"
	if r.toTag != "" {
		to += ";tag=" + r.toTag
	}
	body := ""
	if r.method == "INVITE" {
		port := u.rtp.LocalAddr().(*net.UDPAddr).Port
		body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " + strconv.Itoa(port) +
			" RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	}
	cseqMethod := r.method
	msg := r.method + " sip:100@" + u.srv.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + u.conn.LocalAddr().String() + ";branch=z9hG4bK" + r.branch + "\r\n" +
		"From: <sip:0912345678@127.0.0.1>;tag=" + r.fromTag + "\r\nTo: " + to + "\r\n" +
		"Call-ID: " + r.callID + "\r\nCSeq: " + strconv.Itoa(r.cseq) + " " + cseqMethod + "\r\n" +
		"Contact: <sip:0912345678@" + u.conn.LocalAddr().String() + ">\r\nMax-Forwards: 70\r\n"
	if body != "" {
		msg += "Content-Type: application/sdp\r\n"
	}
	msg += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := u.conn.WriteTo([]byte(msg), u.srv); err != nil {
		u.t.Fatal(err)
	}
}

// final reads until a final response to the branch's request (answering
// an in-dialog BYE from the server never happens here: the calls are ended
// by this UAC).
func (u *rawUAC) final(branch string) string {
	u.t.Helper()
	buf := make([]byte, 65535)
	_ = u.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := u.conn.ReadFrom(buf)
		if err != nil {
			u.t.Fatalf("no final response for branch %s: %v", branch, err)
		}
		m := string(buf[:n])
		if strings.HasPrefix(m, "SIP/2.0 1") || !strings.Contains(m, "branch=z9hG4bK"+branch) {
			continue
		}
		return m
	}
}

func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func toTag(msg string) string {
	_, tag, _ := strings.Cut(header(msg, "To"), "tag=")
	tag, _, _ = strings.Cut(tag, ";")
	return tag
}

// ackINVITE acknowledges a response to an INVITE: a 2xx with its own
// transaction (RFC 3261 §13.2.2.4), a non-2xx on the INVITE's branch
// (§17.1.1.3).
func (u *rawUAC) ack(inv dialogReq, res string) {
	a := inv
	a.method, a.toTag = "ACK", toTag(res)
	if strings.HasPrefix(res, "SIP/2.0 2") {
		a.branch = inv.branch + "ack"
	}
	u.send(a)
}

// TestCallIDInUse: while a call is up, an INVITE reusing its Call-ID is
// refused (a merged request with 482, RFC 3261 §8.2.2.2; another From tag
// with 400) and the live call goes on; once the call has ended, a new From
// tag with the same Call-ID is a new call, even while the first is still
// being torn down (it waits for it).
func TestCallIDInUse(t *testing.T) {
	release := make(chan struct{})
	calls := make(chan *Call, 4)
	waiting := make(chan string, 1)
	r := newRig(t, HandlerFunc(func(ctx context.Context, c *Call) {
		calls <- c
		<-ctx.Done()
		if c.FromTag() == "tag-a" {
			<-release // the first call's handler is slow to return: the Call-ID is not free yet
		}
	}), nil, func(s *Server) { s.onCallIDWait = func(id string) { waiting <- id } })
	u := newRawUAC(t, r.srv)
	const id = "reused-call-id@127.0.0.1"

	first := dialogReq{method: "INVITE", callID: id, fromTag: "tag-a", branch: "first", cseq: 1}
	u.send(first)
	res := u.final("first")
	if !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("first INVITE: %q", firstLine(res))
	}
	u.ack(first, res)
	c := <-calls
	if c.ID() != id || c.FromTag() != "tag-a" {
		t.Fatalf("call %q From tag %q", c.ID(), c.FromTag())
	}

	for _, tc := range []struct {
		name string
		req  dialogReq
		want string
	}{
		{"merged request: same From tag and CSeq, new branch", dialogReq{method: "INVITE", callID: id, fromTag: "tag-a", branch: "merged", cseq: 1}, "SIP/2.0 482"},
		{"another call with the live Call-ID", dialogReq{method: "INVITE", callID: id, fromTag: "tag-b", branch: "other", cseq: 1}, "SIP/2.0 400"},
		{"same From tag, new CSeq", dialogReq{method: "INVITE", callID: id, fromTag: "tag-a", branch: "again", cseq: 7}, "SIP/2.0 400"},
	} {
		u.send(tc.req)
		got := u.final(tc.req.branch)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %s", tc.name, firstLine(got), tc.want)
		}
		u.ack(tc.req, got)
	}
	if n := r.srv.ActiveCalls(); n != 1 {
		t.Errorf("ActiveCalls = %d after the refusals, want the one live call", n)
	}
	select {
	case <-c.Done():
		t.Fatal("the live call ended because of the refused INVITEs")
	default:
	}

	// The caller hangs up; the handler has not returned yet.
	bye := dialogReq{method: "BYE", callID: id, fromTag: "tag-a", toTag: toTag(res), branch: "bye", cseq: 2}
	u.send(bye)
	if got := u.final("bye"); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("BYE: %q", firstLine(got))
	}
	next := dialogReq{method: "INVITE", callID: id, fromTag: "tag-c", branch: "next", cseq: 1}
	u.send(next)
	select {
	case w := <-waiting:
		if w != id {
			t.Fatalf("waited for %q", w)
		}
	case <-r.ctx.Done():
		t.Fatal("the new INVITE did not wait for the ended call")
	}
	close(release)
	res = u.final("next")
	if !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("INVITE reusing the Call-ID after the call ended: %q", firstLine(res))
	}
	u.ack(next, res)
	c2 := <-calls
	if c2.ID() != id || c2.FromTag() != "tag-c" {
		t.Fatalf("second call %q From tag %q", c2.ID(), c2.FromTag())
	}
	// The first call ended (and was freed) before the second started.
	var order []string
	for len(order) < 3 {
		var e events.Event
		select {
		case e = <-r.sub.C:
		case <-r.ctx.Done():
			t.Fatalf("events so far %v", order)
		}
		switch e.Type {
		case events.CallStarted, events.CallEnded:
			order = append(order, e.Type)
		}
	}
	if order[0] != events.CallStarted || order[1] != events.CallEnded || order[2] != events.CallStarted {
		t.Fatalf("events %v, want started, ended, started", order)
	}
	u.send(dialogReq{method: "BYE", callID: id, fromTag: "tag-c", toTag: toTag(res), branch: "bye2", cseq: 2})
	if got := u.final("bye2"); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("second BYE: %q", firstLine(got))
	}
	<-c2.Done()
}

// An ended call that is never freed in time: the reusing INVITE gets 503
// with Retry-After instead of waiting forever.
func TestCallIDWaitBounded(t *testing.T) {
	release, served := make(chan struct{}), make(chan struct{}, 2)
	r := newRig(t, HandlerFunc(func(ctx context.Context, c *Call) {
		served <- struct{}{}
		<-ctx.Done()
		if c.FromTag() == "tag-a" {
			<-release
		}
	}), nil, func(s *Server) { s.callIDWait = 50 * time.Millisecond })
	defer close(release)
	u := newRawUAC(t, r.srv)
	first := dialogReq{method: "INVITE", callID: "slow@127.0.0.1", fromTag: "tag-a", branch: "s1", cseq: 1}
	u.send(first)
	res := u.final("s1")
	u.ack(first, res)
	<-served // ACKed and handed to the handler: the BYE cannot overtake the ACK
	u.send(dialogReq{method: "BYE", callID: "slow@127.0.0.1", fromTag: "tag-a", toTag: toTag(res), branch: "s2", cseq: 2})
	u.final("s2")
	next := dialogReq{method: "INVITE", callID: "slow@127.0.0.1", fromTag: "tag-b", branch: "s3", cseq: 1}
	u.send(next)
	got := u.final("s3")
	if !strings.HasPrefix(got, "SIP/2.0 503") || header(got, "Retry-After") != "1" {
		t.Fatalf("INVITE waiting too long: %q (Retry-After %q), want 503 with Retry-After: 1", firstLine(got), header(got, "Retry-After"))
	}
	u.ack(next, got)
}

// A UA retrying with the same From tag and a higher CSeq (after a 401
// challenge, RFC 3261 §22.2) may reach us before the first INVITE has let go
// of the Call-ID: the retry waits for it instead of being refused.
func TestCallIDRetryAfterFinalResponse(t *testing.T) {
	firstSeen, decide := make(chan struct{}), make(chan bool)
	waiting := make(chan string, 1)
	var n int
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) {
		c.Accept = func(string) bool {
			n++ // the first INVITE is held here, its claim pending, until the test decides
			if n == 1 {
				close(firstSeen)
				return <-decide
			}
			return true
		}
	}, func(s *Server) { s.onCallIDWait = func(id string) { waiting <- id } })
	u := newRawUAC(t, r.srv)
	first := dialogReq{method: "INVITE", callID: "retry@127.0.0.1", fromTag: "tag-r", branch: "r1", cseq: 1}
	u.send(first)
	<-firstSeen
	retry := dialogReq{method: "INVITE", callID: "retry@127.0.0.1", fromTag: "tag-r", branch: "r2", cseq: 2}
	u.send(retry)
	select {
	case <-waiting:
	case <-r.ctx.Done():
		t.Fatal("the retry did not wait for the first INVITE")
	}
	decide <- false // the first is refused (404)...
	got := u.final("r1")
	if !strings.HasPrefix(got, "SIP/2.0 404") {
		t.Fatalf("first INVITE: %q", firstLine(got))
	}
	u.ack(first, got)
	res := u.final("r2") // ...and the retry becomes the call
	if !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("retry: %q, want 200", firstLine(res))
	}
	u.ack(retry, res)
	u.send(dialogReq{method: "BYE", callID: "retry@127.0.0.1", fromTag: "tag-r", toTag: toTag(res), branch: "r3", cseq: 3})
	if got := u.final("r3"); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("BYE: %q", firstLine(got))
	}
}
