package sip

import (
	"context"
	"crypto/tls"
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
	"github.com/google/uuid"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/outbound"
)

// ClientConfig configures the outbound user agent (UAC).
type ClientConfig struct {
	Addr              string // UDP listen address, e.g. "127.0.0.1:0"
	PublicAddr        string // IP for Contact and SDP; default the Addr IP
	UserAgent         string
	RTP               *media.PortPool // nil: ephemeral RTP ports
	InactivityTimeout time.Duration
	Logger            *slog.Logger
	// Policy admits every Dial and DialContact to a number or a trunk's host
	// (outbound.Policy.CheckDial; a URI on a trunk's host goes out through
	// that trunk, see DialOut). nil: nothing is checked (test callers).
	Policy *outbound.Policy
	// TLS verifies TLS trunks (roots, server name); nil: the system's roots.
	TLS *tls.Config
	// OutboundProxy (config sip.outbound_proxy), "sip:host[:port][;lr]",
	// is the next hop of every INVITE that has no route of its own: not
	// one to a contact registered with a Path (DialOptions.Route), nor one
	// through a trunk with its own proxy or over TCP/TLS. It is sent as the
	// INVITE's only Route (a pre-existing route set, RFC 3261 §8.1.2);
	// requests in the dialog then follow the Record-Route the proxy adds.
	// UDP only. "": INVITEs go to their Request-URI.
	OutboundProxy string
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
	// CallID is the call this leg serves (an agent leg: the caller's
	// Call-ID). Every log line of the leg carries it as call_id and the
	// leg's own Call-ID as leg_id, so one grep finds both sides of a call.
	// Empty: call_id is the leg's own Call-ID.
	CallID string
	// MediaConn, when set, is this call's RTP socket instead of one from
	// ClientConfig.RTP: for a caller that must see every packet on its own
	// socket (the load generator's receive timestamps). Its port is the one
	// the offer advertises (with the client's public IP). The call owns it
	// from Dial on: it is closed with the call's media, or when Dial fails.
	MediaConn media.PacketConn
	// Source is on whose behalf the call is placed (the caller's number),
	// for the outbound policy's per-source rate (ClientConfig.Policy).
	Source string
	// DialogCallID and FromTag, when set, are the INVITE's own Call-ID and
	// From tag instead of fresh random ones: for a call whose record was
	// written before it was placed (a callback attempt's interaction on the
	// ticket is keyed on them). They must be unique per call, as RFC 3261
	// §8.1.1.4 and §19.3 require: the caller generates them that way.
	// DialogCallID is an RFC 3261 §25.1 word (at most one "@" between two
	// words), FromTag a token; at most 128 characters each: anything else
	// fails the dial with ErrBadHeader before anything is sent. Not to be
	// confused with CallID, the log's correlation id.
	DialogCallID string
	FromTag      string
	// Route is the INVITE's route set, first hop first, as Route header
	// values ("<sip:proxy;lr>"): the Path a contact registered with (RFC
	// 3327; registrar.RouteSet). Every hop is taken as a loose router.
	// Empty: ClientConfig.OutboundProxy, if any. A value that is not a
	// name-addr fails the dial with ErrBadHeader before anything is sent.
	Route []string

	leg   *trunkLeg // set by DialOut for a trunk (trunk.go)
	onEnd func()    // set by DialOut: OutboundCall.onEnd
}

// dropMedia closes MediaConn when Dial fails before a session owns it.
func (o DialOptions) dropMedia() {
	if o.MediaConn != nil {
		o.MediaConn.Close()
	}
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

	mu       sync.Mutex
	calls    map[string]*OutboundCall
	changed  chan struct{} // closed and replaced when a call leaves calls (Shutdown waits on it)
	running  bool          // Run was called
	draining bool          // Shutdown: no new calls
	closed   bool
	wg       sync.WaitGroup // every goroutine of the client: Run's reader, calls' watchers, abandoned INVITEs, NOTIFYs
	ready    chan struct{}  // closed once Run serves the socket

	base context.Context // cancelled by Close: abandoned INVITEs give up
	stop context.CancelFunc

	streamState // TCP and TLS trunks (trunk.go)
}

// NewClient binds the UDP socket and builds the user agent; it starts
// nothing. Run serves the socket, and Dial waits until it does.
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
	if cfg.OutboundProxy != "" {
		u, err := routeURI(cfg.OutboundProxy)
		if err != nil {
			return nil, fmt.Errorf("sip: client outbound proxy %q: %w", clean(cfg.OutboundProxy), err)
		}
		if t, ok := u.UriParams.Get("transport"); ok && !strings.EqualFold(t, "udp") {
			return nil, fmt.Errorf("sip: client outbound proxy %q: transport %s: only UDP is supported", clean(cfg.OutboundProxy), clean(t))
		}
	}
	log := logger.With("component", "sip-client")
	conn, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sip: client listen %s: %w", cfg.Addr, err)
	}
	ua, err := newUA(cfg.UserAgent, public.String(), log, cfg.TLS)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{cfg: cfg, log: log, ua: ua, conn: conn, public: public.Unmap(), bindIP: bindIP(public.Unmap(), cfg.Addr),
		calls: map[string]*OutboundCall{}, changed: make(chan struct{}), ready: make(chan struct{})}
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
	c.srv.OnInfo(c.recovered(c.onInfo))
	c.srv.OnOptions(c.recovered(c.onOK))
	c.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	c.srv.OnInvite(c.recovered(c.onReinvite))
	c.srv.OnRefer(c.recovered(c.onRefer)) // blind transfer by the far end (refer.go)
	return c, nil
}

// Addr is the bound UDP address.
func (c *Client) Addr() netip.AddrPort { return netip.MustParseAddrPort(c.conn.LocalAddr().String()) }

// Run serves the client's socket (the responses to our requests and the
// requests in our dialogs: BYE, INFO, OPTIONS, re-INVITE, REFER) until ctx
// is done (then it closes the client, as Close does) or Shutdown or Close is
// called, and returns nil then, also when they came before it. If the
// socket fails for good, Run closes the client (its calls cannot go on
// without it) and returns the error.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil
	case c.running:
		c.mu.Unlock()
		return errors.New("sip: Client.Run called twice")
	}
	c.running = true
	errc := make(chan error, 1)
	c.wg.Add(1) // under mu, where Close sets closed: Close waits for it
	go func() {
		defer c.wg.Done()
		errc <- c.srv.ServeUDP(c.conn)
	}()
	c.mu.Unlock()
	// Requests must leave from this socket: wait until sipgo has it in its pool.
	waitUDPReady(c.ua, c.conn.LocalAddr().String(), c.base.Done())
	close(c.ready)
	select {
	case <-ctx.Done():
		return c.Close()
	case <-c.base.Done():
		return nil
	case err := <-errc:
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil
		}
		if err == nil { // sipgo's UDP reader returns nil on a read error
			err = errors.New("socket stopped")
		}
		c.log.Error("SIP client socket failed; its calls are hung up", "err", err)
		c.Close()
		return fmt.Errorf("sip: client: %w", err)
	}
}

// Shutdown stops placing calls (Dial returns ErrClientClosed), waits until
// the calls in progress have ended or ctx is done, then closes the client,
// hanging up what is left. It returns ctx's error when the wait was cut short.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	var err error
	for {
		c.mu.Lock()
		n, changed := len(c.calls), c.changed
		c.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	return errors.Join(err, c.Close())
}

// Close hangs up every call at once, releases the socket and waits for the
// client's goroutines. It is safe to call more than once.
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
				c.log.Error("panic in SIP client handler", "call_id", callIDOf(req), "method", req.Method.String(), "panic", fmt.Sprint(r))
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
		c.respondError(req, tx, ErrNoDialog)
		return
	}
	if err := oc.dialog.ReadBye(req, tx); err != nil {
		oc.log.Warn("BYE", "err", err)
	}
	oc.end(byeReason(req), SideRemote)
}

// onInfo takes the keys the called party sends as INFO (RFC 6086 §4.2) into
// the call's digits, beside RFC 4733 and in-band ones: a callback customer
// on such a phone confirms with it.
func (c *Client) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	oc := c.lookup(req)
	if oc == nil {
		c.respondError(req, tx, ErrNoDialog)
		return
	}
	d, err := infoDigit(req)
	if err != nil {
		oc.log.Info("INFO refused", "err", err)
		c.respondError(req, tx, err)
		return
	}
	c.send(tx, sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	oc.media.InjectDigit(d)
}

func (c *Client) onOK(req *sip.Request, tx sip.ServerTransaction) {
	c.send(tx, sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// errNoRenegotiation refuses a re-INVITE: we do not renegotiate as a UAC.
var errNoRenegotiation = statusErr(sip.StatusNotAcceptableHere, "Not Acceptable Here", errors.New("sip: the client does not renegotiate"))

// onReinvite: 488 keeps the old session (RFC 3261 §14.2).
func (c *Client) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c.respondError(req, tx, errNoRenegotiation)
}

// respondError refuses req with the response err stands for (errorResponse).
func (c *Client) respondError(req *sip.Request, tx sip.ServerTransaction, err error) {
	c.send(tx, errorResponse(req, err))
}

func (c *Client) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		c.log.Debug("respond failed", "status", res.StatusCode, "err", err)
	}
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
		o.dropMedia()
		return nil, err
	}
	if c.cfg.Policy != nil {
		return c.admitted(ctx, target.String(), o)
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
		o.dropMedia()
		return nil, err
	}
	if c.cfg.Policy != nil {
		return c.admitted(ctx, uri, o)
	}
	return c.dial(ctx, target, o)
}

func (c *Client) dial(ctx context.Context, target sip.Uri, o DialOptions) (*OutboundCall, error) {
	select { // Run serves the socket the INVITE leaves from
	case <-c.ready:
	case <-c.base.Done():
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w (the client is not running)", ErrCanceled, ctx.Err())
	}
	if err := c.accepting(); err != nil {
		return nil, err
	}
	var err error
	from := "hotline"
	if o.From != "" {
		if from, err = dialUser(o.From); err != nil {
			o.dropMedia()
			return nil, fmt.Errorf("sip: From: %w", err)
		}
	}
	if len(o.Codecs) == 0 {
		o.Codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	legID := uuid.NewString()
	if o.DialogCallID != "" {
		if !validCallID(o.DialogCallID) {
			o.dropMedia()
			return nil, fmt.Errorf("%w: Call-ID %q", ErrBadHeader, clean(o.DialogCallID))
		}
		legID = o.DialogCallID
	}
	tag := sip.GenerateTagN(16)
	if o.FromTag != "" {
		if !validToken(o.FromTag) {
			o.dropMedia()
			return nil, fmt.Errorf("%w: From tag %q", ErrBadHeader, clean(o.FromTag))
		}
		tag = o.FromTag
	}
	log := c.log.With("call_id", legID)
	if o.CallID != "" {
		log = c.log.With("call_id", clean(o.CallID), "leg_id", legID)
	}
	sess, err := media.NewSession(media.SessionConfig{IP: c.bindIP, Pool: c.cfg.RTP, Logger: log,
		InactivityTimeout: c.cfg.InactivityTimeout, InbandDTMF: o.InbandDTMF, Conn: o.MediaConn})
	if err != nil {
		o.dropMedia()
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
	callID := sip.CallIDHeader(legID) // set here so the media session logs it too
	req.AppendHeader(&callID)
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	fromHost := c.public.String()
	if o.leg != nil { // a trunk: the account's identity (trunk.go)
		from, fromHost = o.leg.from()
	}
	fromH := &sip.FromHeader{DisplayName: cleanLimit(strings.ReplaceAll(o.DisplayName, `"`, "")),
		Address: sip.Uri{Scheme: "sip", User: from, Host: fromHost}, Params: sip.NewParams()}
	fromH.Params.Add("tag", tag)
	req.AppendHeader(fromH)
	req.AppendHeader(sip.NewHeader("Allow", allowed+", REFER")) // RFC 3515 §2.4.2: we take REFER (refer.go)
	for k, v := range o.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("%w: header name %q", ErrBadHeader, clean(k))
		}
		req.AppendHeader(sip.NewHeader(k, cleanLimit(v)))
	}
	routes := o.Route
	if len(routes) == 0 && c.cfg.OutboundProxy != "" && (o.leg == nil || o.leg.proxy == "" && o.leg.transport == "udp") {
		routes = []string{c.cfg.OutboundProxy}
	}
	for _, r := range routes {
		u, err := routeURI(r)
		if err != nil {
			return nil, fmt.Errorf("%w: Route %q: %w", ErrBadHeader, clean(r), err)
		}
		req.AppendHeader(&sip.RouteHeader{Address: u})
	}
	dua := c.dua
	if o.leg != nil {
		dua = c.trunkUA(o.leg, req)
	}
	dialog, err := dua.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sip: dial %s: %w", target.String(), err)
	}
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
	neg.Signal = signalIP(dialog.InviteResponse.Source())
	ackCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	oc := &OutboundCall{id: req.CallID().Value(), c: c, dialog: dialog, media: sess, neg: neg, log: log,
		end_: make(chan struct{}), bye: make(chan struct{}), done: make(chan struct{}), onEnd: o.onEnd}
	// Register before the ACK: the far end may send BYE the moment it has it.
	c.mu.Lock()
	if c.closed || c.draining {
		c.mu.Unlock()
		dialog.Ack(ackCtx)
		dialog.Bye(ackCtx)
		dialog.Close()
		return nil, ErrClientClosed
	}
	c.calls[dialog.ID] = oc
	c.mu.Unlock()
	fail := func(err error, bye bool) (*OutboundCall, error) {
		if bye {
			dialog.Bye(ackCtx)
		}
		c.forget(dialog.ID)
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
	if c.closed { // Close did not see this call: end it here
		c.mu.Unlock()
		return fail(ErrClientClosed, true)
	}
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

// accepting is nil while the client places calls, else ErrClientClosed.
func (c *Client) accepting() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.draining {
		return ErrClientClosed
	}
	return nil
}

// forget removes a call from the client's table (its dialog is over).
func (c *Client) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.calls[id]; ok {
		delete(c.calls, id)
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

// byeReason reads the text of an RFC 3326 Reason header, or "remote-bye".
func byeReason(req *sip.Request) Cause {
	h := req.GetHeader("Reason")
	if h == nil {
		return CauseRemoteBye
	}
	v := h.Value()
	if _, after, ok := strings.Cut(v, `text="`); ok {
		if text, _, ok := strings.Cut(after, `"`); ok && text != "" {
			return Cause(cleanLimit(text))
		}
	}
	return CauseRemoteBye
}
