// Package app wires Hotline together from a config.Config: prompts, flows, the
// IVR engine, the SIP user agent, the ticket history, the call logger and the
// HTTP API. cmd/hotline only parses flags and calls it; end-to-end tests start
// an App in-process on port 0.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/netguard"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/runstate"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/storeopen"
	"github.com/hotline-dev/hotline/tts"
	"github.com/hotline-dev/hotline/webhook"
)

// App is one running Hotline.
type App struct {
	cfg        config.Config
	log        *slog.Logger
	bus        *events.Bus
	prompts    *media.Library
	ports      *media.PortPool
	flows      *flows.Registry
	state      *runstate.Writer // live state kept across a restart (agents, registrations, today)
	engine     *ivr.Engine
	store      *lazyStore
	calls      *calllog.Logger
	sip        *sip.Server
	api        *api.Server
	http       *httpServer
	httpRaw    net.Listener             // bound in New, before the engine (lookups need its port)
	httpLn     *netguard.Listener       // httpRaw with connection caps and accept back-off
	lookups    map[string]config.Lookup // cfg.Lookups with /paths on the bound HTTP address
	metrics    *metrics
	live       *liveCalls
	acd        *acd
	callbacks  *callback.Scheduler // the callback service (docs/callbacks.md)
	webhooks   *webhook.Service    // helpdesk webhooks (docs/api.md "Webhooks")
	callers    *callerBudget       // new customers per source and day
	policy     *outbound.Policy
	recordings recording.Store     // voicemail and call recording audio (recordings.store)
	sweeper    *recording.Sweeper  // deletes call recordings past their queue's retention; nil without a store
	spooled    *recording.Fallback // recordings.store database: the outage spool's mover; nil otherwise
	// stopping is set when shutdown starts: /readyz fails from then on.
	stopping atomic.Bool
	// lost is set when the cluster declared this node lost (Run exits
	// non-zero).
	lost atomic.Bool

	// Lifecycle (lifecycle.go).
	undo      []func() error     // releases what New built, newest last
	life      sync.Mutex         // guards running and closed
	running   bool               // Run owns the teardown
	closed    bool               // Close was called
	closeCtx  context.Context    // cancelled by Close: a drain in progress ends at once
	closeNow  context.CancelFunc //
	torndown  chan struct{}      // closed when Run has torn everything down
	closeOnce sync.Once
	closeErr  error
}

// New builds every component and binds the listeners, so Addr methods work
// before Run. It fails on anything that would make calls fail later: missing
// or corrupt prompts, an invalid flow directory, ports that cannot be bound.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, bus: events.NewBus(), live: newLiveCalls(), torndown: make(chan struct{})}
	a.closeCtx, a.closeNow = context.WithCancel(context.Background())
	// a.undo releases what was built (sockets, the spool lock, the
	// database) when a later step fails, or when Close is called without
	// Run, newest first.
	defer func() {
		if err != nil {
			_ = a.release()
		}
	}()
	if err := cfg.CheckSecrets(); err != nil {
		return nil, err
	}
	var warnings []string
	if a.policy, warnings, err = compileConfig(cfg, log, a.bus); err != nil {
		return nil, err
	}
	for _, w := range warnings {
		log.Warn("allow-list entry is wide", "warning", w)
	}
	// Metrics first: the components built below report into it. Gauges
	// are read at scrape time, once Run serves.
	a.metrics = newMetrics(a.bus, []gauge{
		{"hotline_calls_active", "Calls in progress.", func() float64 { return float64(a.sip.ActiveCalls()) }},
		{"hotline_rtp_ports_in_use", "RTP ports allocated (including ports draining before reuse).",
			func() float64 { return float64(a.ports.InUse()) }},
		{"hotline_rtp_shared_calls", "Calls on a shared RTP port (media.shared_ports).",
			func() float64 { return float64(a.ports.SharedStats().Calls) }},
		{"hotline_rtp_shared_unknown_packets", "Datagrams to a shared RTP port from a source no call registered, dropped, since start.",
			func() float64 { return float64(a.ports.SharedStats().Unknown) }},
		{"hotline_calllog_backlog", "Call records not yet in the database: waiting for the spool's fsync or in the spool.",
			func() float64 { s := a.calls.Stats(); return float64(s.Queued + s.Spooled) }},
		{"hotline_flows_loaded", "Flows currently serving.", func() float64 { return float64(len(a.flows.Current().Flows())) }},
		{"hotline_webhook_queue", "Webhook events waiting to be written to the outbox.",
			func() float64 { return float64(a.webhooks.Stats().Queued) }},
		{"hotline_webhook_events_dropped", "Webhook events dropped since start because the outbox could not be written for that long.",
			func() float64 { return float64(a.webhooks.Stats().Dropped) }},
		{"hotline_webhook_deliveries_dead", "Webhook deliveries this process gave up on (dead letters) since start.",
			func() float64 { return float64(a.webhooks.Stats().Dead) }},
	})
	a.metrics.buildInfo(cfg.Version)
	// The prompts load with the flows (and reload with them: SIGHUP, the
	// watch), through the validation `hotline flows check` uses.
	a.prompts = media.NewLibrary(cfg.Media.Prompts)
	if a.ports, err = media.NewPortPool(cfg.Media.PortMin, cfg.Media.PortMax); err != nil {
		return nil, fmt.Errorf("media.port_min/port_max: %w", err)
	}
	nets, err := cfg.Media.SharedNetworks()
	if err != nil {
		return nil, err
	}
	noNAT, err := cfg.Media.SharedNoNATNetworks()
	if err != nil {
		return nil, err
	}
	if err := a.ports.SetShared(media.SharedConfig{Ports: cfg.Media.SharedPorts, Networks: nets, NoNAT: noNAT}); err != nil {
		return nil, fmt.Errorf("media.shared_ports: %w", err)
	}

	a.flows = flows.NewRegistry(cfg.Flows.Dir, flows.EnvFromConfig(cfg, a.prompts), log).WithPrompts(a.prompts)
	a.metrics.flowReloads(a.flows.Reloads)
	// The registry logs each problem once; the error says why none loaded.
	if _, err := a.flows.Reload(); err != nil {
		return nil, fmt.Errorf("flows in %s (flows.dir) with prompts in %s (media.prompts): %w", cfg.Flows.Dir, cfg.Media.Prompts, err)
	}

	// The webhook service first: the store writes its outbox rows in its
	// own transactions (store.Options.Outbox), and opens at once below.
	if err = a.newWebhooks(); err != nil {
		return nil, err
	}
	a.store = newLazyStore(func(ctx context.Context) (store.Store, error) {
		return storeopen.Open(ctx, cfg.Database.URL, store.Options{DefaultCountry: cfg.Phone.DefaultCountry, Logger: log,
			Timeout: cfg.Database.Timeout, Outbox: a.webhooks})
	})
	a.store.flush = a.webhooks.Flush
	a.undo = append(a.undo, a.store.Close)
	if _, err := a.store.get(ctx); err != nil {
		// Calls are still answered and logged to the spool; the API answers
		// 503 until the database is back. Refusing to start would lose calls.
		log.Error("ticket history unavailable at start; calls will be spooled", "database", redactURL(cfg.Database.URL), "err", err)
	}
	if a.calls, err = calllog.New(timedSink{a.store, a.metrics.dbWrite}, calllog.Options{SpoolDir: cfg.Database.SpoolDir, Logger: log}); err != nil {
		return nil, fmt.Errorf("call log (database.spool_dir %s): %w", cfg.Database.SpoolDir, err)
	}
	a.undo = append(a.undo, a.calls.Close)

	a.callers = newCallerBudget(cfg.Customers, officeLocation(cfg))
	// Voicemail messages and call recordings: files under recordings.dir
	// or, with recordings.store: database (a cluster's default), the audio
	// in the ticket database so any node serves what any node recorded;
	// the metadata goes with the call's record either way. (config.Validate
	// always sets a store; a configuration built without one and without a
	// dir has no recording store: voicemail nodes and recorded queues
	// record nothing and the recordings route answers 503.) Before the
	// ACD: its queues record.
	switch {
	case cfg.Recordings.Store == config.RecordingsDatabase:
		// A recording made while the database does not answer goes to
		// this node's spool instead of being lost, and into the
		// database once its call's record is there.
		spool, err := recording.NewDir(filepath.Join(cfg.Recordings.Dir, "spool"))
		if err != nil {
			return nil, fmt.Errorf("recordings.dir (the database store's spool): %w", err)
		}
		a.spooled = &recording.Fallback{Primary: recording.NewDatabase(a.store), Spool: spool, Index: a.store, Logger: log}
		a.recordings = a.spooled
	case cfg.Recordings.Dir != "":
		dir, err := recording.NewDir(cfg.Recordings.Dir)
		if err != nil {
			return nil, fmt.Errorf("recordings.dir: %w", err)
		}
		a.recordings = dir
		if cfg.Cluster.Enabled {
			// Allowed (the audio on a NAS), but nothing can check the
			// directory is the same on every node.
			log.Warn("recordings.store is dir in a cluster: recordings.dir must be shared storage every node mounts, or a recording made on one node is 404 on the others",
				"dir", cfg.Recordings.Dir)
		}
	}
	if a.recordings != nil {
		a.sweeper = &recording.Sweeper{Store: a.recordings, Index: a.store, Retention: recordingRetention(cfg.Queues), Logger: log}
	}
	if err = a.newACD(); err != nil {
		return nil, err
	}
	a.undo = append(a.undo, a.acd.close)
	if err = a.newCallbacks(); err != nil {
		return nil, err
	}
	a.restoreState(ctx)
	qstats := statsOf(a.acd.svc.Stats())
	if c := a.acd.cluster; c != nil {
		qstats = viewStats(c.view) // this node's copy is never joined
	}
	a.metrics.reg.MustRegister(queueCollector{stats: qstats, queues: sortedKeys(cfg.Queues), now: time.Now})
	// The HTTP port is bound before the engine: lookups written as a path
	// (the demo order service) go to the port it really got.
	if a.httpRaw, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return nil, fmt.Errorf("http listen (http.addr %q): %w", cfg.HTTP.Addr, err)
	}
	a.undo = append(a.undo, a.httpRaw.Close)
	a.lookups = config.ResolveLookups(cfg.Lookups, config.SelfURL(a.HTTPAddr().String()))
	// Text-to-speech for {tts: var}: espeak-ng when installed (or asked
	// for), cached under tts.dir; none leaves tts entries to their fallback.
	var speech *tts.Cache
	if cfg.TTS.EngineName() == config.TTSEspeak {
		if e, ferr := tts.Find(); ferr == nil {
			speech = tts.NewCache(cfg.TTS.Dir, e)
			a.undo = append(a.undo, func() error { speech.Close(); return nil })
			// The flows' static texts are synthesised now and after each
			// reload, in the cache's goroutines, not by the first caller.
			warm := func(s *flows.Set) {
				for _, sp := range s.StaticSpeech() {
					speech.Warm(sp.Text, sp.Lang)
				}
			}
			warm(a.flows.Current())
			a.flows.OnLoad(warm)
		}
	}
	cbs := ivrCallbacks{s: a.callbacks}
	if c := a.acd.cluster; c != nil {
		cbs.await = func(ctx context.Context, queue string, id int64) int {
			return c.callbacks.awaitPosition(ctx, queue, id, positionWait)
		}
	}
	if a.engine, err = ivr.NewEngine(ivr.Config{
		Prompts: a.prompts, Lookups: a.lookups, Calendars: cfg.Calendars, Bus: a.bus, Logger: log,
		Enqueuer: a.acd.enqueuer, Callbacks: cbs, Location: officeLocation(cfg),
		TTS: speech, TTSWait: cfg.TTS.Wait, Recordings: a.recordings,
	}); err != nil {
		return nil, fmt.Errorf("ivr engine: %w", err)
	}
	if err = a.newSIP(); err != nil {
		return nil, err
	}
	a.undo = append(a.undo, a.sip.Close)
	a.metrics.reg.MustRegister(sipCollector{responses: a.sip.Responses})
	if err = a.newHTTP(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) newSIP() error {
	cfg := a.cfg
	trusted, err := cfg.SIP.TrustedPrefixes()
	if err != nil {
		return err
	}
	srv, err := sip.NewServer(sip.ServerConfig{
		UDP: cfg.SIP.UDP, TCP: cfg.SIP.TCP, TLS: cfg.SIP.TLS, TLSCert: cfg.SIP.TLSCert, TLSKey: cfg.SIP.TLSKey,
		PublicAddr: ownHost(cfg.SIP), UserAgent: cfg.SIP.UserAgent, MaxCalls: cfg.SIP.MaxCalls, RingTime: cfg.SIP.RingTime,
		RetryAfter: cfg.SIP.RetryAfter, RTP: a.ports, InactivityTimeout: cfg.Media.InactivityTimeout,
		InbandDTMF: cfg.Media.InbandDTMF, RateLimit: cfg.SIP.RateLimit, RateBurst: cfg.SIP.RateBurst,
		Bus: a.bus, Accept: a.accept, Register: a.acd.reg.HandleRegister,
		Authenticate: a.acd.reg.Authenticate, FeatureCode: a.acd.featureCode,
		// OPTIONS answers 503 while /readyz would (docs/scale-out.md):
		// Kamailio's ds_ping then takes this node out of the dispatcher set.
		Ready: a.ready, ReadyTimeout: cfg.Database.Timeout,
		Limits: sip.Limits{
			RateTotal: cfg.SIP.RateLimitTotal, BurstTotal: cfg.SIP.RateBurstTotal,
			MaxUnconfirmed: cfg.SIP.MaxUnconfirmed, MaxUnconfirmedPerSource: cfg.SIP.MaxUnconfirmedPerSource,
			AckTimeout: cfg.SIP.AckTimeout, AckTimeoutUnderLoad: cfg.SIP.AckTimeoutUnderLoad,
			TCPMaxConns: cfg.SIP.TCPMaxConns, TCPMaxConnsPerSource: cfg.SIP.TCPMaxConnsPerSource,
			TCPIdleTimeout: cfg.SIP.TCPIdleTimeout, TCPReadTimeout: cfg.SIP.TCPReadTimeout, Trusted: trusted,
		},
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
	a.metrics.register(a.acd.collectors()...)
	a.metrics.register(outboundCollector{a.policy})
	tokens, err := adminTokens(a.cfg, config.SelfURL(a.HTTPAddr().String()), a.log)
	if err != nil {
		return err
	}
	a.api = api.New(api.Config{
		Agents: a.cfg.Agents, SessionIdle: a.cfg.HTTP.SessionIdle, MaxSessions: a.cfg.HTTP.MaxSessions, SecureCookies: a.cfg.HTTP.SecureCookie,
		Store: a.store, Tokens: tokens, RateLimit: a.cfg.HTTP.RateLimit, AuthFailures: a.cfg.HTTP.AuthFailures, Bus: a.bus,
		Logger: a.log, DefaultCountry: a.cfg.Phone.DefaultCountry, Calls: a.live, ACD: a.apiACD(), Callbacks: a.apiCallbacks(),
		RequestTimeout: a.cfg.Database.Timeout, ReadyTimeout: a.cfg.Database.Timeout, Ready: a.readiness(),
		Webhooks: a.webhooks, Recordings: a.recordings,
	})
	a.http = newHTTPServer(a.httpRaw, a.cfg.HTTP, a.routes(), a.log)
	a.httpLn = a.http.ln
	a.http.srv.RegisterOnShutdown(func() { _ = a.api.Close() })
	a.metrics.reg.MustRegister(edgeCollector{sip: a.sip, http: a.httpLn})
	return nil
}

// apiACD is the API's ACD: the Service, or in a cluster the same reads
// with the changes sent to the leader.
func (a *App) apiACD() api.ACD {
	if a.acd.cluster != nil {
		return clusterAPI{View: a.acd.cluster.view, d: a.acd.cluster}
	}
	return a.acd.svc
}

// apiCallbacks is the API's callback service: the scheduler, or in a
// cluster the node's request side with the leader's figures.
func (a *App) apiCallbacks() api.Callbacks {
	if c := a.acd.cluster; c != nil {
		return clusterCallbackAPI{Scheduler: a.callbacks, c: c.callbacks}
	}
	return a.callbacks
}

// readiness are /readyz's checks: the database answers (within
// database.timeout), flows are loaded, the callback service has loaded its
// callbacks (until then its API answers 503), the server is not shutting
// down.
// /livez checks none of them: calls are answered, and their records
// spooled, while the database is down.
func (a *App) readiness() []api.Check {
	var cv []api.Check
	if c := a.acd.cluster; c != nil {
		cv = []api.Check{{Name: "cluster_view", Run: c.checkView}}
	}
	return append(cv, []api.Check{
		{Name: "database", Run: a.store.Ping},
		{Name: "flows", Run: func(context.Context) error {
			if set := a.flows.Current(); set == nil || len(set.Flows()) == 0 {
				return &api.Error{Kind: api.ErrUnavailable, Message: "no flows loaded"}
			}
			return nil
		}},
		{Name: "callbacks", Run: func(ctx context.Context) error {
			// Like the database's first connect: worth a short wait at start.
			select {
			case <-a.callbacks.Ready():
				return nil
			case <-ctx.Done():
				return &api.Error{Kind: api.ErrUnavailable, Message: "the callback service is loading its callbacks"}
			}
		}},
		{Name: "shutdown", Run: func(context.Context) error {
			if a.stopping.Load() {
				return &api.Error{Kind: api.ErrUnavailable, Message: "shutting down: draining calls"}
			}
			return nil
		}},
	}...)
}

// ready runs readiness's checks one after the other (for SIP OPTIONS,
// which caches the result for a second): the first failure.
func (a *App) ready(ctx context.Context) error {
	for _, c := range a.readiness() {
		if err := c.Run(ctx); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	return nil
}

// Reload re-reads the flow files and the prompts (SIGHUP). Invalid flows (or none at all)
// are refused and the previous version keeps serving; the registry has
// logged every problem, once. Calls in progress are never affected.
func (a *App) Reload() ([]flows.Problem, error) { return a.flows.Reload() }

// Webhooks is the webhook service (tests read its Stats).
func (a *App) Webhooks() *webhook.Service { return a.webhooks }

// Position is a waiting caller's position and EWT as the call path's
// announcements get it (the Enqueuer's queue.Desk): the Service's on one
// node, the cluster view's in a cluster (tests compare them across nodes).
func (a *App) Position(callID string) (queue.Position, error) {
	if c := a.acd.cluster; c != nil {
		return c.Position(callID)
	}
	return a.acd.svc.Position(callID)
}

// Lost reports whether the cluster declared this node lost (Run then
// ends its calls and returns an error).
func (a *App) Lost() bool { return a.lost.Load() }

// Bus is the event stream (tests and embedders subscribe to it).
func (a *App) Bus() *events.Bus { return a.bus }

// CallbacksReady is closed once Run's callback scheduler has recovered and
// loaded the callbacks of earlier runs (it waits for the database).
func (a *App) CallbacksReady() <-chan struct{} { return a.callbacks.Ready() }

// RelayReady is closed once the cluster's event relay listens, so this
// node's stream carries the other nodes' events from then on (at once
// without a cluster).
func (a *App) RelayReady() <-chan struct{} {
	if c := a.acd.cluster; c != nil {
		return c.relay.Ready()
	}
	closed := make(chan struct{})
	close(closed)
	return closed
}

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
	return a.httpRaw.Addr().(*net.TCPAddr).AddrPort()
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

// recordingRetention is every queue's recording retention, whether its
// recording is on or not: a queue that stops recording still deletes what
// it recorded when its time is up.
func recordingRetention(queues map[string]config.Queue) map[string]time.Duration {
	out := make(map[string]time.Duration, len(queues))
	for name, q := range queues {
		if q.Recording.Retention > 0 {
			out[name] = q.Recording.Retention
		}
	}
	return out
}
