package queue

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// referPhone is an agent phone on plain sipgo (not Hotline's own server),
// so that it can send REFER in the dialog Hotline's INVITE created and
// collect the NOTIFYs (RFC 3515). It answers every INVITE, plays a tone and
// reports each call on calls.
type referPhone struct {
	t     *testing.T
	ua    *sipgo.UserAgent
	cache *sipgo.DialogServerCache
	conn  net.PacketConn
	pool  *media.PortPool
	freq  float64
	calls chan *phoneCall
	frags chan string // message/sipfrag bodies of NOTIFYs, in arrival order
	wg    sync.WaitGroup

	mu   sync.Mutex
	live map[*sipgo.DialogServerSession]*phoneCall
}

type phoneCall struct {
	d      *sipgo.DialogServerSession
	sess   *media.Session
	hears  *toneSeen // the caller's 600 Hz tone
	ended  chan struct{}
	cancel context.CancelFunc
	once   sync.Once
}

func (c *phoneCall) end() { c.once.Do(func() { close(c.ended); c.cancel() }) }

// newReferPhone starts a phone with its own RTP ports from minPort.
func newReferPhone(t *testing.T, minPort int, freq float64) *referPhone {
	t.Helper()
	pool, err := media.NewPortPool(minPort, minPort+498)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("refer-phone"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"),
		sipgo.WithClientAddr(conn.LocalAddr().String()), sipgo.WithClientConnectionAddr(conn.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	p := &referPhone{t: t, ua: ua, conn: conn, pool: pool, freq: freq, calls: make(chan *phoneCall, 4),
		frags: make(chan string, 16), live: map[*sipgo.DialogServerSession]*phoneCall{},
		cache: sipgo.NewDialogServerCache(cli, gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "agent", Host: "127.0.0.1", Port: port}})}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *gosip.Request, tx gosip.ServerTransaction) { _ = p.cache.ReadAck(req, tx) })
	srv.OnBye(p.onBye)
	srv.OnNotify(func(req *gosip.Request, tx gosip.ServerTransaction) {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 200, "OK", nil))
		p.frags <- string(req.Body())
	})
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		p.mu.Lock()
		for _, c := range p.live {
			c.end()
		}
		p.mu.Unlock()
		ua.Close()
		conn.Close()
		cli.Close()
		p.wg.Wait()
		if n := pool.InUse(); n != 0 {
			t.Errorf("phone RTP ports in use after close: %d", n)
		}
	})
	return p
}

// uri is where Hotline rings this phone (a static agent URI).
func (p *referPhone) uri(user string) string {
	return "sip:" + user + "@" + p.conn.LocalAddr().String()
}

func (p *referPhone) onInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	d, err := p.cache.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	neg, err := sip.NegotiateOffer(req.Body(), []media.Codec{media.PCMU, media.PCMA})
	if err != nil {
		_ = d.Respond(488, "Not Acceptable Here", nil)
		d.Close()
		return
	}
	sess, err := media.NewSession(media.SessionConfig{IP: netip.MustParseAddr("127.0.0.1"), Pool: p.pool})
	if err != nil {
		_ = d.Respond(503, "Service Unavailable", nil)
		d.Close()
		return
	}
	answer, err := sip.BuildAnswer(sip.LocalSDP{Addr: sess.LocalAddr(), SessionID: 7, Version: 1}, neg)
	if err == nil {
		err = sess.Start(media.Remote{Addr: neg.Remote, Codec: neg.Codec, PayloadType: neg.PayloadType,
			DTMFPayloadType: neg.DTMFPT, Ptime: neg.Ptime})
	}
	if err != nil {
		sess.Close()
		_ = d.Respond(500, "Server Internal Error", nil)
		d.Close()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &phoneCall{d: d, sess: sess, hears: newToneSeen(600), ended: make(chan struct{}), cancel: cancel}
	sess.SetAudioSink(c.hears.sink)
	p.mu.Lock()
	p.live[d] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go func() { // plays until BYE (either side) or cleanup
		defer p.wg.Done()
		defer sess.Close()
		playLoop(ctx, sess, p.freq)
	}()
	if err := d.RespondSDP(answer); err != nil {
		c.end()
		return
	}
	p.calls <- c
}

func (p *referPhone) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	d, err := p.cache.MatchDialogRequest(req)
	if err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = d.ReadBye(req, tx)
	p.mu.Lock()
	c := p.live[d]
	delete(p.live, d)
	p.mu.Unlock()
	if c != nil {
		c.end()
	}
}

// refer sends REFER in the call's dialog with the given Refer-To values
// (none: no Refer-To header) and returns the final status code.
func (p *referPhone) refer(ctx context.Context, c *phoneCall, referTo ...string) int {
	p.t.Helper()
	req := gosip.NewRequest(gosip.REFER, c.d.InviteRequest.Contact().Address)
	for _, v := range referTo {
		req.AppendHeader(gosip.NewHeader("Refer-To", v))
	}
	req.AppendHeader(gosip.NewHeader("Referred-By", "<sip:1001@127.0.0.1>"))
	res, err := c.d.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("REFER: %v", err)
	}
	return res.StatusCode
}
