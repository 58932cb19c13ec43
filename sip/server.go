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

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
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
	// event carries "feature_code" and "agent". nil: '*' numbers are
	// ordinary calls for the Handler.
	FeatureCode func(ctx context.Context, user, code string) error
	// Authenticate verifies digest credentials (RFC 3261 §22) on requests
	// that need them: it returns the authenticated user, or the response to
	// send instead (401 challenge, 403). registrar.Registrar.Authenticate
	// fits (its user is the agent ID). Required with FeatureCode.
	Authenticate func(req *sip.Request) (user string, reject *sip.Response)
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
	limiter *rateLimiter

	featureOK, featureFailed *media.Prompt // feature-code result tones

	mu        sync.Mutex
	calls     map[string]*Call // by dialog ID
	reserved  int              // calls counted against MaxCalls
	draining  bool
	forced    bool // drain time is over: calls set up from now on end at once
	closed    bool
	listening bool
	serving   bool
	udp       net.PacketConn
	tcp, tls  net.Listener
	callWG    sync.WaitGroup
	serveWG   sync.WaitGroup
	closeCh   chan struct{}
	closeOnce sync.Once
	active    atomic.Int64
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
	ua, err := newUA(cfg.UserAgent, public.String(), log, nil)
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	s := &Server{cfg: cfg, h: h, log: log, ua: ua, srv: srv, public: public, mediaIP: mediaIP(cfg, public),
		calls: map[string]*Call{}, closeCh: make(chan struct{})}
	if cfg.RateLimit > 0 {
		s.limiter = newRateLimiter(cfg.RateLimit, cfg.RateBurst, time.Now)
	}
	if cfg.FeatureCode != nil {
		s.featureOK, s.featureFailed = featureTones()
	}
	s.routes()
	return s, nil
}

// newUA builds a sipgo user agent with our logger bridged into every layer.
func newUA(name, host string, log *slog.Logger, tlsConf *tls.Config) (*sipgo.UserAgent, error) {
	opts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
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
		if s.tcp, err = net.Listen("tcp", s.cfg.TCP); err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: listen tcp %s: %w", s.cfg.TCP, err)
		}
	}
	if s.cfg.TLS != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: tls cert: %w", err)
		}
		if s.tls, err = tls.Listen("tcp", s.cfg.TLS, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}); err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: listen tls %s: %w", s.cfg.TLS, err)
		}
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

// Serve binds (if needed) and serves until ctx is done (then Close) or
// Shutdown/Close is called; it returns ErrServerClosed after a clean stop.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("sip: Serve called twice")
	}
	s.serving = true
	udp, tcp, tl := s.udp, s.tcp, s.tls
	s.mu.Unlock()
	errc := make(chan error, 3)
	serve := func(f func() error) {
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			errc <- f()
		}()
	}
	if udp != nil {
		serve(func() error { return s.srv.ServeUDP(udp) })
		waitUDPReady(s.ua, udp.LocalAddr().String(), s.closeCh)
	}
	if tcp != nil {
		serve(func() error { return s.srv.ServeTCP(tcp) })
	}
	if tl != nil {
		serve(func() error { return s.srv.ServeTLS(tl) })
	}
	select {
	case <-ctx.Done():
		s.Close()
		return ErrServerClosed
	case <-s.closeCh:
		return ErrServerClosed
	case err := <-errc:
		s.mu.Lock()
		closed := s.closed || s.draining
		s.mu.Unlock()
		s.Close()
		if closed || err == nil || errors.Is(err, net.ErrClosed) {
			return ErrServerClosed
		}
		return fmt.Errorf("sip: serve: %w", err)
	}
}

// ListenAndServe is Serve (which binds first); kept for net/http familiarity.
func (s *Server) ListenAndServe(ctx context.Context) error { return s.Serve(ctx) }

// ActiveCalls counts calls between INVITE accepted and call ended.
func (s *Server) ActiveCalls() int { return int(s.active.Load()) }

func (s *Server) retryAfter() sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter/time.Second)))
}

func (s *Server) publish(typ, callID string, data map[string]any) {
	s.cfg.Bus.Publish(events.Event{Type: typ, CallID: callID, Data: data})
}

func randUint64() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2 // keep it positive for o= parsers
}
