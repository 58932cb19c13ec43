package referphone

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// Tone closes C the first time a received frame is dominated by its
// frequency: use Sink as a media.Session's audio sink.
type Tone struct {
	freq float64
	once sync.Once
	C    chan struct{}
}

// NewTone detects freq Hz.
func NewTone(freq float64) *Tone { return &Tone{freq: freq, C: make(chan struct{})} }

// Sink is a media audio sink (media.Session.SetAudioSink).
func (d *Tone) Sink(pcm []int16) {
	if media.ToneShare(pcm, d.freq) > 0.6 {
		d.once.Do(func() { close(d.C) })
	}
}

// PlayTone plays a tone of f Hz on s until ctx ends or s cannot play.
func PlayTone(ctx context.Context, s *media.Session, f float64) {
	p := media.NewPromptPCM("tone", media.Tone([]float64{f}, 2*time.Second))
	for ctx.Err() == nil {
		if s.Play(ctx, p) != nil {
			return
		}
	}
}

// ReferPhone is an agent phone on plain sipgo (not Hotline's own server),
// so that it can send REFER in the dialog Hotline's INVITE created and
// collect the NOTIFYs (RFC 3515). It answers every INVITE, plays a tone and
// reports each call on Calls.
type ReferPhone struct {
	t     *testing.T
	ua    *sipgo.UserAgent
	cache *sipgo.DialogServerCache
	conn  net.PacketConn
	pool  *media.PortPool
	freq  float64
	hear  float64
	Calls chan *PhoneCall
	Frags chan string // message/sipfrag bodies of NOTIFYs, in arrival order
	wg    sync.WaitGroup

	mu   sync.Mutex
	live map[*sipgo.DialogServerSession]*PhoneCall
}

// PhoneCall is one call a ReferPhone answered.
type PhoneCall struct {
	d      *sipgo.DialogServerSession
	Media  *media.Session
	Hears  *Tone         // the far end's tone (NewReferPhone's hear)
	Ended  chan struct{} // closed on BYE (either side) or cleanup
	cancel context.CancelFunc
	once   sync.Once
}

func (c *PhoneCall) end() { c.once.Do(func() { close(c.Ended); c.cancel() }) }

// Hangup sends BYE from the phone (the agent hangs up).
func (c *PhoneCall) Hangup(ctx context.Context) error {
	err := c.d.Bye(ctx)
	c.end()
	return err
}

// NewReferPhone starts a phone on 127.0.0.1 with its own RTP ports from
// minPort (499 ports), playing freq Hz on every call and listening for hear
// Hz; every RTP port must be free again when the test ends.
func NewReferPhone(t *testing.T, minPort int, freq, hear float64) *ReferPhone {
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
	p := &ReferPhone{t: t, ua: ua, conn: conn, pool: pool, freq: freq, hear: hear, Calls: make(chan *PhoneCall, 4),
		Frags: make(chan string, 16), live: map[*sipgo.DialogServerSession]*PhoneCall{},
		cache: sipgo.NewDialogServerCache(cli, gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "agent", Host: "127.0.0.1", Port: port}})}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *gosip.Request, tx gosip.ServerTransaction) { _ = p.cache.ReadAck(req, tx) })
	srv.OnBye(p.onBye)
	srv.OnNotify(func(req *gosip.Request, tx gosip.ServerTransaction) {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 200, "OK", nil))
		p.Frags <- string(req.Body())
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

// URI is where Hotline rings this phone (a static agent URI).
func (p *ReferPhone) URI(user string) string {
	return "sip:" + user + "@" + p.conn.LocalAddr().String()
}

func (p *ReferPhone) onInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	d, err := p.cache.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	sess, answer, no := AnswerOffer(req, p.pool, []media.Codec{media.PCMU, media.PCMA}, 7)
	if no != nil {
		_ = d.Respond(no.Code, no.Reason, nil)
		d.Close()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &PhoneCall{d: d, Media: sess, Hears: NewTone(p.hear), Ended: make(chan struct{}), cancel: cancel}
	sess.SetAudioSink(c.Hears.Sink)
	p.mu.Lock()
	p.live[d] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go func() { // plays until BYE (either side) or cleanup
		defer p.wg.Done()
		defer sess.Close()
		PlayTone(ctx, sess, p.freq)
	}()
	if err := d.RespondSDP(answer); err != nil {
		c.end()
		return
	}
	p.Calls <- c
}

func (p *ReferPhone) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	d := ReadBye(p.cache, req, tx)
	if d == nil {
		return
	}
	p.mu.Lock()
	c := p.live[d]
	delete(p.live, d)
	p.mu.Unlock()
	if c != nil {
		c.end()
	}
}

// Refer sends REFER in the call's dialog with the given Refer-To values
// (none: no Refer-To header) and returns the final status code.
func (p *ReferPhone) Refer(ctx context.Context, c *PhoneCall, referTo ...string) int {
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

// WantFrags checks the NOTIFY bodies the phone received next, in order.
func (p *ReferPhone) WantFrags(ctx context.Context, want ...string) {
	p.t.Helper()
	for _, w := range want {
		select {
		case got := <-p.Frags:
			if got != w {
				p.t.Fatalf("NOTIFY sipfrag %q, want %q", got, w)
			}
		case <-ctx.Done():
			p.t.Fatalf("no NOTIFY %q", w)
		}
	}
}
