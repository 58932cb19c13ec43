// Package registrar is Hotline's SIP registrar (RFC 3261 §10): agents' phones
// REGISTER with digest authentication (RFC 3261 §22, RFC 8760 SHA-256), and
// the queue looks their current contacts up to ring them.
package registrar

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

// EventBinding is published on every binding change. Data: user, contact,
// action (added|refreshed|removed|expired), expires_s, source, contacts
// (bindings the user has afterwards). Agent is the agent ID.
const EventBinding = "registrar.binding"

// Config tunes the registrar. Zero values take the documented defaults.
type Config struct {
	Realm          string         // digest realm; default "hotline" (config sip.domain)
	Agents         []config.Agent // users: Username + Password ("env:NAME" allowed)
	MinExpires     time.Duration  // below: 423 Interval Too Brief; default 60s
	MaxExpires     time.Duration  // above: shortened to this; default 1h
	DefaultExpires time.Duration  // no Expires given; default 1h
	NonceTTL       time.Duration  // nonce lifetime, then 401 stale=true; default 5m
	// Algorithms are the challenges sent, most preferred first (RFC 8760
	// §2.4): "SHA-256", "MD5". Default MD5 only: baresip 1.0 (libre 1.0)
	// aborts on any SHA-256 challenge, even next to an MD5 one (see
	// TestBaresipRegisters). Set ["SHA-256", "MD5"] when every phone copes.
	Algorithms    []string
	MaxContacts   int           // bindings per user; default 10
	MaxFailures   int           // failed authentications from one IP ...; default 5
	FailureWindow time.Duration // ... within this window; default 1m
	BanTime       time.Duration // ... ban the IP this long; default 10m
	SweepInterval time.Duration // Run's expiry sweep period; default 5s
	Now           func() time.Time
	Logger        *slog.Logger
	Bus           *events.Bus
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
	callID    string
	cseq      uint32
	updated   time.Time
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

	mu       sync.Mutex
	bindings map[string][]Contact // by username
	nc       map[string]int       // highest nonce count seen per nonce
	bans     banList
}

// New builds a registrar. Agents without a username cannot register.
func New(cfg Config) *Registrar {
	cfg.fill()
	r := &Registrar{
		cfg: cfg, key: make([]byte, 32), users: map[string]user{},
		bindings: map[string][]Contact{}, nc: map[string]int{}, bans: newBanList(),
	}
	rand.Read(r.key) // never fails (crypto/rand, Go ≥ 1.24)
	for _, a := range cfg.Agents {
		if a.Username != "" {
			r.users[a.Username] = user{agentID: a.ID, password: config.Secret(a.Password)}
		}
	}
	return r
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

// LookupAgent is Lookup by agent ID.
func (r *Registrar) LookupAgent(agentID string) []Contact {
	for name, u := range r.users {
		if u.agentID == agentID {
			return r.Lookup(name)
		}
	}
	return nil
}

// Banned reports whether a source IP is currently banned.
func (r *Registrar) Banned(ip string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bans.isBanned(ip, r.cfg.Now())
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
			evs = append(evs, r.event(name, c, "expired", 0, 0))
		}
		if len(kept) == 0 {
			delete(r.bindings, name)
		} else {
			r.bindings[name] = kept
		}
		for _, e := range evs[first:] { // contacts: what the user has left
			e.Data["contacts"] = len(kept)
		}
	}
	for n := range r.nc {
		if checkNonce(r.key, r.cfg.Realm, n, now, r.cfg.NonceTTL) != nil {
			delete(r.nc, n)
		}
	}
	r.bans.sweep(now, &r.cfg)
	r.mu.Unlock()
	for _, e := range evs {
		r.cfg.Bus.Publish(e)
	}
}

// Run sweeps every SweepInterval until ctx is done; it returns ctx.Err().
func (r *Registrar) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			r.Sweep()
		}
	}
}

func (r *Registrar) event(name string, c Contact, action string, expires time.Duration, n int) events.Event {
	return events.Event{Type: EventBinding, Agent: r.users[name].agentID, Data: map[string]any{
		"user": name, "contact": c.URI, "action": action, "expires_s": int(expires / time.Second),
		"source": c.Source, "contacts": n,
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
