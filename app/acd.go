package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/calendar"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
)

// acd is automatic call distribution: the registrar agents' phones REGISTER
// with, the outbound user agent that rings them, the queue state machine and
// the ivr.Enqueuer that puts callers in queues and bridges them.
type acd struct {
	reg      *registrar.Registrar
	client   *sip.Client
	ringer   *queue.SIPRinger
	svc      *queue.Service
	enqueuer *queue.Enqueuer
	// callbacks puts the callback scheduler's due callbacks in the
	// queues' lines and dials them when their turn comes.
	callbacks *callbackACD
	// cluster is set in cluster mode (cluster.enabled): the call path's
	// Desk over the cluster's node; svc is then only this node's copy of
	// the configuration (never joined).
	cluster *clusterDesk
}

func (a *App) newACD() error {
	cfg := a.cfg
	a.state = newStateWriter(a)
	trusted, err := cfg.SIP.TrustedPrefixes()
	if err != nil {
		return err
	}
	reg := registrar.New(registrar.Config{Realm: cfg.SIP.Domain, Agents: cfg.Agents, Policy: a.policy, Logger: a.log, Bus: a.bus,
		State: a.state, NonceKey: cfg.SIP.NonceKey(), Trusted: trusted})
	proxy := ""
	if cfg.SIP.OutboundProxy != "" {
		p, err := config.ParseProxyURI(cfg.SIP.OutboundProxy)
		if err != nil {
			return fmt.Errorf("sip.outbound_proxy: %w", err)
		}
		proxy = p.String()
	}
	client, err := sip.NewClient(sip.ClientConfig{
		Addr: net.JoinHostPort(hostOf(cfg.SIP.UDP, cfg.SIP.TCP), "0"), PublicAddr: cfg.SIP.PublicAddr,
		UserAgent: cfg.SIP.UserAgent, RTP: a.ports, InactivityTimeout: cfg.Media.InactivityTimeout, Logger: a.log,
		Policy:        a.policy, // every dial to a number or a trunk is admitted there (trunks, caps)
		OutboundProxy: proxy,
	})
	if err != nil {
		return fmt.Errorf("sip client for agent calls: %w", err)
	}
	contacts, routes := reg.ContactURIs, reg.RouteSet
	var shared *sharedContacts
	if cfg.Cluster.Enabled {
		// A phone registered through another node is rung by this one
		// (the caller's): bindings saved by any node, read through the store.
		shared = &sharedContacts{rt: lazyRuntime{a.store}, local: reg.ContactURIs, routes: reg.RouteSet, trusted: trusted,
			timeout: max(cfg.Database.Timeout, time.Second), log: a.log, path: map[string][]string{}}
		contacts, routes = shared.Contacts, shared.Routes
	}
	dialer := bridge.SIPDialer{Client: client, Routes: routes}
	ringer := queue.NewSIPRinger(queue.RingerConfig{
		Dialer: dialer, Contacts: contacts, Policy: a.policy, Logger: a.log,
	})
	// "today" on the wallboard is the office's day.
	cbs := newCallbackACD(a.log)
	svc := queue.New(queue.Config{Agents: cfg.Agents, Queues: cfg.Queues, Ringer: ringer, Bus: a.bus, Logger: a.log,
		Location: officeLocation(cfg), State: a.state, Callbacks: cbs})
	ringer.Bind(svc)
	var desk queue.Desk // nil: svc's own
	var cd *clusterDesk
	if cfg.Cluster.Enabled {
		if cd, err = a.newCluster(svc, ringer); err != nil {
			_ = ringer.Close()
			_ = client.Close()
			return err
		}
		ringer.BindDesk(cd)
		desk = cd
	}
	a.acd = &acd{reg: reg, client: client, ringer: ringer, svc: svc, callbacks: cbs, cluster: cd,
		enqueuer: queue.NewEnqueuer(queue.EnqueuerConfig{Service: svc, Desk: desk, Ringer: ringer, Prompts: a.prompts, Logger: a.log,
			Recordings: a.recordings,
			// An agent's REFER may send the caller to a queue or to what
			// the outbound policy allows (toll-fraud guard).
			Transfer: queue.TransferConfig{Policy: a.policy, Contacts: contacts, Dialer: dialer},
		})}
	cbs.svc, cbs.legs, cbs.enqueuer = svc, ringer, a.acd.enqueuer
	return nil
}

// officeLocation is the office calendar's time zone (time.Local without
// one): the day of the wallboard's counts, of the outbound daily cap and of
// the bound on new customers.
func officeLocation(cfg config.Config) *time.Location {
	if spec, ok := cfg.Calendars["office"]; ok {
		if cal, err := calendar.Parse(spec); err == nil {
			return cal.Location()
		}
	}
	return time.Local
}

// featureCode applies a code an agent dialled from their authenticated
// phone (*11 login, *12 logout, *13[n] pause, *14 ready); an unknown code is
// 404 so the phone shows it failed.
func (c *acd) featureCode(ctx context.Context, agent, code string) error {
	var err error
	if c.cluster != nil {
		err = c.cluster.featureCode(ctx, agent, code)
	} else {
		err = c.svc.FeatureCode(agent, code)
	}
	if errors.Is(err, queue.ErrUnknownFeatureCode) {
		return fmt.Errorf("%w: %w", sip.ErrNotFound, err)
	}
	return err
}

// collectors are the registrar's counters as Prometheus series: failed
// authentications, bans (and source bans withheld because agents register
// from that address), requests refused by a ban, and contacts the outbound
// policy refused (docs/metrics.md).
func (c *acd) collectors() []prometheus.Collector {
	counter := func(name, help string, v func(registrar.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(c.reg.Stats())) })
	}
	return []prometheus.Collector{
		counter("hotline_registrar_auth_failures_total", "Failed digest authentications (REGISTER, feature codes) that counted towards a ban.",
			func(s registrar.Stats) uint64 { return s.AuthFailures }),
		counter("hotline_registrar_bans_total", "Bans imposed: a username from a source, or a whole source.",
			func(s registrar.Stats) uint64 { return s.Bans }),
		counter("hotline_registrar_bans_withheld_total", "Source bans not imposed because the source authenticated recently.",
			func(s registrar.Stats) uint64 { return s.BansWithheld }),
		counter("hotline_registrar_banned_requests_total", "Requests refused (403) because of a ban.",
			func(s registrar.Stats) uint64 { return s.RefusedBanned }),
		counter("hotline_registrar_contacts_refused_total", "REGISTERs refused because the outbound policy does not allow a Contact (toll-fraud guard).",
			func(s registrar.Stats) uint64 { return s.ContactsRefused }),
	}
}

func (c *acd) close() error {
	err := c.ringer.Close()
	if c.cluster != nil {
		c.cluster.db.Close()
	}
	if cerr := c.client.Close(); err == nil {
		err = cerr
	}
	return err
}
