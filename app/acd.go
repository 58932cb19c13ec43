package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
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
}

func (a *App) newACD() error {
	cfg := a.cfg
	reg := registrar.New(registrar.Config{Realm: cfg.SIP.Domain, Agents: cfg.Agents, Logger: a.log, Bus: a.bus})
	client, err := sip.NewClient(sip.ClientConfig{
		Addr: net.JoinHostPort(hostOf(cfg.SIP.UDP, cfg.SIP.TCP), "0"), PublicAddr: cfg.SIP.PublicAddr,
		UserAgent: cfg.SIP.UserAgent, RTP: a.ports, InactivityTimeout: cfg.Media.InactivityTimeout, Logger: a.log,
	})
	if err != nil {
		return fmt.Errorf("sip client for agent calls: %w", err)
	}
	ringer := queue.NewSIPRinger(queue.RingerConfig{
		Dialer: queue.SIPDialer{Client: client}, Contacts: reg.ContactURIs, AllowHosts: cfg.Allow.Hosts, Logger: a.log,
	})
	loc := time.Local
	if cal, ok := cfg.Calendars["office"]; ok {
		if l, err := time.LoadLocation(cal.TimeZone); err == nil {
			loc = l // "today" on the wallboard is the office's day
		}
	}
	svc := queue.New(queue.Config{Agents: cfg.Agents, Queues: cfg.Queues, Ringer: ringer, Bus: a.bus, Logger: a.log, Location: loc})
	ringer.Bind(svc)
	a.acd = &acd{reg: reg, client: client, ringer: ringer, svc: svc,
		enqueuer: queue.NewEnqueuer(queue.EnqueuerConfig{Service: svc, Ringer: ringer, Prompts: a.prompts, Logger: a.log,
			// An agent's REFER may send the caller to a queue or to an
			// allow-listed number only (toll-fraud guard).
			Transfer: queue.TransferConfig{
				Numbers: cfg.Allow.Numbers, Hosts: cfg.Allow.Hosts,
				Domains:  []string{cfg.SIP.Domain, ownHost(cfg.SIP)},
				Contacts: reg.ContactURIs, Dialer: queue.SIPDialer{Client: client},
			}})}
	return nil
}

// featureCode applies a code an agent dialled from their authenticated
// phone (*11 login, *12 logout, *13[n] pause, *14 ready); an unknown code is
// 404 so the phone shows it failed.
func (c *acd) featureCode(_ context.Context, agent, code string) error {
	err := c.svc.FeatureCode(agent, code)
	if errors.Is(err, queue.ErrUnknownFeatureCode) {
		return fmt.Errorf("%w: %w", sip.ErrNotFound, err)
	}
	return err
}

// mount is the queue and agent routes inside the authenticated API.
func (c *acd) mount() api.Mount {
	return api.Mount{Routes: queue.Routes(c.svc), Paths: queue.OpenAPIPaths()}
}

func (c *acd) close() error {
	err := c.ringer.Close()
	if cerr := c.client.Close(); err == nil {
		err = cerr
	}
	return err
}

// knownCall is a *sip.Call that knows its customer (ivr.Attributes): the
// flow and the queue see the caller's tier from the ticket history.
type knownCall struct {
	*sip.Call
	attrs map[string]string
}

func (k knownCall) Attributes() map[string]string { return k.attrs }

// customerLookupTimeout bounds the ticket-history lookup at call start: a
// slow database must not keep a caller in silence.
const customerLookupTimeout = 300 * time.Millisecond

// callerAttributes finds the caller in the ticket history. An unknown or
// anonymous caller, or a database that does not answer in time, is tier new.
func (a *App) callerAttributes(ctx context.Context, caller string) map[string]string {
	attrs := map[string]string{"tier": store.TierNew, "customer_id": ""}
	e164, err := phone.Normalize(caller, a.cfg.Phone.DefaultCountry)
	if err != nil {
		return attrs
	}
	ctx, cancel := context.WithTimeout(ctx, customerLookupTimeout)
	defer cancel()
	st, err := a.store.get(ctx)
	if err != nil {
		return attrs
	}
	c, err := st.FindCustomerByPhone(ctx, e164)
	if err != nil {
		return attrs
	}
	if c.Tier != "" {
		attrs["tier"] = c.Tier
	}
	attrs["customer_id"] = strconv.FormatInt(c.ID, 10)
	return attrs
}
