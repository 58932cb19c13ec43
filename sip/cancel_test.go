package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

// scriptedUAS is a bare sipgo UAS (not our Server) whose INVITE handler the
// test scripts, recording what reaches it after.
type scriptedUAS struct {
	addr    string
	rtp     net.PacketConn
	invited chan *sip.Request
	cancels chan struct{}
	acks    chan struct{}
	byes    chan struct{}

	provisional atomic.Bool // set by a script before it sends a provisional
	early       atomic.Bool // a CANCEL came before any provisional (RFC 3261 §9.1); best effort: it needs the CANCEL to overtake the release
}

func newScriptedUAS(t *testing.T, script func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction)) *scriptedUAS {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &scriptedUAS{addr: conn.LocalAddr().String(), rtp: rtp, invited: make(chan *sip.Request, 4),
		cancels: make(chan struct{}, 4), acks: make(chan struct{}, 4), byes: make(chan struct{}, 4)}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.OnCancel(func(*sip.Request) {
			if !u.provisional.Load() {
				u.early.Store(true)
			}
			u.cancels <- struct{}{}
		})
		u.invited <- req
		script(u, req, tx)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) { u.acks <- struct{}{} })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		u.byes <- struct{}{}
	})
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeUDP(conn) }()
	waitUDPReady(ua, u.addr, nil)
	t.Cleanup(func() {
		ua.Close()
		conn.Close()
		rtp.Close()
		<-done
		goleak.VerifyNone(t, ignore, lateMessage)
	})
	return u
}

// answer sends 200 with an SDP answer and a Contact, so the ACK and BYE reach us.
func (u *scriptedUAS) answer(req *sip.Request, tx sip.ServerTransaction) {
	ans, _ := BuildAnswer(LocalSDP{Addr: netip.MustParseAddrPort(u.rtp.LocalAddr().String())}, mustNeg(req.Body()))
	res := sip.NewSDPResponseFromRequest(req, ans)
	res.To().Params.Add("tag", "uas1")
	ap := netip.MustParseAddrPort(u.addr)
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(ap.Port())}})
	tx.Respond(res)
}

func recv[T any](t *testing.T, ctx context.Context, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// TestCancelBeforeProvisional: ctx ends while the INVITE has no response
// yet. RFC 3261 §9.1 forbids a CANCEL then, so Dial waits for the first
// provisional and cancels on it (a), or, when a 2xx comes instead, ACKs and
// BYEs it (b). Either way the phone stops ringing and Dial says ErrCanceled.
func TestCancelBeforeProvisional(t *testing.T) {
	tests := []struct {
		name  string
		auth  bool // challenge the first INVITE (401): the cancel concerns the second
		reply func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction)
		check func(t *testing.T, ctx context.Context, u *scriptedUAS)
	}{
		{"provisional then CANCEL", false, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.provisional.Store(true)
			tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
			<-tx.Done() // sipgo: the handler must outlive the transaction
		}, func(t *testing.T, ctx context.Context, u *scriptedUAS) {
			recv(t, ctx, u.cancels, "CANCEL")
		}},
		{"after a challenge: provisional then CANCEL", true, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.provisional.Store(true)
			tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
			<-tx.Done()
		}, func(t *testing.T, ctx context.Context, u *scriptedUAS) {
			recv(t, ctx, u.cancels, "CANCEL")
		}},
		{"2xx then ACK and BYE", false, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.answer(req, tx)
		}, func(t *testing.T, ctx context.Context, u *scriptedUAS) {
			recv(t, ctx, u.acks, "ACK")
			recv(t, ctx, u.byes, "BYE")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			release := make(chan struct{})
			u := newScriptedUAS(t, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
				if tt.auth && req.GetHeader("Authorization") == nil {
					res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
					res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Digest realm="hotline", nonce="5f1a2b3c", algorithm=MD5, qop="auth"`))
					tx.Respond(res)
					return
				}
				<-release // silent until the dialler has given up
				tt.reply(u, req, tx)
			})
			cli := startClient(t, ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
			defer cli.Close()
			dctx, dcancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := cli.DialContact(dctx, "sip:agent-1@"+u.addr+";transport=udp", DialOptions{Username: "a", Password: "pw"})
				errc <- err
			}()
			if tt.auth {
				recv(t, ctx, u.invited, "INVITE")
			}
			recv(t, ctx, u.invited, "INVITE")
			dcancel()
			close(release)
			tt.check(t, ctx, u)
			if err := recv(t, ctx, errc, "Dial to return"); !errors.Is(err, ErrCanceled) {
				t.Fatalf("Dial: %v, want ErrCanceled", err)
			}
			if u.early.Load() {
				t.Error("CANCEL sent before any provisional response (RFC 3261 §9.1)")
			}
		})
	}
}

// TestCloseEndsAbandonedInvite: a Dial cancelled while the far end has sent
// nothing returns at once; the INVITE left waiting for a provisional (up to
// Timer B, 32 s) is given up by Client.Close, which joins its goroutine
// (goleak in the peer's cleanup), and no CANCEL was ever sent.
func TestCloseEndsAbandonedInvite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := newScriptedUAS(t, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
		<-tx.Done() // never answers
	})
	cli := startClient(t, ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	dctx, dcancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := cli.DialContact(dctx, "sip:agent-1@"+u.addr, DialOptions{})
		errc <- err
	}()
	recv(t, ctx, u.invited, "INVITE")
	dcancel()
	if err := recv(t, ctx, errc, "Dial to return"); !errors.Is(err, ErrCanceled) {
		t.Fatalf("Dial: %v, want ErrCanceled", err)
	}
	closed := make(chan struct{})
	go func() { cli.Close(); close(closed) }()
	recv(t, ctx, closed, "Close (it must not wait out Timer B)")
	select {
	case <-u.cancels:
		t.Error("CANCEL sent without a provisional response (RFC 3261 §9.1)")
	default:
	}
}
