package outbound

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/phone"
)

// Trunk is a compiled trunks: entry: how sip.Client reaches the provider
// and how the provider wants numbers and caller IDs written. Immutable.
type Trunk struct {
	Name       string
	Host       string // Request-URI host: a name, an IPv4 address or a bracketed IPv6 address
	Port       int    // 0: the transport's default
	Transport  string // "udp", "tcp" or "tls"
	Proxy      string // host:port every INVITE goes to first (RFC 3261 §8.1.2), "" none
	Username   string // digest credentials for 401/407 (RFC 3261 §22.2), "" for IP authentication
	Password   string
	FromDomain string // From and P-Asserted-Identity host
	MaxCalls   int    // concurrent calls; <= 0 no limit

	fromUser   string
	callerID   string // E.164
	callerName string
	assert     bool
	pass       bool
	format     string
	prefix     string
	country    string
	numbers    []numberPattern
	dflt       bool
	h          host
	proxyHost  host
}

// HostPort is the Request-URI's host[:port].
func (t *Trunk) HostPort() string {
	if t.Port == 0 {
		return t.Host
	}
	return net.JoinHostPort(strings.Trim(t.Host, "[]"), strconv.Itoa(t.Port))
}

// newTrunk compiles entry i; password is the resolved secret.
func newTrunk(i int, c config.Trunk, country string) (*Trunk, []string) {
	c = c.WithDefaults()
	var errs []string
	bad := func(key, msg string) { errs = append(errs, c.Where(i, key)+": "+msg) }
	t := &Trunk{Name: c.Name, Transport: c.Transport, Username: c.Username, Password: config.Secret(c.Password),
		MaxCalls: c.MaxCalls, fromUser: c.FromUser, callerName: c.CallerName, assert: c.AssertID, pass: c.PassCallerID,
		format: c.NumberFormat, prefix: c.Prefix, country: country, dflt: c.Default}
	hp, err := parseHostPattern(c.Host)
	if err != nil {
		bad("host", err.Error())
	} else {
		t.h, t.Port, t.Host = hp.host, hp.port, hp.host.String()
	}
	if c.OutboundProxy != "" {
		pp, err := parseHostPattern(c.OutboundProxy)
		if err != nil {
			bad("outbound_proxy", err.Error())
		} else {
			port := pp.port
			if port == 0 {
				port = 5060
				if t.Transport == "tls" {
					port = 5061
				}
			}
			t.proxyHost = pp.host
			t.Proxy = net.JoinHostPort(strings.Trim(pp.host.String(), "[]"), strconv.Itoa(port))
		}
	}
	t.FromDomain = strings.TrimSpace(c.FromDomain)
	if t.FromDomain == "" {
		t.FromDomain = t.Host
	}
	if c.CallerID != "" {
		s := stripVisual(c.CallerID)
		if e164, err := phone.Normalize(s, country); err != nil || !numeric(s) {
			bad("caller_id", fmt.Sprintf("%q is not a telephone number in E.164 or national (phone.default_country %s) form", c.CallerID, country))
		} else {
			t.callerID = e164
		}
	}
	for j, raw := range c.Numbers {
		pat, _, err := parseNumber(raw, country)
		if err != nil {
			bad("numbers["+strconv.Itoa(j)+"]", err.Error())
			continue
		}
		t.numbers = append(t.numbers, pat)
	}
	return t, errs
}

// serves is how well the trunk serves e164: the length of its longest
// matching entry (an exact number beats every prefix), 0 for the default
// trunk, -1 when it does not serve it.
func (t *Trunk) serves(e164 string) int {
	best := -1
	for _, n := range t.numbers {
		switch {
		case n.e164 != "" && n.e164 == e164:
			return 100
		case n.prefix != "" && strings.HasPrefix(e164, n.prefix) && len(n.prefix) > best:
			best = len(n.prefix)
		}
	}
	if best < 0 && t.dflt {
		return 0
	}
	return best
}

// route lists the trunks that serve e164, best first: longest matching
// prefix, then the default trunks, each group in configuration order. The
// first with a free slot carries the call (CheckDial).
func (p *Policy) route(e164 string) []*Trunk {
	if p == nil {
		return nil
	}
	type cand struct {
		t     *Trunk
		score int
	}
	var cs []cand
	for _, t := range p.trunks {
		if s := t.serves(e164); s >= 0 {
			cs = append(cs, cand{t, s})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return b.score - a.score })
	out := make([]*Trunk, len(cs))
	for i, c := range cs {
		out[i] = c.t
	}
	return out
}

// numberRoute is the best trunk for a number, nil for another kind or
// when no trunk serves it.
func (p *Policy) numberRoute(kind Kind, e164 string) *Trunk {
	if kind != KindNumber {
		return nil
	}
	if ts := p.route(e164); len(ts) > 0 {
		return ts[0]
	}
	return nil
}

// trunkAt is the trunk whose host (and port, when it has one) a URI names.
func (p *Policy) trunkAt(h host, port int) *Trunk {
	if p == nil {
		return nil
	}
	for _, t := range p.trunks {
		if t.h == h && (t.Port == 0 || t.Port == port) {
			return t
		}
	}
	return nil
}

// onTrunkHost reports whether a URI's host is a trunk's or an outbound
// proxy's: such a host is treated as an allow.hosts entry.
func (p *Policy) onTrunkHost(h host, port int) bool {
	if p.trunkAt(h, port) != nil {
		return true
	}
	for _, t := range p.trunks {
		if t.Proxy != "" && t.proxyHost == h {
			return true
		}
	}
	return false
}

// Format writes e164 as the trunk sends numbers: e164 "+842838001234",
// international "842838001234", national "02838001234" for a number of
// phone.default_country and the country's international prefix for others
// ("0014155550100" from VN), each after the trunk's prefix.
func (t *Trunk) Format(e164 string) string {
	return t.prefix + t.write(e164)
}

func (t *Trunk) write(e164 string) string {
	switch t.format {
	case config.FormatInternational:
		return strings.TrimPrefix(e164, "+")
	case config.FormatNational:
		n, err := phonenumbers.Parse(e164, "")
		if err != nil {
			return e164
		}
		s := phonenumbers.FormatOutOfCountryCallingNumber(n, t.country)
		out := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == '+' {
				return r
			}
			return -1
		}, s)
		if out == "" {
			return e164
		}
		return out
	}
	return e164
}

// presented is the caller ID the trunk presents for a dial on behalf of
// caller (the original caller's number, or ""): the caller's own number
// when the trunk passes caller IDs and it is a telephone number, else the
// trunk's caller_id; written in the trunk's number format ("" if none).
func (t *Trunk) presented(caller string) string {
	if t.pass && caller != "" {
		if s := stripVisual(caller); numeric(s) {
			if e164, err := phone.Normalize(s, t.country); err == nil {
				return t.write(e164)
			}
		}
	}
	if t.callerID == "" {
		return ""
	}
	return t.write(t.callerID)
}

// compileTrunks builds the trunks and refuses two on one host (a URI that
// names the host must say which account to use).
func compileTrunks(entries []config.Trunk, country string) ([]*Trunk, []string) {
	var out []*Trunk
	var idx []int // entry index of each of out
	var errs []string
	for i, c := range entries {
		t, e := newTrunk(i, c, country)
		errs = append(errs, e...)
		if len(e) > 0 {
			continue
		}
		for j, o := range out {
			if o.h == t.h && (o.Port == 0 || t.Port == 0 || o.Port == t.Port) {
				errs = append(errs, fmt.Sprintf("%s: %q is also the host of trunk %s (trunks[%d]): a URI naming the host could not say which account to use; give each its own host or port",
					c.Where(i, "host"), c.Host, o.Name, idx[j]))
			}
		}
		out, idx = append(out, t), append(idx, i)
	}
	return out, errs
}
