// Package app wires Hotline together from a config.Config: prompts, flows, the
// IVR engine, the SIP user agent, the ticket history, the call logger and the
// HTTP API. cmd/hotline only parses flags and calls it; end-to-end tests start
// an App in-process on port 0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// App is one running Hotline.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	bus     *events.Bus
	prompts *media.Library
	ports   *media.PortPool
	flows   *flows.Registry
	engine  *ivr.Engine
	store   *lazyStore
	calls   *calllog.Logger
	sip     *sip.Server
	api     *api.Server
	http    *http.Server
	httpLn  net.Listener
	metrics *metrics
	live    *liveCalls
	acd     *acd
}

// New builds every component and binds the listeners, so Addr methods work
// before Run. It fails on anything that would make calls fail later: missing
// or corrupt prompts, an invalid flow directory, ports that cannot be bound.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, bus: events.NewBus(), live: newLiveCalls()}
	// undo releases what was built (sockets, the spool lock, the database)
	// when a later step fails, newest first.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	if a.prompts, err = media.LoadLibrary(cfg.Media.Prompts); err != nil {
		return nil, fmt.Errorf("load prompts from %s (media.prompts): %w", cfg.Media.Prompts, err)
	}
	if a.ports, err = media.NewPortPool(cfg.Media.PortMin, cfg.Media.PortMax); err != nil {
		return nil, fmt.Errorf("media.port_min/port_max: %w", err)
	}

	a.flows = flows.NewRegistry(cfg.Flows.Dir, flows.EnvFromConfig(cfg, a.prompts), log)
	problems, err := a.flows.Reload()
	for _, p := range problems {
		log.Warn("flow problem", "problem", p.String())
	}
	if err != nil {
		return nil, fmt.Errorf("flows in %s: %w", cfg.Flows.Dir, err)
	}
	if set := a.flows.Current(); set == nil || len(set.Flows()) == 0 {
		return nil, fmt.Errorf("flows in %s: no flow files found (flows.dir)", cfg.Flows.Dir)
	}

	a.store = newLazyStore(func(ctx context.Context) (store.Store, error) {
		return storeopen.Open(ctx, cfg.Database.URL, store.Options{DefaultCountry: cfg.Phone.DefaultCountry, Logger: log})
	})
	undo = append(undo, func() { _ = a.store.Close() })
	if _, err := a.store.get(ctx); err != nil {
		// Calls are still answered and logged to the spool; the API answers
		// 503 until the database is back. Refusing to start would lose calls.
		log.Error("ticket history unavailable at start; calls will be spooled", "database", redactURL(cfg.Database.URL), "err", err)
	}
	if a.calls, err = calllog.New(a.store, calllog.Options{SpoolDir: cfg.Database.SpoolDir, Logger: log}); err != nil {
		return nil, fmt.Errorf("call log (database.spool_dir %s): %w", cfg.Database.SpoolDir, err)
	}
	undo = append(undo, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.calls.Close(ctx)
	})

	if err = a.newACD(); err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = a.acd.close() })
	if a.engine, err = ivr.NewEngine(ivr.Config{
		Prompts: a.prompts, Lookups: cfg.Lookups, Calendars: cfg.Calendars, Bus: a.bus, Logger: log,
		Enqueuer: a.acd.enqueuer,
	}); err != nil {
		return nil, fmt.Errorf("ivr engine: %w", err)
	}
	if err = a.newSIP(); err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = a.sip.Close() })
	if err = a.newHTTP(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) newSIP() error {
	cfg := a.cfg
	srv, err := sip.NewServer(sip.ServerConfig{
		UDP: cfg.SIP.UDP, TCP: cfg.SIP.TCP, TLS: cfg.SIP.TLS, TLSCert: cfg.SIP.TLSCert, TLSKey: cfg.SIP.TLSKey,
		PublicAddr: ownHost(cfg.SIP), UserAgent: cfg.SIP.UserAgent, MaxCalls: cfg.SIP.MaxCalls, RingTime: cfg.SIP.RingTime,
		RetryAfter: cfg.SIP.RetryAfter, RTP: a.ports, InactivityTimeout: cfg.Media.InactivityTimeout,
		InbandDTMF: cfg.Media.InbandDTMF, RateLimit: cfg.SIP.RateLimit, RateBurst: cfg.SIP.RateBurst,
		Bus: a.bus, Accept: a.accept, Register: a.acd.reg.HandleRegister,
		Authenticate: a.acd.reg.Authenticate, FeatureCode: a.acd.featureCode,
	}, a, a.log)
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	if err := srv.Listen(); err != nil {
		_ = srv.Close()
		return fmt.Errorf("sip listen (sip.udp %q, sip.tcp %q): %w", cfg.SIP.UDP, cfg.SIP.TCP, err)
	}
	a.sip = srv
	return nil
}

func (a *App) newHTTP() error {
	a.metrics = newMetrics(a.bus, []gauge{
		{"hotline_calls_active", "Calls in progress.", func() float64 { return float64(a.sip.ActiveCalls()) }},
		{"hotline_rtp_ports_in_use", "RTP ports allocated (including ports draining before reuse).",
			func() float64 { return float64(a.ports.InUse()) }},
		{"hotline_calllog_backlog", "Call records waiting in memory or in the spool for the database.",
			func() float64 { s := a.calls.Stats(); return float64(s.Queued + s.Spooled) }},
		{"hotline_flows_loaded", "Flows currently serving.", func() float64 { return float64(len(a.flows.Current().Flows())) }},
	})
	a.api = api.New(api.Config{
		Store: a.store, Tokens: a.cfg.HTTP.Tokens, RateLimit: a.cfg.HTTP.RateLimit, Bus: a.bus,
		Logger: a.log, DefaultCountry: a.cfg.Phone.DefaultCountry, Calls: a.live, Mounts: []api.Mount{a.acd.mount()},
		Health: func(ctx context.Context) error { _, err := a.store.get(ctx); return err },
	})
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen (http.addr %q): %w", a.cfg.HTTP.Addr, err)
	}
	a.httpLn = ln
	a.http = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	a.http.RegisterOnShutdown(a.api.Close)
	return nil
}

// Run serves until ctx ends, then shuts down in order: SIP first (new calls
// get 503, live calls get sip.drain_time to finish, then BYE), then HTTP, then
// the call log is flushed (to the database or the spool) and the store closed.
func (a *App) Run(ctx context.Context) error {
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	logCtx, stopLog := context.WithCancel(context.Background())
	defer stopLog()

	g, gctx := errgroup.WithContext(serveCtx)
	lg := new(errgroup.Group)
	lg.Go(func() error { return a.calls.Run(logCtx) })
	g.Go(func() error { return ignoreClosed(a.sip.Serve(gctx)) })
	g.Go(func() error { return ignoreClosed(a.http.Serve(a.httpLn)) })
	g.Go(func() error { return a.metrics.run(gctx, a.bus.Subscribe(4096)) })
	g.Go(func() error { return ignoreCanceled(a.acd.svc.Run(gctx)) })
	g.Go(func() error { return ignoreCanceled(a.acd.reg.Run(gctx)) })
	if a.cfg.Flows.Watch {
		g.Go(func() error { return ignoreCanceled(a.flows.Watch(gctx)) })
	}
	a.log.Info("hotline serving", "sip", a.SIPAddrs(), "http", a.HTTPAddr().String(),
		"flows", a.flowNames(), "database", redactURL(a.cfg.Database.URL))

	var runErr error
	select {
	case <-ctx.Done():
	case <-gctx.Done():
		runErr = context.Cause(gctx)
	}
	a.log.Info("shutting down", "drain_time", a.cfg.SIP.DrainTime, "active_calls", a.sip.ActiveCalls())
	drainCtx, cancel := context.WithTimeout(context.Background(), a.cfg.SIP.DrainTime)
	err := a.sip.Shutdown(drainCtx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		// The drain time ran out and the remaining calls were sent BYE:
		// that is the documented shutdown, not a failure.
		a.log.Info("drain time over; remaining calls hung up")
		err = nil
	}
	httpCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = errors.Join(err, a.http.Shutdown(httpCtx))
	cancel()
	stopServing()
	err = errors.Join(err, ignoreCanceled(g.Wait()), a.acd.close())

	flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = errors.Join(err, a.calls.Close(flushCtx))
	cancel()
	stopLog()
	err = errors.Join(err, ignoreCanceled(lg.Wait()), a.store.Close())
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return errors.Join(runErr, err)
	}
	return err
}

// Reload re-reads the flow files (SIGHUP). Invalid flows are refused and the
// previous version keeps serving; calls in progress are never affected.
func (a *App) Reload() ([]flows.Problem, error) { return a.flows.Reload() }

// Bus is the event stream (tests and embedders subscribe to it).
func (a *App) Bus() *events.Bus { return a.bus }

// Store is the ticket history (nil error once the database is reachable).
func (a *App) Store(ctx context.Context) (store.Store, error) { return a.store.get(ctx) }

// CallLog is the call logger (tests wait on it).
func (a *App) CallLog() *calllog.Logger { return a.calls }

// Ports is the RTP port pool (leak tests read InUse).
func (a *App) Ports() *media.PortPool { return a.ports }

// SIPAddrs reports the bound SIP listeners by transport.
func (a *App) SIPAddrs() map[string]netip.AddrPort { return a.sip.Addrs() }

// HTTPAddr reports the bound HTTP listener.
func (a *App) HTTPAddr() netip.AddrPort {
	return a.httpLn.Addr().(*net.TCPAddr).AddrPort()
}

func (a *App) accept(called string) bool {
	if _, ok := a.flows.ByNumber(called); ok {
		return true
	}
	_, ok := a.defaultFlow()
	return ok
}

// defaultFlow is the flow for numbers no flow claims (flows.default).
func (a *App) defaultFlow() (*flows.Flow, bool) {
	if a.cfg.Flows.Default == "" {
		return nil, false
	}
	return a.flows.Current().ByName(a.cfg.Flows.Default)
}

func (a *App) flowNames() []string {
	var names []string
	for _, f := range a.flows.Current().Flows() {
		names = append(names, fmt.Sprintf("%s (%s)", f.Name, filepath.Base(f.File)))
	}
	return names
}

// ownHost is the address Hotline puts in Contact and SDP: sip.public_addr,
// else the SIP listen IP.
func ownHost(c config.SIP) string {
	if c.PublicAddr != "" {
		return c.PublicAddr
	}
	return hostOf(c.UDP, c.TCP)
}

func hostOf(addrs ...string) string {
	for _, s := range addrs {
		if host, _, err := net.SplitHostPort(s); err == nil && host != "" {
			return host
		}
	}
	return "127.0.0.1"
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, sip.ErrServerClosed) {
		return nil
	}
	return err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
