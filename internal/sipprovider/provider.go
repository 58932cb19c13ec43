package sipprovider

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// ProviderConfig shapes a Provider.
type ProviderConfig struct {
	// Challenge is 401 (WWW-Authenticate, a registrar-style UAS) or 407
	// (Proxy-Authenticate, a proxy) for an INVITE without valid
	// credentials; 0 accepts every INVITE (IP authentication).
	Challenge          int
	Username, Password string
	Realm              string      // default "provider.example"
	Transport          string      // "udp" (default), "tcp" or "tls"
	TLS                *tls.Config // the provider's certificate, for "tls"
	// RecordRoute answers with a Record-Route naming the provider and a
	// Contact nobody listens on: the ACK and the BYE reach the provider only
	// if the caller follows the route set (RFC 3261 §12.2.1.1).
	RecordRoute bool
	Tone        float64 // Hz of the tone the answering phone plays; default 660
}

// Invite is an INVITE the provider answered, as it arrived.
type Invite struct {
	RequestURI string // "sip:0912345678@127.0.0.1:5070"
	User       string // the Request-URI user part: the number as sent
	FromUser   string
	FromHost   string
	FromName   string
	Asserted   string   // P-Asserted-Identity value, "" if absent
	Routes     []string // Route header values
	Transport  string   // "UDP", "TCP"
	Username   string   // digest username that passed, "" without auth
}

// Provider is a SIP trunk provider on 127.0.0.1 for Hotline's outbound
// tests: a plain sipgo UAS (not Hotline's server) that challenges an INVITE
// for digest credentials and verifies the answer itself (RFC 2617 MD5, the
// digest uri equal to the Request-URI, its own nonce), records what
// arrived, answers with a PCMU session that plays a tone and records what
// it hears, and hangs up when told.
type Provider struct {
	cfg  ProviderConfig
	addr string
	ua   *sipgo.UserAgent
	dua  *sipgo.DialogUA
	pool *media.PortPool

	invites    chan Invite
	byes       chan *sip.Request
	challenges chan int
	refused    chan string // why an INVITE was refused (bad credentials)

	mu     sync.Mutex
	nonces map[string]bool
	calls  map[string]*providerCall
	heard  []int16
	wg     sync.WaitGroup
	closed bool
}

type providerCall struct {
	d     *sipgo.DialogServerSession
	sess  *media.Session
	stop  context.CancelFunc
	ended chan struct{}
}

// StartProvider listens on a free port of 127.0.0.1 until the test ends.
func StartProvider(t testing.TB, cfg ProviderConfig) *Provider {
	t.Helper()
	if cfg.Realm == "" {
		cfg.Realm = "provider.example"
	}
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Tone == 0 {
		cfg.Tone = 660
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-provider"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := media.NewPortPool(44000, 45998)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{cfg: cfg, ua: ua, pool: pool, invites: make(chan Invite, 16), byes: make(chan *sip.Request, 16),
		challenges: make(chan int, 16), refused: make(chan string, 16), nonces: map[string]bool{}, calls: map[string]*providerCall{}}
	var serve func() error
	var closeLn func() error
	switch cfg.Transport {
	case "tcp", "tls":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.addr, closeLn = ln.Addr().String(), ln.Close
		serve = func() error { return srv.ServeTCP(ln) }
		if cfg.Transport == "tls" {
			tln := tls.NewListener(ln, cfg.TLS)
			serve = func() error { return srv.ServeTLS(tln) }
		}
	default:
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.addr, closeLn = conn.LocalAddr().String(), conn.Close
		serve = func() error { return srv.ServeUDP(conn) }
	}
	ap := netip.MustParseAddrPort(p.addr)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "provider", Host: "127.0.0.1", Port: int(ap.Port())}}
	if cfg.Transport != "udp" {
		contact.Address.UriParams = sip.NewParams()
		contact.Address.UriParams.Add("transport", cfg.Transport)
	}
	p.dua = &sipgo.DialogUA{Client: cli, ContactHDR: contact}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if c := p.lookup(req); c != nil {
			_ = c.d.ReadAck(req, tx)
		}
	})
	srv.OnBye(p.onBye)
	served := make(chan struct{})
	go func() { defer close(served); _ = serve() }()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		calls := make([]*providerCall, 0, len(p.calls))
		for _, c := range p.calls {
			calls = append(calls, c)
		}
		p.mu.Unlock()
		for _, c := range calls {
			c.stop()
		}
		p.wg.Wait()
		srv.Close()
		closeLn()
		<-served
		ua.Close()
	})
	return p
}

// Addr is the provider's host:port.
func (p *Provider) Addr() string { return p.addr }

// Invites delivers every INVITE the provider answered.
func (p *Provider) Invites() <-chan Invite { return p.invites }

// Challenges delivers the status of every challenge sent (401 or 407).
func (p *Provider) Challenges() <-chan int { return p.challenges }

// Refused delivers why an INVITE with credentials was refused (403).
func (p *Provider) Refused() <-chan string { return p.refused }

// Byes delivers the BYEs the provider received (Request-URI and Route
// headers as sent).
func (p *Provider) Byes() <-chan *sip.Request { return p.byes }

// Heard reports whether the provider's phone heard freq above other.
func (p *Provider) Heard(freq, other float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.heard) < 8000 {
		return false
	}
	return media.TonePower(p.heard, freq) > 10*media.TonePower(p.heard, other)
}

// HangupAll sends BYE on every call the provider answered.
func (p *Provider) HangupAll(ctx context.Context) error {
	p.mu.Lock()
	calls := make([]*providerCall, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	for _, c := range calls {
		if err := c.d.Bye(ctx); err != nil {
			return err
		}
		c.stop()
	}
	return nil
}

func (p *Provider) lookup(req *sip.Request) *providerCall {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

func (p *Provider) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = c.d.ReadBye(req, tx)
	select {
	case p.byes <- req:
	default:
	}
	c.stop()
}

func (p *Provider) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() != nil && req.To().Params.Has("tag") {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	user := ""
	if p.cfg.Challenge != 0 {
		u, why := p.authorized(req)
		if why == "challenge" {
			p.challenge(req, tx)
			return
		}
		if why != "" {
			select {
			case p.refused <- why:
			default:
			}
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
			return
		}
		user = u
	}
	inv := Invite{RequestURI: req.Recipient.String(), User: req.Recipient.User, Transport: req.Transport(), Username: user}
	if f := req.From(); f != nil {
		inv.FromUser, inv.FromHost, inv.FromName = f.Address.User, f.Address.Host, f.DisplayName
	}
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		inv.Asserted = h.Value()
	}
	for _, h := range req.GetHeaders("Route") {
		inv.Routes = append(inv.Routes, h.Value())
	}
	d, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		return
	}
	remote, err := offerPCMU(req.Body())
	if err != nil {
		_ = d.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	sess, err := media.NewSession(media.SessionConfig{IP: netip.MustParseAddr("127.0.0.1"), Pool: p.pool})
	if err != nil {
		_ = d.Respond(sip.StatusInternalServerError, "Server Internal Error", nil)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &providerCall{d: d, sess: sess, stop: stop, ended: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		stop()
		sess.Close()
		return
	}
	p.calls[d.ID] = c
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.calls, d.ID)
		p.mu.Unlock()
		sess.Close()
		d.Close()
	}()
	sess.SetAudioSink(func(pcm []int16) {
		p.mu.Lock()
		if len(p.heard) < 8000*30 {
			p.heard = append(p.heard, pcm...)
		}
		p.mu.Unlock()
	})
	res := sip.NewSDPResponseFromRequest(d.InviteRequest, answerPCMU(sess.LocalAddr()))
	if p.cfg.RecordRoute {
		ap := netip.MustParseAddrPort(p.addr)
		rr := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(ap.Port()), UriParams: sip.NewParams()}
		rr.UriParams.Add("lr", "")
		if p.cfg.Transport != "udp" {
			rr.UriParams.Add("transport", p.cfg.Transport)
		}
		res.AppendHeader(&sip.RecordRouteHeader{Address: rr})
		// Port 9 (discard) on loopback: nothing answers there.
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gone", Host: "127.0.0.1", Port: 9}})
	}
	if err := sess.Start(remote); err != nil {
		return
	}
	if err := d.WriteResponse(res); err != nil {
		return
	}
	select {
	case p.invites <- inv:
	default:
	}
	tone := media.NewPromptPCM("provider-tone", media.Tone([]float64{p.cfg.Tone}, 30*time.Second))
	go func() { _ = sess.Play(ctx, tone) }()
	select {
	case <-ctx.Done():
	case <-d.Context().Done():
	case <-sess.Done():
	}
	stop()
}

func (p *Provider) challenge(req *sip.Request, tx sip.ServerTransaction) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	p.mu.Lock()
	p.nonces[nonce] = true
	p.mu.Unlock()
	hdr := "WWW-Authenticate"
	if p.cfg.Challenge == sip.StatusProxyAuthRequired {
		hdr = "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, p.cfg.Challenge, "Authentication Required", nil)
	res.AppendHeader(sip.NewHeader(hdr, fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, p.cfg.Realm, nonce)))
	_ = tx.Respond(res)
	select {
	case p.challenges <- p.cfg.Challenge:
	default:
	}
}

// authorized checks the INVITE's credentials (RFC 2617 §3.2.2 with
// qop=auth, as RFC 3261 §22.4 uses it): the username it names, "" and
// "challenge" when there are none, or why they are wrong.
func (p *Provider) authorized(req *sip.Request) (string, string) {
	name := "Authorization"
	if p.cfg.Challenge == sip.StatusProxyAuthRequired {
		name = "Proxy-Authorization"
	}
	h := req.GetHeader(name)
	if h == nil {
		return "", "challenge"
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(h.Value()), "Digest ")
	if !ok {
		return "", name + " is not Digest"
	}
	f := digestParams(v)
	p.mu.Lock()
	known := p.nonces[f["nonce"]]
	p.mu.Unlock()
	switch {
	case !known:
		return "", "challenge" // a nonce we never sent: challenge again
	case f["username"] != p.cfg.Username:
		return "", fmt.Sprintf("username %q", f["username"])
	case f["realm"] != p.cfg.Realm:
		return "", fmt.Sprintf("realm %q", f["realm"])
	case f["uri"] != req.Recipient.String():
		return "", fmt.Sprintf("digest uri %q is not the Request-URI %q", f["uri"], req.Recipient.String())
	}
	ha1 := md5hex(p.cfg.Username + ":" + p.cfg.Realm + ":" + p.cfg.Password)
	ha2 := md5hex("INVITE:" + f["uri"])
	want := md5hex(ha1 + ":" + f["nonce"] + ":" + ha2)
	if f["qop"] != "" {
		want = md5hex(ha1 + ":" + f["nonce"] + ":" + f["nc"] + ":" + f["cnonce"] + ":" + f["qop"] + ":" + ha2)
	}
	if f["response"] != want {
		return "", "wrong digest response (password)"
	}
	return f["username"], ""
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// digestParams reads name=value and name="value" pairs.
func digestParams(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		s = strings.TrimLeft(s, " ,\t")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			v, s = rest[1:end+1], rest[end+2:]
		} else {
			v, s, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
		}
		out[k] = v
	}
	return out
}

// offerPCMU reads an SDP offer's audio address and checks it offers PCMU
// (payload type 0) and telephone-event.
func offerPCMU(body []byte) (media.Remote, error) {
	var ip, port string
	hasPCMU := false
	dtmf := uint8(0)
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "c=IN IP4 "):
			ip = strings.TrimPrefix(line, "c=IN IP4 ")
		case strings.HasPrefix(line, "m=audio "):
			f := strings.Fields(line)
			if len(f) > 3 {
				port = f[1]
				for _, pt := range f[3:] {
					hasPCMU = hasPCMU || pt == "0"
				}
			}
		case strings.HasPrefix(line, "a=rtpmap:") && strings.Contains(line, "telephone-event/8000"):
			n, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(line, "a=rtpmap:"))[0])
			dtmf = uint8(n)
		}
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(ip, port))
	if err != nil || !hasPCMU {
		return media.Remote{}, fmt.Errorf("offer without PCMU audio: %q", body)
	}
	return media.Remote{Addr: ap, Codec: media.PCMU, PayloadType: 0, DTMFPayloadType: dtmf, Ptime: 20 * time.Millisecond, Signal: ap.Addr()}, nil
}

func answerPCMU(local netip.AddrPort) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=provider 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		local.Addr(), local.Port()))
}
