package sip

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
)

// reinvite sends an in-dialog INVITE with body and ACKs the 200 (RFC 3261 §14.1).
func reinvite(t *testing.T, ctx context.Context, oc *OutboundCall, body []byte) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.INVITE, oc.dialog.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := oc.dialog.Do(ctx, req)
	if err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, oc.dialog.InviteResponse.Contact().Address)
		if err := oc.dialog.WriteRequest(ack); err != nil {
			t.Fatalf("ACK: %v", err)
		}
	}
	return res
}

func answerOf(t *testing.T, res *sip.Response) *sdp.MediaDescription {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(res.Body()); err != nil {
		t.Fatalf("answer: %v\n%s", err, res.Body())
	}
	return sd.MediaDescriptions[0]
}

func TestReinviteHoldUnholdCodec(t *testing.T) {
	h := newWaitHandler()
	r := newRig(t, h, nil)
	oc := r.dial("100", DialOptions{})
	c := <-h.calls
	local := LocalSDP{Addr: oc.Media().LocalAddr(), SessionID: 9}
	steps := []struct {
		name   string
		codecs []media.Codec
		dir    string
		want   string // answer direction
		pt     string
	}{
		{"hold", []media.Codec{media.PCMU}, SendOnly, RecvOnly, "0"},
		{"unhold", []media.Codec{media.PCMU}, SendRecv, SendRecv, "0"},
		{"inactive", []media.Codec{media.PCMU}, Inactive, Inactive, "0"},
		{"codec change", []media.Codec{media.PCMA}, SendRecv, SendRecv, "8"},
	}
	for i, st := range steps {
		local.Version = uint64(i + 2)
		offer, err := BuildOffer(local, st.codecs, 0, st.dir)
		if err != nil {
			t.Fatal(err)
		}
		res := reinvite(t, r.ctx, oc, offer)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", st.name, res.StatusCode)
		}
		md := answerOf(t, res)
		if _, ok := md.Attribute(st.want); !ok {
			t.Errorf("%s: answer lacks a=%s:\n%s", st.name, st.want, res.Body())
		}
		if md.MediaName.Formats[0] != st.pt {
			t.Errorf("%s: answer formats %v, want %s first", st.name, md.MediaName.Formats, st.pt)
		}
	}
	c.mu.Lock()
	codec := c.neg.Codec
	c.mu.Unlock()
	if codec != media.PCMA {
		t.Errorf("server side codec %v after change", codec)
	}
	// An unacceptable re-offer is refused and the call goes on (RFC 3261 §14.2).
	bad := []byte("v=0\r\no=- 1 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\n")
	if res := reinvite(t, r.ctx, oc, bad); res.StatusCode != 488 {
		t.Errorf("bad re-offer: %d, want 488", res.StatusCode)
	}
	select {
	case <-c.Done():
		t.Fatal("call ended by re-INVITE")
	default:
	}
	oc.Hangup(r.ctx)
	r.waitEvent(events.CallEnded)
}

func TestLateOffer(t *testing.T) {
	played := make(chan error, 1)
	prompt := media.NewPromptPCM("tone", make([]int16, 800))
	r := newRig(t, HandlerFunc(func(ctx context.Context, c *Call) {
		played <- c.Play(ctx, prompt)
		<-ctx.Done()
	}), nil)
	sess, err := media.NewSession(media.SessionConfig{IP: r.cli.public})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	u, _ := parseDialURI(r.uri("100"))
	req := sip.NewRequest(sip.INVITE, u) // no body: the offer comes in the 200 (RFC 3264 §5)
	d, err := r.cli.dua.WriteInvite(r.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WaitAnswer(r.ctx, sipgoAnswer()); err != nil {
		t.Fatal(err)
	}
	n, err := NegotiateOffer(d.InviteResponse.Body(), []media.Codec{media.PCMA})
	if err != nil {
		t.Fatalf("offer in 200: %v\n%s", err, d.InviteResponse.Body())
	}
	ans, err := BuildAnswer(LocalSDP{Addr: sess.LocalAddr()}, n)
	if err != nil {
		t.Fatal(err)
	}
	ack := sip.NewRequest(sip.ACK, d.InviteResponse.Contact().Address)
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody(ans)
	if err := d.WriteAck(r.ctx, ack); err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(n.remote()); err != nil {
		t.Fatal(err)
	}
	e := r.waitEvent(events.CallAnswered)
	if p, _ := e.Payload.(CallAnswer); p.Codec != "PCMA" {
		t.Errorf("answered with %+v, want PCMA from the ACK's answer", e.Payload)
	}
	if err := <-played; err != nil {
		t.Fatalf("Play: %v", err)
	}
	if err := d.Bye(r.ctx); err != nil {
		t.Fatal(err)
	}
	if e := r.waitEnded(); e.Cause != CauseCallerBye {
		t.Errorf("ended %+v", e)
	}
}

func TestMediaTimeoutHangsUp(t *testing.T) {
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) { c.InactivityTimeout = 200e6 })
	silent, err := media.NewSession(media.SessionConfig{IP: r.cli.public}) // never started: sends nothing
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	offer, _ := BuildOffer(LocalSDP{Addr: silent.LocalAddr()}, nil, 0, SendRecv)
	u, _ := parseDialURI(r.uri("100"))
	req := sip.NewRequest(sip.INVITE, u)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	d, err := r.cli.dua.WriteInvite(r.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WaitAnswer(r.ctx, sipgoAnswer()); err != nil {
		t.Fatal(err)
	}
	if err := d.Ack(r.ctx); err != nil {
		t.Fatal(err)
	}
	e := r.waitEnded()
	if e.Cause != CauseMediaTimeout || e.Side != EndedByServer {
		t.Errorf("ended %+v", e)
	}
	if !strings.Contains(string(d.InviteResponse.Body()), "a=sendrecv") {
		t.Errorf("answer:\n%s", d.InviteResponse.Body())
	}
}

// TestReinvite2xxRetransmittedUntilAck holds back the ACK and expects the
// server to resend its 200 (RFC 3261 §13.3.1.4), then stop once ACKed.
func TestReinvite2xxRetransmittedUntilAck(t *testing.T) {
	h := newWaitHandler()
	r := newRig(t, h, nil)
	oc := r.dial("100", DialOptions{})
	<-h.calls
	offer, _ := BuildOffer(LocalSDP{Addr: oc.Media().LocalAddr(), SessionID: 3, Version: 2}, nil, 0, SendRecv)
	req := sip.NewRequest(sip.INVITE, oc.dialog.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	tx, err := oc.dialog.TransactionRequest(r.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	again := make(chan *sip.Response, 4)
	tx.OnRetransmission(func(res *sip.Response) {
		select {
		case again <- res:
		default:
		}
	})
	select {
	case res := <-tx.Responses():
		if res.StatusCode != 200 {
			t.Fatalf("re-INVITE: %d", res.StatusCode)
		}
	case <-r.ctx.Done():
		t.Fatal("no 200")
	}
	select {
	case res := <-again:
		if res.StatusCode != 200 {
			t.Fatalf("retransmission %d", res.StatusCode)
		}
	case <-r.ctx.Done():
		t.Fatal("200 never retransmitted without ACK")
	}
	ack := sip.NewRequest(sip.ACK, oc.dialog.InviteResponse.Contact().Address)
	if err := oc.dialog.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	oc.Hangup(r.ctx)
	r.waitEvent(events.CallEnded)
}
