package registrar

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzHandleRegister feeds arbitrary REGISTERs (malformed Contact, Expires,
// Authorization) to the handler: it must answer exactly once and never panic.
func FuzzHandleRegister(f *testing.F) {
	base := "REGISTER sip:hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:1001@hotline>;tag=a\r\nTo: <sip:1001@hotline>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n"
	for _, extra := range []string{
		"Contact: <sip:1001@10.0.0.1>\r\nExpires: 60\r\n",
		"Contact: *\r\nExpires: 0\r\n",
		"Contact: <sip:1001@10.0.0.1>;expires=abc;q=9\r\n",
		"Contact: \"a,b\" <sip:1001@10.0.0.1>, <sip:1001@10.0.0.2>\r\n",
		"Authorization: Digest username=\"1001\", realm=\"hotline\", nonce=\"1.2\", uri=\"sip:hotline\", response=\"00\", qop=auth, nc=zz, cnonce=\"c\"\r\n",
		"Authorization: Digest realm=\"hotline\", nonce=\"\r\n",
		"Expires: -1\r\n",
	} {
		f.Add([]byte(base + extra + "Content-Length: 0\r\n\r\n"))
	}
	r := New(Config{Agents: testAgents})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		tx := newRecTx()
		r.HandleRegister(req, tx)
		if len(tx.res) != 1 {
			t.Fatalf("%d responses", len(tx.res))
		}
		if tx.res[0].StatusCode == 500 { // only the panic recovery answers 500
			t.Fatalf("handler panicked on %q", b)
		}
	})
}
