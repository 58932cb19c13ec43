// Package registrar is Hotline's SIP registrar (RFC 3261 §10): agents' phones
// REGISTER with digest authentication (RFC 3261 §22, RFC 8760 SHA-256), and
// the queue looks their current contacts up to ring them.
package registrar

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/store"
)

// Events the registrar publishes.
const (
	// EventBinding is published on every binding change (BindingChange).
	// Agent is the agent ID.
	EventBinding = "registrar.binding"
	// EventBanned is published when a ban starts, or is withheld from a
	// source that authenticated recently (Ban).
	EventBanned = "registrar.banned"
	// EventContactRefused is published when a REGISTER is refused because
	// the outbound policy does not allow a Contact (toll-fraud guard;
	// Refusal). Agent is the agent ID.
	EventContactRefused = "registrar.contact_refused"
)

// Config tunes the registrar. Zero values take the documented defaults.
type Config struct {
	Realm          string         // digest realm; default "hotline" (config sip.domain)
	Agents         []config.Agent // users: Username + Password ("env:NAME" allowed)
	MinExpires     time.Duration  // below: 423 Interval Too Brief; default 60s
	MaxExpires     time.Duration  // above: shortened to this; default 1h
	DefaultExpires time.Duration  // no Expires given; default 1h
	NonceTTL       time.Duration  // nonce lifetime, then 401 stale=true; default 5m
	// NonceKey signs digest nonces (config sip.nonce_secret): registrars
	// with the same key verify each other's nonces, so a phone challenged
	// by one node behind a proxy may answer to another. nil: 32 random
	// bytes per registrar (a restart invalidates outstanding nonces).
	NonceKey []byte
	// Trusted are the sources (config sip.trusted: the proxy in front)
	// whose REGISTERs may carry Path (RFC 3327). A Path from anyone else is
	// 403: it would let a phone make Hotline send its agents' INVITEs
	// through a host of its choosing.
	Trusted []netip.Prefix
	// Algorithms are the challenges sent, most preferred first (RFC 8760
	// §2.4): "SHA-256", "MD5". Default MD5 only: baresip 1.0 (libre 1.0)
	// aborts on any SHA-256 challenge, even next to an MD5 one (see
	// TestBaresipRegisters). Set ["SHA-256", "MD5"] when every phone copes.
	Algorithms  []string
	MaxContacts int // bindings per user; default 10
	// Policy is the outbound policy every Contact must pass at REGISTER
	// (toll-fraud guard). nil: a policy that knows only Agents' usernames
	// (no numbers, no extension ranges, no hosts).
	Policy            *outbound.Policy
	MaxFailures       int           // failed authentications of one username from one IP ...; default 5
	FailureWindow     time.Duration // ... within this window; default 1m
	BanTime           time.Duration // ... ban that username from that IP this long; default 10m
	MaxSourceFailures int           // failures from one IP, every username together, that ban the IP; default 4×MaxFailures
	TrustTime         time.Duration // an IP that authenticated this recently is never banned as a whole; default 1h
	SweepInterval     time.Duration // Run's expiry sweep period; default 5s
	Now               func() time.Time
	Logger            *slog.Logger
	Bus               *events.Bus
	// State, when set, receives a user's contacts whenever a REGISTER
	// changes them, to be kept across a restart (Restore). It must not
	// block.
	State interface{ SaveBindings(store.UserBindings) }
}

func (c *Config) fill() {
	if c.Realm == "" {
		c.Realm = "hotline"
	}
	if c.MinExpires <= 0 {
		c.MinExpires = time.Minute
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = time.Hour
	}
	if c.MaxExpires < c.MinExpires {
		c.MaxExpires = c.MinExpires
	}
	if c.DefaultExpires <= 0 {
		c.DefaultExpires = time.Hour
	}
	c.DefaultExpires = min(max(c.DefaultExpires, c.MinExpires), c.MaxExpires)
	if c.NonceTTL <= 0 {
		c.NonceTTL = 5 * time.Minute
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"MD5"}
	}
	if c.MaxContacts <= 0 {
		c.MaxContacts = 10
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = time.Minute
	}
	if c.BanTime <= 0 {
		c.BanTime = 10 * time.Minute
	}
	if c.MaxSourceFailures <= 0 {
		c.MaxSourceFailures = 4 * c.MaxFailures
	}
	if c.TrustTime <= 0 {
		c.TrustTime = time.Hour
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Contact is one registered binding of a user.
type Contact struct {
	URI       string    `json:"uri"`     // the Contact URI, e.g. sip:1001@192.0.2.7:5060
	Expires   time.Time `json:"expires"` // absolute expiry
	Q         float64   `json:"q,omitempty"`
	Source    string    `json:"source"` // host:port the REGISTER came from
	Transport string    `json:"transport"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Path is the REGISTER's Path (RFC 3327), first proxy first: the route
	// set of INVITEs to this contact (RouteSet).
	Path    []string `json:"path,omitempty"`
	callID  string
	cseq    uint32
	updated time.Time
}

type user struct {
	agentID  string
	password string
}

// Registrar holds bindings in memory. It is safe for concurrent use.
type Registrar struct {
	cfg   Config
	key   []byte
	users map[string]user // by digest username
	stats counters

	mu       sync.Mutex
	bindings map[string][]Contact // by username
	nc       map[string]int       // highest nonce count seen per nonce
	bans     banList
}

// counters back Stats.
type counters struct {
	failures, bans, withheld, refusedBanned, contactsRefused atomic.Uint64
}

// Stats are the registrar's counters since start (exported as metrics).
type Stats struct {
	AuthFailures    uint64 // failed authentications that counted towards a ban
	Bans            uint64 // bans imposed (a username from a source, or a whole source)
	BansWithheld    uint64 // source bans not imposed: the source authenticated recently
	RefusedBanned   uint64 // requests refused because of a ban
	ContactsRefused uint64 // REGISTERs refused by the outbound policy
}

// New builds a registrar. Agents without a username cannot register, and
// neither can one whose password is empty (config.Validate refuses that
// configuration; this is the second lock): an empty password would let
// anyone register as them.
func New(cfg Config) *Registrar {
	cfg.fill()
	r := &Registrar{
		cfg: cfg, key: cfg.NonceKey, users: map[string]user{},
		bindings: map[string][]Contact{}, nc: map[string]int{}, bans: newBanList(),
	}
	if len(r.key) == 0 {
		r.key = make([]byte, 32)
		rand.Read(r.key) // never fails (crypto/rand, Go ≥ 1.24)
	}
	for _, a := range cfg.Agents {
		if a.Username == "" {
			continue
		}
		pw := config.Secret(a.Password)
		if pw == "" {
			cfg.Logger.Error("registrar: agent has an empty password; it cannot register", "agent", a.ID, "username", a.Username)
			continue
		}
		r.users[a.Username] = user{agentID: a.ID, password: pw}
	}
	if r.cfg.Policy == nil {
		// Cannot fail: there are no patterns to compile.
		r.cfg.Policy, _ = outbound.New(outbound.Config{Agents: cfg.Agents})
	}
	return r
}

// Restore puts back the bindings a previous run kept (Config.State) that
// are still live, for users still configured: phones do not re-register
// for up to an hour, and must not be unreachable meanwhile.
func (r *Registrar) Restore(bs []store.UserBindings) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range bs {
		if _, ok := r.users[b.Username]; !ok {
			continue
		}
		var cs []Contact
		for _, c := range b.Contacts {
			if len(c.Path) > 0 && !r.trusted(sourceIP(c.Source)) {
				// Registered through a proxy that sip.trusted no longer
				// lists: its Path is not believed any more.
				r.cfg.Logger.Warn("registrar: saved binding dropped: its Path came from a source no longer in sip.trusted",
					"user", b.Username, "contact", c.URI, "source", c.Source)
				continue
			}
			if now.Before(c.Expires) && len(cs) < r.cfg.MaxContacts {
				cs = append(cs, Contact{URI: c.URI, Expires: c.Expires, Q: c.Q, Source: c.Source, Transport: c.Transport,
					UserAgent: c.UserAgent, Path: c.Path, callID: c.CallID, cseq: c.CSeq, updated: c.Updated})
			}
		}
		if len(cs) > 0 {
			r.bindings[b.Username] = cs
		}
	}
}

// saveLocked hands name's contacts to Config.State. Callers hold r.mu.
func (r *Registrar) saveLocked(name string) {
	if r.cfg.State == nil {
		return
	}
	b := store.UserBindings{Username: name}
	for _, c := range r.bindings[name] {
		b.Contacts = append(b.Contacts, store.Binding{URI: c.URI, Expires: c.Expires, Q: c.Q, Source: c.Source,
			Transport: c.Transport, UserAgent: c.UserAgent, Path: c.Path, CallID: c.callID, CSeq: c.cseq, Updated: c.updated})
	}
	r.cfg.State.SaveBindings(b)
}

// Stats returns the counters since start.
func (r *Registrar) Stats() Stats {
	return Stats{AuthFailures: r.stats.failures.Load(), Bans: r.stats.bans.Load(), BansWithheld: r.stats.withheld.Load(),
		RefusedBanned: r.stats.refusedBanned.Load(), ContactsRefused: r.stats.contactsRefused.Load()}
}

// Lookup returns the live contacts of a digest username, best first (q
// descending, then most recently refreshed). Used to route calls to agents.
func (r *Registrar) Lookup(username string) []Contact {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Contact
	for _, c := range r.bindings[username] {
		if now.Before(c.Expires) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Q != out[j].Q {
			return out[i].Q > out[j].Q
		}
		return out[i].updated.After(out[j].updated)
	})
	return out
}

// ContactURIs is Lookup reduced to the URIs, best first: the shape
// queue.RingerConfig.Contacts takes.
func (r *Registrar) ContactURIs(username string) []string {
	var out []string
	for _, c := range r.Lookup(username) {
		out = append(out, c.URI)
	}
	return out
}

// RouteSet is the Path (RFC 3327) registered with a live contact URI,
// first hop first, as Route header values ("<sip:proxy;lr>"); nil when the
// contact registered directly or is not registered. The dialler puts it
// in the INVITE's Route headers (loose routing, RFC 3261 §8.1.2) so the
// INVITE reaches the phone through the proxy its REGISTER came through.
// A URI registered by several users (a shared phone) takes the binding
// refreshed last.
func (r *Registrar) RouteSet(contactURI string) []string {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *Contact
	for _, cs := range r.bindings {
		for i := range cs {
			if c := &cs[i]; c.URI == contactURI && now.Before(c.Expires) && (best == nil || c.updated.After(best.updated)) {
				best = c
			}
		}
	}
	if best == nil || len(best.Path) == 0 {
		return nil
	}
	return append([]string(nil), best.Path...)
}

// trusted reports whether a source IP may send Path (Config.Trusted).
func (r *Registrar) trusted(ip string) bool { return inPrefixes(ip, r.cfg.Trusted) }

func inPrefixes(ip string, ps []netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// LookupAgent is Lookup by agent ID.
func (r *Registrar) LookupAgent(agentID string) []Contact {
	for name, u := range r.users {
		if u.agentID == agentID {
			return r.Lookup(name)
		}
	}
	return nil
}

// Banned reports whether a source IP is currently banned as a whole.
func (r *Registrar) Banned(ip string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bans.isBanned(ip, "", r.cfg.Now())
}

// BannedUser reports whether username is currently refused from ip (a ban
// of that username from ip, or of the whole source).
func (r *Registrar) BannedUser(ip, username string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bans.isBanned(ip, r.banUser(username), r.cfg.Now())
}

// banUser is the ban-table name of a digest username: itself when it is a
// user, unknownUser otherwise, "" for none.
func (r *Registrar) banUser(name string) string {
	if name == "" {
		return ""
	}
	if _, ok := r.users[name]; ok {
		return name
	}
	return unknownUser
}

// holdsBinding reports whether src (host:port) is the source of a live
// binding: the phone that registered it, which a ban must not lock out
// (bans.go). Callers hold r.mu.
func (r *Registrar) holdsBinding(src string, now time.Time) bool {
	for _, cs := range r.bindings {
		for _, c := range cs {
			if c.Source == src && now.Before(c.Expires) {
				return true
			}
		}
	}
	return false
}

// Sweep removes expired bindings (publishing an "expired" event for each),
// expired bans and nonce counters of expired nonces.
func (r *Registrar) Sweep() {
	now := r.cfg.Now()
	var evs []events.Event
	r.mu.Lock()
	for name, cs := range r.bindings {
		kept, first := cs[:0], len(evs)
		for _, c := range cs {
			if now.Before(c.Expires) {
				kept = append(kept, c)
				continue
			}
			evs = append(evs, r.event(name, c, ActionExpired, 0, 0))
		}
		if len(kept) == 0 {
			delete(r.bindings, name)
		} else {
			r.bindings[name] = kept
		}
		setContacts(evs[first:], len(kept)) // what the user has left
	}
	for n := range r.nc {
		if t, err := nonceTime(n); err != nil || now.Sub(t) > r.cfg.NonceTTL {
			delete(r.nc, n)
		}
	}
	r.bans.sweep(now, &r.cfg)
	r.mu.Unlock()
	for _, e := range evs {
		r.cfg.Bus.Publish(e)
	}
}

// Run sweeps every SweepInterval until ctx is done; it returns nil then.
func (r *Registrar) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.Sweep()
		}
	}
}

func (r *Registrar) event(name string, c Contact, action Action, expires time.Duration, n int) events.Event {
	return events.Event{Type: EventBinding, Agent: r.users[name].agentID, Payload: BindingChange{
		User: name, Contact: c.URI, Action: action, ExpiresS: int(expires / time.Second),
		Source: c.Source, Contacts: n,
	}}
}

// sourceIP is the host part of a request's source address.
func sourceIP(src string) string {
	host, _, err := net.SplitHostPort(src)
	if err != nil {
		return src
	}
	return host
}
