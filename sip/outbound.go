package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// ClientConfig configures the outbound user agent (UAC).
type ClientConfig struct {
	Addr              string // UDP listen address, e.g. "127.0.0.1:0"
	PublicAddr        string // IP for Contact and SDP; default the Addr IP
	UserAgent         string
	RTP               *media.PortPool // nil: ephemeral RTP ports
	InactivityTimeout time.Duration
	Logger            *slog.Logger
}

// DialOptions shape one outbound INVITE.
type DialOptions struct {
	From        string // user part of From: [0-9+*#]
	DisplayName string
	Username    string // digest credentials used on 401/407 (RFC 3261 §22.2)
	Password    string
	Codecs      []media.Codec     // offer order; default PCMU, PCMA
	Ptime       time.Duration     // default 20 ms
	Headers     map[string]string // extra headers; values CR/LF/NUL stripped
	InbandDTMF  bool              // run the Goertzel detector on what we hear
	OnRinging   func()            // called on 180/183
}

// Client places outbound calls and answers in-dialog requests for them.
type Client struct {
	cfg    ClientConfig
	log    *slog.Logger
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	dua    *sipgo.DialogUA
	conn   net.PacketConn
	public netip.Addr // advertised in Contact and SDP
	bindIP netip.Addr // where RTP sockets bind: the listen IP (behind NAT public is not local)

	mu     sync.Mutex
	calls  map[string]*OutboundCall
	closed bool
	wg     sync.WaitGroup

	base context.Context // cancelled by Close: abandoned INVITEs give up
	stop context.CancelFunc
}

// NewClient binds the UDP socket and starts serving in-dialog requests.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Hotline"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pub := cfg.PublicAddr
	if pub == "" {
		pub, _, _ = net.SplitHostPort(cfg.Addr)
	}
	public, err := netip.ParseAddr(pub)
	if err != nil || public.IsUnspecified() {
		return nil, fmt.Errorf("sip: client public address %q: need a concrete IP", pub)
	}
	log := logger.With("component", "sip-client")
	conn, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sip: client listen %s: %w", cfg.Addr, err)
	}
	ua, err := newUA(cfg.UserAgent, public.String(), log, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{cfg: cfg, log: log, ua: ua, conn: conn, public: public.Unmap(), bindIP: bindIP(public.Unmap(), cfg.Addr), calls: map[string]*OutboundCall{}}
	c.base, c.stop = context.WithCancel(context.Background())
	fail := func(err error) (*Client, error) {
		c.stop()
		ua.Close()
		conn.Close()
		return nil, err
	}
	if c.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		return fail(fmt.Errorf("sip: client server: %w", err))
	}
	cl, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname(c.public.String()),
		sipgo.WithClientAddr(conn.LocalAddr().String()), sipgo.WithClientConnectionAddr(conn.LocalAddr().String()))
	if err != nil {
		return fail(fmt.Errorf("sip: client: %w", err))
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	c.dua = &sipgo.DialogUA{Client: cl, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "hotline", Host: c.public.String(), Port: port}}}
	c.srv.OnBye(c.recovered(c.onBye))
	c.srv.OnInfo(c.recovered(c.onOK))
	c.srv.OnOptions(c.recovered(c.onOK))
	c.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	c.srv.OnInvite(c.recovered(c.onReinvite))
	c.srv.OnRefer(c.recovered(c.onRefer)) // blind transfer by the far end (refer.go)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.srv.ServeUDP(conn)
	}()
	waitUDPReady(ua, conn.LocalAddr().String(), nil)
	return c, nil
}

// Addr is the bound UDP address.
func (c *Client) Addr() netip.AddrPort { return netip.MustParseAddrPort(c.conn.LocalAddr().String()) }

// Close hangs up every call and releases the socket.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.stop()
	calls := make([]*OutboundCall, 0, len(c.calls))
	for _, oc := range c.calls {
		if oc.watching {
			calls = append(calls, oc)
		}
	}
	c.mu.Unlock()
	for _, oc := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		oc.Hangup(ctx)
		cancel()
	}
	c.ua.Close()
	c.conn.Close()
	c.dua.Client.Close()
	c.wg.Wait()
	return nil
}

func (c *Client) recovered(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("panic in SIP client handler", "panic", fmt.Sprint(r))
			}
		}()
		h(req, tx)
	}
}

func (c *Client) lookup(req *sip.Request) *OutboundCall {
	id, err := sip.DialogIDFromRequestUAC(req)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func (c *Client) onBye(req *sip.Request, tx sip.ServerTransaction) {
	oc := c.lookup(req)
	if oc == nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	if err := oc.dialog.ReadBye(req, tx); err != nil {
		oc.log.Warn("BYE", "err", err)
	}
	oc.end(byeReason(req), "remote")
}

func (c *Client) onOK(req *sip.Request, tx sip.ServerTransaction) {
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// onReinvite: we do not renegotiate as a UAC; 488 keeps the old session (RFC 3261 §14.2).
func (c *Client) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
}

// Dial places a call to a number and returns once it is answered and ACKed.
// uri is sip:USER@HOST[:PORT] with USER from [0-9+*#] only: use it for
// anything built from caller or form input (toll-fraud and injection guard).
// Cancelling ctx before the answer returns ErrCanceled at once; the client
// then finishes the INVITE itself, RFC 3261 §9.1 style: CANCEL once a
// provisional has arrived, ACK and BYE if a 2xx comes instead (cancel.go).
// A final non-2xx comes back as *StatusError.
func (c *Client) Dial(ctx context.Context, uri string, o DialOptions) (*OutboundCall, error) {
	target, err := parseDialURI(uri)
	if err != nil {
		return nil, err
	}
	return c.dial(ctx, target, o)
}

// DialContact is Dial for a registered Contact URI, dialled as registered
// (RFC 3261 §10: e.g. sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp,
// user part and params kept). The user part may hold any RFC 3261 user
// characters, so uri must come from the registrar or the configuration,
// never from a caller (see parseContactURI).
func (c *Client) DialContact(ctx context.Context, uri string, o DialOptions) (*OutboundCall, error) {
	target, err := parseContactURI(uri)
	if err != nil {
		return nil, err
	}
	return c.dial(ctx, target, o)
}

func (c *Client) dial(ctx context.Context, target sip.Uri, o DialOptions) (*OutboundCall, error) {
	var err error
	from := "hotline"
	if o.From != "" {
		if from, err = dialUser(o.From); err != nil {
			return nil, fmt.Errorf("sip: From: %w", err)
		}
	}
	if len(o.Codecs) == 0 {
		o.Codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	sess, err := media.NewSession(media.SessionConfig{IP: c.bindIP, Pool: c.cfg.RTP, Logger: c.log,
		InactivityTimeout: c.cfg.InactivityTimeout, InbandDTMF: o.InbandDTMF})
	if err != nil {
		return nil, fmt.Errorf("sip: dial: media: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			sess.Close()
		}
	}()
	offer, err := BuildOffer(LocalSDP{Addr: netip.AddrPortFrom(c.public, sess.LocalAddr().Port()), SessionID: randUint64(), Version: 1},
		o.Codecs, o.Ptime, SendRecv)
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	fromH := &sip.FromHeader{DisplayName: cleanLimit(strings.ReplaceAll(o.DisplayName, `"`, "")),
		Address: sip.Uri{Scheme: "sip", User: from, Host: c.public.String()}, Params: sip.NewParams()}
	fromH.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fromH)
	req.AppendHeader(sip.NewHeader("Allow", allowed+", REFER")) // RFC 3515 §2.4.2: we take REFER (refer.go)
	for k, v := range o.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("%w: header name %q", ErrBadHeader, clean(k))
		}
		req.AppendHeader(sip.NewHeader(k, cleanLimit(v)))
	}
	dialog, err := c.dua.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sip: dial %s: %w", target.String(), err)
	}
	log := c.log.With("call_id", req.CallID().Value())
	err = c.waitAnswer(ctx, dialog, o, log)
	if errors.Is(err, errAbandoned) { // the client finishes the INVITE (cancel.go)
		return nil, fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
	}
	if err != nil {
		dialog.Close()
		var dr *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &dr):
			return nil, statusErr(dr.Res.StatusCode, clean(dr.Res.Reason), nil)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
		}
		return nil, fmt.Errorf("sip: dial %s: %w", target.String(), err)
	}
	if ctx.Err() != nil {
		// Cancelled, but the far end answered before it saw a CANCEL (or
		// before we could send one): RFC 3261 §15 — ACK the 2xx, then BYE.
		byeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dialog.Ack(byeCtx)
		dialog.Bye(byeCtx)
		dialog.Close()
		log.Info("outbound call answered after cancel: ACK and BYE sent")
		return nil, fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
	}
	// Take the SDP from the 200, never from a provisional (sipgo trap).
	neg, nerr := ParseAnswer(dialog.InviteResponse.Body(), o.Codecs)
	ackCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	oc := &OutboundCall{id: req.CallID().Value(), c: c, dialog: dialog, media: sess, neg: neg, log: log,
		end_: make(chan struct{}), done: make(chan struct{})}
	// Register before the ACK: the far end may send BYE the moment it has it.
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		dialog.Ack(ackCtx)
		dialog.Bye(ackCtx)
		dialog.Close()
		return nil, errors.New("sip: client closed")
	}
	c.calls[dialog.ID] = oc
	c.mu.Unlock()
	fail := func(err error, bye bool) (*OutboundCall, error) {
		if bye {
			dialog.Bye(ackCtx)
		}
		c.mu.Lock()
		delete(c.calls, dialog.ID)
		c.mu.Unlock()
		dialog.Close()
		return nil, err
	}
	if err := dialog.Ack(ackCtx); err != nil {
		return fail(fmt.Errorf("sip: ACK: %w", err), false)
	}
	if nerr != nil {
		return fail(statusErr(sip.StatusNotAcceptableHere, "Not Acceptable Here", nerr), true)
	}
	if err := sess.Start(neg.remote()); err != nil {
		return fail(fmt.Errorf("sip: media start: %w", err), true)
	}
	c.mu.Lock()
	c.wg.Add(1)
	oc.watching = true
	c.mu.Unlock()
	ok = true
	go func() {
		defer c.wg.Done()
		oc.watch()
	}()
	log.Info("outbound call answered", "codec", neg.Codec.String(), "remote", neg.Remote.String())
	return oc, nil
}

// byeReason reads the text of an RFC 3326 Reason header, or "remote-bye".
func byeReason(req *sip.Request) string {
	h := req.GetHeader("Reason")
	if h == nil {
		return "remote-bye"
	}
	v := h.Value()
	if _, after, ok := strings.Cut(v, `text="`); ok {
		if text, _, ok := strings.Cut(after, `"`); ok && text != "" {
			return cleanLimit(text)
		}
	}
	return "remote-bye"
}
