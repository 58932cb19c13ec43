package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
	hsip "github.com/hotline-dev/hotline/sip"
)

// uac is one SIP user agent (one UDP socket) that multiplexes many calls.
//
// It is a trimmed copy of the dialing half of hsip.Client: the project's
// client does not let the caller hand the media.Session a socket of its
// own, and the benchmark needs one (obsConn) to see RTP headers (marker bit,
// arrival time) of every received packet. SDP is built and parsed with the
// project's sip package; media is the project's media.Session.
type uac struct {
	log  *slog.Logger
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	dua  *sipgo.DialogUA
	conn net.PacketConn
	ip   netip.Addr

	mu    sync.Mutex
	calls map[string]*call
	wg    sync.WaitGroup
}

func newUAC(ip netip.Addr, log *slog.Logger) (*uac, error) {
	conn, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("hotline-load"), sipgo.WithUserAgentHostname(ip.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		conn.Close()
		return nil, err
	}
	u := &uac{log: log, ua: ua, conn: conn, ip: ip, calls: map[string]*call{}}
	if u.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		ua.Close()
		conn.Close()
		return nil, err
	}
	addr := conn.LocalAddr().String()
	cl, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname(ip.String()),
		sipgo.WithClientAddr(addr), sipgo.WithClientConnectionAddr(addr))
	if err != nil {
		ua.Close()
		conn.Close()
		return nil, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	u.dua = &sipgo.DialogUA{Client: cl, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "load", Host: ip.String(), Port: port}}}
	ok := func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	}
	u.srv.OnBye(u.onBye)
	u.srv.OnInfo(ok)
	u.srv.OnOptions(ok)
	u.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	u.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
	})
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.srv.ServeUDP(conn)
	}()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return u, nil
}

func (u *uac) close() {
	u.ua.Close()
	u.conn.Close()
	u.dua.Client.Close()
	u.wg.Wait()
}

func (u *uac) onBye(req *sip.Request, tx sip.ServerTransaction) {
	id, err := sip.DialogIDFromRequestUAC(req)
	var c *call
	if err == nil {
		u.mu.Lock()
		c = u.calls[id]
		u.mu.Unlock()
	}
	if c == nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.dialog.ReadBye(req, tx)
	c.remoteBye()
}

// statusError is a final non-2xx answer to our INVITE.
type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("SIP %d", e.code) }

// call is one answered call.
type call struct {
	u      *uac
	dialog *sipgo.DialogClientSession
	sess   *media.Session
	obs    *obsConn
	byeCh  chan struct{}
	once   sync.Once
}

func (c *call) remoteBye() { c.once.Do(func() { close(c.byeCh) }) }

// dial sends an INVITE offering PCMU + telephone-event and waits for the 200.
func (u *uac) dial(ctx context.Context, target sip.Uri, st *stats) (*call, error) {
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.ip, 0)))
	if err != nil {
		return nil, fmt.Errorf("rtp socket: %w", err)
	}
	obs := newObsConn(udp, st)
	sess, err := media.NewSession(media.SessionConfig{IP: u.ip, Conn: obs, Logger: u.log})
	if err != nil {
		udp.Close()
		return nil, err
	}
	fail := func(err error) (*call, error) {
		sess.Close()
		return nil, err
	}
	offer, err := hsip.BuildOffer(hsip.LocalSDP{Addr: sess.LocalAddr(), SessionID: uint64(time.Now().UnixNano()), Version: 1},
		[]media.Codec{media.PCMU}, 20*time.Millisecond, hsip.SendRecv)
	if err != nil {
		return fail(err)
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "1000", Host: u.ip.String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	dialog, err := u.dua.WriteInvite(ctx, req)
	if err != nil {
		return fail(fmt.Errorf("INVITE: %w", err))
	}
	if err := dialog.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		dialog.Close()
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return fail(statusError{dr.Res.StatusCode})
		}
		return fail(fmt.Errorf("INVITE: %w", err))
	}
	neg, nerr := hsip.ParseAnswer(dialog.InviteResponse.Body(), []media.Codec{media.PCMU})
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Register before the ACK, as hsip.Client does: the server may send BYE
	// the moment it has the ACK, and an unknown dialog would get 481.
	c := &call{u: u, dialog: dialog, sess: sess, obs: obs, byeCh: make(chan struct{})}
	u.mu.Lock()
	u.calls[dialog.ID] = c
	u.mu.Unlock()
	drop := func(err error) (*call, error) {
		u.mu.Lock()
		delete(u.calls, dialog.ID)
		u.mu.Unlock()
		dialog.Close()
		return fail(err)
	}
	if err := dialog.Ack(actx); err != nil {
		return drop(fmt.Errorf("ACK: %w", err))
	}
	if nerr == nil {
		obs.dtmfPT = neg.DTMFPT
		nerr = sess.Start(media.Remote{Addr: neg.Remote, Codec: neg.Codec, PayloadType: neg.PayloadType,
			DTMFPayloadType: neg.DTMFPT, Ptime: neg.Ptime})
	}
	if nerr != nil {
		dialog.Bye(actx)
		return drop(fmt.Errorf("answer: %w", nerr))
	}
	return c, nil
}

// end sends BYE unless the server already did, then frees everything.
func (c *call) end() (byServer bool) {
	select {
	case <-c.byeCh:
		byServer = true
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.dialog.Bye(ctx)
		cancel()
	}
	c.u.mu.Lock()
	delete(c.u.calls, c.dialog.ID)
	c.u.mu.Unlock()
	c.dialog.Close()
	c.sess.Close()
	return byServer
}
