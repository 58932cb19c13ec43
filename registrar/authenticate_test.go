package registrar

import (
	"fmt"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// invite builds a feature-code INVITE (*11) from an agent phone.
func (g *rig) invite(auth string) *sip.Request {
	g.t.Helper()
	g.seq++
	msg := fmt.Sprintf("INVITE sip:*11@hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-i%d\r\n"+
		"From: <sip:lan@hotline>;tag=f%d\r\nTo: <sip:*11@hotline>\r\nCall-ID: fc-%d\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:lan-0x1@10.0.0.9:5060>\r\nMax-Forwards: 70\r\n", g.seq, g.seq, g.seq)
	if auth != "" {
		msg += "Authorization: " + auth + "\r\n"
	}
	m, err := sip.ParseMessage([]byte(msg + "Content-Length: 0\r\n\r\n"))
	if err != nil {
		g.t.Fatal(err)
	}
	return m.(*sip.Request)
}

func digestFor(t *testing.T, res *sip.Response, method, uri, user, pw string, nc int) string {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		t.Fatalf("no challenge in %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: pw, Count: nc, Cnonce: "c0ffee"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

// TestAuthenticateInvite: the registrar's digest check applied to an INVITE
// (RFC 3261 §22): challenge, verify, refuse, replay, method and URI binding.
func TestAuthenticateInvite(t *testing.T) {
	tests := []struct {
		name, method, uri, user, pw string
		wantStatus                  int    // 0: accepted
		wantAgent                   string // when accepted
	}{
		{"right password", "INVITE", "sip:*11@hotline", "1001", "secret1", 0, "a1"},
		{"other agent", "INVITE", "sip:*11@hotline", "1002", "secret2", 0, "a2"},
		{"wrong password", "INVITE", "sip:*11@hotline", "1001", "nope", 403, ""},
		{"unknown user", "INVITE", "sip:*11@hotline", "9999", "secret1", 403, ""},
		{"digest made for REGISTER", "REGISTER", "sip:*11@hotline", "1001", "secret1", 403, ""},
		{"digest for another target", "INVITE", "sip:*12@hotline", "1001", "secret1", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, func(c *Config) { c.Algorithms = []string{"MD5"} })
			agent, res := g.r.Authenticate(g.invite(""))
			if res == nil || res.StatusCode != 401 || agent != "" {
				t.Fatalf("no credentials: agent %q res %v, want 401", agent, res)
			}
			auth := digestFor(t, res, tt.method, tt.uri, tt.user, tt.pw, 1)
			agent, rej := g.r.Authenticate(g.invite(auth))
			switch {
			case tt.wantStatus == 0 && rej != nil:
				t.Fatalf("refused with %d", rej.StatusCode)
			case tt.wantStatus == 0 && agent != tt.wantAgent:
				t.Fatalf("agent %q, want %q", agent, tt.wantAgent)
			case tt.wantStatus != 0 && (rej == nil || rej.StatusCode != tt.wantStatus):
				t.Fatalf("agent %q res %v, want %d", agent, rej, tt.wantStatus)
			}
			if tt.wantStatus != 0 {
				return
			}
			// The same nonce count again is a replay: challenged afresh.
			if _, rej := g.r.Authenticate(g.invite(auth)); rej == nil || rej.StatusCode != 401 {
				t.Fatalf("replayed nc: %v, want 401", rej)
			}
		})
	}
}

// TestAuthenticateBans: failed INVITE authentications count towards the
// same bans as failed REGISTERs: that username from that source.
func TestAuthenticateBans(t *testing.T) {
	g := newRig(t, func(c *Config) { c.Algorithms = []string{"MD5"}; c.MaxFailures = 2 })
	for i := 0; i < 2; i++ {
		_, res := g.r.Authenticate(g.invite(""))
		if _, rej := g.r.Authenticate(g.invite(digestFor(t, res, "INVITE", "sip:*11@hotline", "1001", "bad", 1))); rej == nil || rej.StatusCode != 403 {
			t.Fatalf("bad password %d: %v", i, rej)
		}
	}
	if !g.r.BannedUser("10.0.0.9", "1001") || g.r.Banned("10.0.0.9") {
		t.Fatal("want user 1001 banned from 10.0.0.9, the source itself not")
	}
	_, res := g.r.Authenticate(g.invite(""))
	if _, rej := g.r.Authenticate(g.invite(digestFor(t, res, "INVITE", "sip:*11@hotline", "1001", "secret1", 1))); rej == nil || rej.StatusCode != 403 {
		t.Fatalf("banned user with the right password: %v, want 403", rej)
	}
	_, res = g.r.Authenticate(g.invite(""))
	if agent, rej := g.r.Authenticate(g.invite(digestFor(t, res, "INVITE", "sip:*11@hotline", "1002", "secret2", 1))); rej != nil || agent != "a2" {
		t.Fatalf("another agent on the same source: %q %v, want accepted", agent, rej)
	}
}
