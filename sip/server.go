package sip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/time/rate"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/logthrottle"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/netguard"
)

// ServerConfig configures the inbound user agent. Zero values are sane
// except that at least one listen address and RTP are required.
type ServerConfig struct {
	UDP, TCP, TLS     string // listen addresses; "" disables
	TLSCert, TLSKey   string
	PublicAddr        string        // IP in Contact and SDP c=; default the UDP (or TCP) listen IP
	UserAgent         string        // User-Agent / Server header
	MaxCalls          int           // concurrent calls; beyond: 503. 0 = unlimited
	RingTime          time.Duration // 180 Ringing shown this long before 200
	RetryAfter        time.Duration // Retry-After on 503 while draining; default 60s
	RTP               *media.PortPool
	InactivityTimeout time.Duration
	InbandDTMF        string  // auto | always | never
	RateLimit         float64 // out-of-dialog requests/s per source IP; 0 = unlimited
	RateBurst         int
	Limits            Limits        // the rest of the edge's limits (docs/security.md)
	Codecs            []media.Codec // accepted, default PCMU, PCMA
	Bus               *events.Bus
	Accept            func(called string) bool // false → 404; nil accepts all
	// Register handles REGISTER (the registrar); nil → 405.
	Register func(req *sip.Request, tx sip.ServerTransaction)
	// FeatureCode applies an agent feature code (*11, *12, *13[n], *14, ...)
	// dialled from the agent's own phone: an INVITE whose Request-URI user
	// starts with '*' is authenticated with Authenticate and, once the SDP
	// is acceptable, FeatureCode(ctx, user, code) runs; an error wrapping
	// ErrNotFound answers 404, anything else is answered with a confirmation
	// (nil) or failure tone, then BYE (see feature.go). Its call.started
	// event's CallStart carries FeatureCode and Agent. nil: '*' numbers are
	// ordinary calls for the Handler.
	FeatureCode func(ctx context.Context, user, code string) error
	// Authenticate verifies digest credentials (RFC 3261 §22) on requests
	// that need them: it returns the authenticated user, or the response to
	// send instead (401 challenge, 403). registrar.Registrar.Authenticate
	// fits (its user is the agent ID). Required with FeatureCode.
	Authenticate func(req *sip.Request) (user string, reject *sip.Response)
	// Ready is the node's readiness (/readyz's checks: the database
	// answers, ...). While it fails, OPTIONS is answered 503 with
	// Retry-After, as while draining, so a proxy's probe takes the node
	// out. Run at most once a second, bounded by ReadyTimeout. nil: ready.
	Ready        func(ctx context.Context) error
	ReadyTimeout time.Duration // default 2s
}

// Handler serves one answered call. ctx is cancelled when the caller hangs
// up, the media times out, or the drain time runs out.
type Handler interface {
	ServeCall(ctx context.Context, c *Call)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Call)

// ServeCall calls f.
func (f HandlerFunc) ServeCall(ctx context.Context, c *Call) { f(ctx, c) }

// Server is the inbound SIP user agent (UAS) on sipgo.
type Server struct {
	cfg     ServerConfig
	h       Handler
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dua     *sipgo.DialogUA
	public  netip.Addr // advertised in Contact and SDP
	mediaIP netip.Addr // where RTP sockets bind (the SIP listen IP)
	limits  Limits
	limiter *sourceLimiter // per source IP; nil: RateLimit 0
	total   *rate.Limiter  // all sources; nil: Limits.RateTotal off
	edge    *edgeCounters
	edgeLog *slog.Logger // rate-limited: what floods would repeat
	streams streams      // TCP/TLS connections by source

	featureOK, featureFailed *media.Prompt // feature-code result tones
	errDraining              *StatusError  // ErrDraining as we answer it: 503 with our Retry-After
	ready                    *readyCache   // OPTIONS' view of ServerConfig.Ready

	mu      sync.Mutex
	calls   map[string]*Call // by dialog ID
	callIDs map[string]*callIDClaim
	// callIDWait bounds the wait for an ended call's Call-ID (default
	// callIDWait); onCallIDWait, nil outside tests, is told that an INVITE
	// waits.
	callIDWait   time.Duration
	onCallIDWait func(callID string)
	adm          admission // call counts (setup.go)
	draining     bool
	forced       bool // drain time is over: calls set up from now on end at once
	closed       bool
	listening    bool
	serving      bool
	udp          net.PacketConn
	tcp, tls     net.Listener
	tcpGuard     *netguard.Listener
	tlsGuard     *netguard.Listener
	callWG       sync.WaitGroup
	serveWG      sync.WaitGroup
	closeCh      chan struct{}
	closeOnce    sync.Once
	active       atomic.Int64
	responses    responseCounts // metrics.go
	served       atomic.Int64   // requests that reached wrap: each has a sipgo transaction (tests)
}

// NewServer builds the server; Listen or Serve binds it.
func NewServer(cfg ServerConfig, h Handler, logger *slog.Logger) (*Server, error) {
	if h == nil {
		return nil, errors.New("sip: nil handler")
	}
	if cfg.RTP == nil {
		return nil, errors.New("sip: ServerConfig.RTP port pool is required")
	}
	if cfg.UDP == "" && cfg.TCP == "" && cfg.TLS == "" {
		return nil, errors.New("sip: no listen address")
	}
	if cfg.FeatureCode != nil && cfg.Authenticate == nil {
		return nil, errors.New("sip: FeatureCode needs Authenticate (anyone could change agents' state)")
	}
	if (cfg.TLS != "") != (cfg.TLSCert != "" && cfg.TLSKey != "") {
		return nil, errors.New("sip: TLS needs both cert and key")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 60 * time.Second
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Hotline"
	}
	public, err := publicAddr(cfg)
	if err != nil {
		return nil, err
	}
	log := logger.With("component", "sip")
	// sipgo logs one line per bad packet or failed transaction, and so do
	// the edge's refusals: both go through a handler that passes a few of
	// each kind per interval and then one summary line.
	throttled := slog.New(logthrottle.New(log.Handler(), logthrottle.Options{}))
	// The UDP listener forgets sources quiet for 2*64*T1 (third_party/sipgo/NOTE.md):
	// our transactions keep their connection and our requests leave from the
	// listener's address, so nothing needs them longer.
	ua, err := newUA(cfg.UserAgent, public.String(), throttled, nil,
		sip.WithTransportLayerUDPListenerAddrs(2*64*sip.T1, 0))
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(throttled))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	s := &Server{cfg: cfg, h: h, log: log, ua: ua, srv: srv, public: public, mediaIP: mediaIP(cfg, public),
		limits: cfg.Limits.withDefaults(), edge: newEdgeCounters(), edgeLog: throttled,
		calls: map[string]*Call{}, callIDs: map[string]*callIDClaim{}, callIDWait: callIDWait, closeCh: make(chan struct{}),
		adm: admission{perSource: map[netip.Addr]int{}, byCallID: map[string]*setupSlot{}}}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	s.ready = &readyCache{check: cfg.Ready, timeout: cfg.ReadyTimeout, log: log}
	if cfg.RateLimit > 0 {
		s.limiter = newSourceLimiter(cfg.RateLimit, cfg.RateBurst, time.Now)
	}
	if s.limits.RateTotal > 0 {
		s.total = rate.NewLimiter(rate.Limit(s.limits.RateTotal), max(1, s.limits.BurstTotal))
	}
	s.errDraining = statusErr(sip.StatusServiceUnavailable, "Service Unavailable", ErrDraining,
		sip.NewHeader("Retry-After", strconv.Itoa(int(cfg.RetryAfter/time.Second))))
	ua.TransportLayer().OnMessage(s.onMessage)
	if cfg.FeatureCode != nil {
		s.featureOK, s.featureFailed = featureTones()
	}
	s.routes()
	return s, nil
}

// newUA builds a sipgo user agent with our logger bridged into every layer.
func newUA(name, host string, log *slog.Logger, tlsConf *tls.Config, transport ...sip.TransportLayerOption) (*sipgo.UserAgent, error) {
	opts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log),
			// sipgo's default logs each stray response at INFO on the global
			// logger: a flood of forged responses would be a flood of log.
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				log.Debug("unmatched response dropped", "status", r.StatusCode, "source", r.Source())
			})),
		sipgo.WithUserAgentTransportLayerOptions(append([]sip.TransportLayerOption{sip.WithTransportLayerLogger(log)}, transport...)...),
	}
	if tlsConf != nil {
		opts = append(opts, sipgo.WithUserAgenTLSConfig(tlsConf))
	}
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	return ua, nil
}

func publicAddr(cfg ServerConfig) (netip.Addr, error) {
	v := cfg.PublicAddr
	if v == "" {
		for _, a := range []string{cfg.UDP, cfg.TCP, cfg.TLS} {
			if a != "" {
				v, _, _ = net.SplitHostPort(a)
				break
			}
		}
	}
	ip, err := netip.ParseAddr(v)
	if err != nil || ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("sip: public_addr %q: need a concrete IP for Contact and SDP", v)
	}
	return ip.Unmap(), nil
}

// mediaIP is where RTP binds: the SIP listen IP (possibly 0.0.0.0), not the
// public address, which behind NAT is not a local address at all.
func mediaIP(cfg ServerConfig, public netip.Addr) netip.Addr {
	return bindIP(public, cfg.UDP, cfg.TCP, cfg.TLS)
}

// bindIP is the IP of the first listen address that has one, else public
// (a host name is not bindable as is).
func bindIP(public netip.Addr, listen ...string) netip.Addr {
	for _, a := range listen {
		if host, _, err := net.SplitHostPort(a); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil {
				return ip.Unmap()
			}
		}
	}
	return public
}

// Listen binds the configured sockets. Serve calls it if needed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.listening {
		return nil
	}
	var err error
	if s.cfg.UDP != "" {
		if s.udp, err = net.ListenPacket("udp", s.cfg.UDP); err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", s.cfg.UDP, err)
		}
	}
	if s.cfg.TCP != "" {
		raw, err := net.Listen("tcp", s.cfg.TCP)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: listen tcp %s: %w", s.cfg.TCP, err)
		}
		s.tcpGuard = netguard.New(raw, s.streamCaps("sip tcp"))
		s.tcp = &streamListener{Listener: s.tcpGuard, s: s, transport: "TCP"}
	}
	if s.cfg.TLS != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: tls cert: %w", err)
		}
		raw, err := net.Listen("tcp", s.cfg.TLS)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: listen tls %s: %w", s.cfg.TLS, err)
		}
		s.tlsGuard = netguard.New(raw, s.streamCaps("sip tls"))
		tl := tls.NewListener(s.tlsGuard, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		s.tls = &streamListener{Listener: tl, s: s, transport: "TLS"}
	}
	// Requests we originate (BYE) leave from the UDP listener so the far end
	// sees the address it sent the INVITE to.
	copts := []sipgo.ClientOption{sipgo.WithClientLogger(s.log), sipgo.WithClientHostname(s.public.String())}
	if s.udp != nil {
		a := s.udp.LocalAddr().String()
		copts = append(copts, sipgo.WithClientAddr(a), sipgo.WithClientConnectionAddr(a))
	}
	cl, err := sipgo.NewClient(s.ua, copts...)
	if err != nil {
		s.closeListeners()
		return fmt.Errorf("sip: client: %w", err)
	}
	s.dua = &sipgo.DialogUA{Client: cl, ContactHDR: *s.contactFor("udp")}
	s.listening = true
	return nil
}

// streamCaps are the connection caps of a TCP or TLS listener.
func (s *Server) streamCaps(name string) netguard.Config {
	return netguard.Config{MaxConns: s.limits.TCPMaxConns, MaxConnsPerSource: s.limits.TCPMaxConnsPerSource,
		Exempt: s.limits.trusted, Logger: s.edgeLog, Name: name}
}

func (s *Server) closeListeners() {
	for _, c := range []interface{ Close() error }{s.udp, s.tcp, s.tls} {
		if c != nil {
			c.Close()
		}
	}
}

// Addr is the bound UDP address (or TCP when UDP is off); invalid before Listen.
func (s *Server) Addr() netip.AddrPort {
	addrs := s.Addrs()
	for _, t := range []string{"udp", "tcp", "tls"} {
		if a, ok := addrs[t]; ok {
			return a
		}
	}
	return netip.AddrPort{}
}

// Addrs reports the bound addresses by transport ("udp", "tcp", "tls").
func (s *Server) Addrs() map[string]netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrsLocked()
}

func (s *Server) addrsLocked() map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	if s.udp != nil {
		out["udp"] = netip.MustParseAddrPort(s.udp.LocalAddr().String())
	}
	if s.tcp != nil {
		out["tcp"] = netip.MustParseAddrPort(s.tcp.Addr().String())
	}
	if s.tls != nil {
		out["tls"] = netip.MustParseAddrPort(s.tls.Addr().String())
	}
	return out
}

// Serve binds (if needed) and serves until ctx is done (then it closes the
// server, as Close does) or Shutdown or Close is called. It returns nil on
// such a clean stop, also when Shutdown or Close came before it. Temporary
// accept errors (EMFILE) are retried, never returned. If a listener fails
// for good, Serve returns its error but leaves the calls up: the caller
// drains them with Shutdown (one broken transport must not cut every call).
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		if errors.Is(err, ErrServerClosed) {
			return nil // stopped before it started
		}
		return err
	}
	errc := make(chan error, 3)
	// The serving goroutines join serveWG under mu, where Close sets
	// closed: Close either sees them and waits, or Serve sees closed.
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil
	case s.serving:
		s.mu.Unlock()
		return errors.New("sip: Serve called twice")
	}
	s.serving = true
	serve := func(f func() error) {
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			errc <- f()
		}()
	}
	var udpAddr string
	if s.udp != nil {
		udp := newUDPGuard(s.udp, s)
		udpAddr = s.udp.LocalAddr().String()
		serve(func() error { return s.srv.ServeUDP(udp) })
	}
	if tcp := s.tcp; tcp != nil {
		serve(func() error { return s.srv.ServeTCP(tcp) })
	}
	if tl := s.tls; tl != nil {
		serve(func() error { return s.srv.ServeTLS(tl) })
	}
	s.mu.Unlock()
	if udpAddr != "" {
		waitUDPReady(s.ua, udpAddr, s.closeCh)
	}
	select {
	case <-ctx.Done():
		s.Close()
		return nil
	case <-s.closeCh:
		return nil
	case err := <-errc:
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed { // Close closed the listeners
			return nil
		}
		if err == nil { // sipgo's UDP reader returns nil on a read error
			err = errors.New("listener stopped")
		}
		s.edge.add(EdgeTransportFailures)
		s.log.Error("SIP listener failed; the server must be shut down (calls are kept until then)", "err", err)
		return fmt.Errorf("sip: serve: %w", err)
	}
}

// ActiveCalls counts calls between INVITE accepted and call ended.
func (s *Server) ActiveCalls() int { return int(s.active.Load()) }

// publish puts one of the server's events on the bus; payload is one of
// the structs of events.go.
func (s *Server) publish(typ, callID string, payload any) {
	s.cfg.Bus.Publish(events.Event{Type: typ, CallID: callID, Payload: payload})
}

func randUint64() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2 // keep it positive for o= parsers
}
