package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// challenger is a bare sipgo UAS (scriptedUAS) that demands digest
// credentials (RFC 3261 §22.2) before answering, so Client's 401/407
// handling is tested against a peer that is not our Server.
func challenger(t *testing.T, code int) (addr string, tries *atomic.Int32) {
	t.Helper()
	tries = new(atomic.Int32)
	hdr, authz := "WWW-Authenticate", "Authorization"
	if code == 407 {
		hdr, authz = "Proxy-Authenticate", "Proxy-Authorization"
	}
	u := newScriptedUAS(t, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
		tries.Add(1)
		h := req.GetHeader(authz)
		if h == nil {
			res := sip.NewResponseFromRequest(req, code, "Auth Required", nil)
			res.AppendHeader(sip.NewHeader(hdr, `Digest realm="hotline", nonce="5f1a2b3c", algorithm=MD5, qop="auth"`))
			tx.Respond(res)
			return
		}
		if !strings.Contains(h.Value(), `username="alice"`) || !strings.Contains(h.Value(), "response=") {
			tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		u.answer(req, tx)
	})
	return u.addr, tries
}

func mustNeg(b []byte) Negotiated {
	n, _ := NegotiateOffer(b, both)
	return n
}

func TestDialDigestAuth(t *testing.T) {
	for _, code := range []int{401, 407} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			addr, tries := challenger(t, code)
			cli := startClient(t, ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
			defer cli.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Without credentials the challenge is the answer.
			_, err := cli.Dial(ctx, "sip:200@"+addr, DialOptions{})
			var se *StatusError
			if !errors.As(err, &se) || se.Code != code {
				t.Fatalf("no credentials: %v, want %d", err, code)
			}
			oc, err := cli.Dial(ctx, "sip:200@"+addr, DialOptions{Username: "alice", Password: "s3cret"})
			if err != nil {
				t.Fatalf("with credentials: %v", err)
			}
			if n := tries.Load(); n != 3 {
				t.Errorf("server saw %d INVITEs, want 3", n)
			}
			if err := oc.Hangup(ctx); err != nil {
				t.Errorf("Hangup: %v", err)
			}
		})
	}
}
