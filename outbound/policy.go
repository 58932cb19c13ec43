// Package outbound is Hotline's one outbound policy, its toll-fraud guard:
// every place that decides whether Hotline may send an INVITE somewhere asks
// it — the agent ringer (registered contacts and static agent URIs), the
// registrar (what a phone may register as its contact), agents' blind
// transfers (REFER), and callbacks (numbers). CheckDial then admits each
// dial to a number or through a trunk (dial.go): the trunk that carries it
// and how the trunk writes it (trunk.go), blocked premium ranges
// (block.go), and the rates, caps and alarms (limits.go).
//
// One semantics everywhere:
//   - a host is compared case-insensitively, without a trailing dot, IPv6
//     in canonical form and IPv4-mapped IPv6 as IPv4; an allow.hosts entry
//     without a port matches every port, one with a port only that port
//     (a URI without a port has its scheme's default, 5060, or 5061 for sips
//     or transport=tls);
//   - a user part is decoded (%-escapes) and classified: empty, a name
//     ("lan", "lan-0x5586d4800230"), one of Hotline's extensions (an agent's
//     SIP username, or allow.extensions), or a telephone number, matched on
//     its E.164 form (phone.Normalize with phone.default_country) against
//     allow.numbers. A number that is neither an extension nor allowed is
//     refused wherever it appears; so is a name that begins with three or
//     more digits that are neither (gateways that read the leading digits
//     of a user part would dial them), and any user part holding ';' or '?'
//     (telephone-subscriber params such as phone-context change what a
//     gateway dials, '?' starts URI headers).
//   - an allowed number is dialled in E.164 form, so what the policy
//     matched is what the far end receives.
//
// What differs is only which hosts a use may name (see Use).
package outbound

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/phone"
)

// Use says what a URI is for. The user-part rules are the same for every
// use; the host rules differ:
//
//   - Contact, a binding an agent's phone registers: any host (phones sit on
//     LANs and behind NATs), but on an allow.hosts host (a trunk or PBX) only
//     an extension or an allowed number: a phone has no business making
//     Hotline send a name, or a number it does not allow, to a trunk.
//   - AgentURI, agents[].uri from the configuration: an allow.hosts host
//     only, any user part the rules let through.
//   - Transfer, an agent's REFER target that is not a queue: an extension
//     or an allowed number, on an allow.hosts host (dialled as given) or on
//     Hotline itself (Target.Own: the caller dials that user's registered
//     contact, checked again as a Contact).
type Use int

// Uses of a URI.
const (
	Contact Use = iota + 1
	AgentURI
	Transfer
)

func (u Use) String() string {
	switch u {
	case Contact:
		return "registered contact"
	case AgentURI:
		return "agent URI"
	case Transfer:
		return "transfer target"
	}
	return "unknown use"
}

// Kind classifies a URI's user part.
type Kind int

// Kinds of user part.
const (
	KindNone      Kind = iota // no user part: sip:host
	KindName                  // a name, not a number: "lan", "lan-0x5586d4800230"
	KindExtension             // an agent's username or an allow.extensions entry
	KindNumber                // a telephone number allow.numbers allows (Target.E164)
)

func (k Kind) String() string {
	return [...]string{"none", "name", "extension", "number"}[k]
}

// phrase is the kind in an error message.
func (k Kind) phrase() string {
	return [...]string{"an empty user part", "a name", "an extension", "a number"}[k]
}

// Target is an allowed destination.
type Target struct {
	URI  string // what to dial: as given, with an allowed number in E.164 form; "" when Own
	User string // the user part, decoded (an extension or number as written, separators removed)
	E164 string // KindNumber: the number
	Kind Kind
	Own  bool // the host is Hotline itself (Transfer only): dial User's registered contact
	// Trunk names the trunk a number on Hotline's own host goes out through
	// (Transfer only; URI is then the number on the trunk's host).
	Trunk string
}

// Config is what the policy is built from.
type Config struct {
	Allow config.Allow
	// Agents' SIP usernames are Hotline's own extensions.
	Agents []config.Agent
	// DefaultCountry reads national numbers (config phone.default_country).
	DefaultCountry string
	// Domains are the hosts that are Hotline itself: sip.domain and the
	// address Hotline advertises. A transfer to an extension there goes to
	// that user's registered contact, one to a number out through a trunk.
	Domains []string
	// Trunks are the providers numbers are dialled through; their hosts
	// and outbound proxies count as allow.hosts entries.
	Trunks []config.Trunk
	// Limits are the blocked ranges, rates and caps (config outbound:);
	// unset keys take config's defaults (config.Outbound.WithDefaults).
	Limits config.Outbound
	// Bus gets EventDialRefused and EventCapAlarm; nil: none published.
	Bus *events.Bus
	// Logger gets admitted and refused dials and alarms; nil: discarded.
	Logger *slog.Logger
	// Now and Location are the clock and the zone of the daily cap's day
	// (the office calendar's); default time.Now and time.Local.
	Now      func() time.Time
	Location *time.Location
}

// Policy is a compiled allow-list with the counts of the dials it admitted
// (CheckDial). The allow-list is immutable; the counts have their own lock;
// it is safe for concurrent use. A nil *Policy allows nothing but names and
// empty user parts on hosts a use does not restrict (see Use): no numbers,
// no extensions, no hosts.
type Policy struct {
	numbers   []numberPattern
	exts      []extRange
	usernames map[string]bool
	agentURIs map[string]bool // agents[].uri as CheckURI(AgentURI) renders them
	hosts     []hostPattern
	domains   []host
	country   string
	warnings  []string
	block     blocklist
	trunks    []*Trunk
	lim       *limiter
	bus       *events.Bus
	log       *slog.Logger
}

// New compiles cfg. An invalid allow:, outbound: or trunks: entry is an
// error wrapping ErrConfig that names the entry and, when the configuration
// came from a file, its line (config.Allow.Where, config.Trunk.Where).
func New(cfg Config) (*Policy, error) {
	p := &Policy{country: cfg.DefaultCountry, usernames: map[string]bool{}, agentURIs: map[string]bool{}, bus: cfg.Bus, log: cfg.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	limits := cfg.Limits.WithDefaults()
	var errs []string
	var blockErrs, trunkErrs []string
	p.block, blockErrs = newBlocklist(limits)
	p.trunks, trunkErrs = compileTrunks(cfg.Trunks, cfg.DefaultCountry)
	errs = append(append(errs, blockErrs...), trunkErrs...)
	for i, raw := range cfg.Allow.Numbers {
		pat, warn, err := parseNumber(raw, cfg.DefaultCountry)
		if err != nil {
			errs = append(errs, cfg.Allow.Where("numbers", i)+": "+err.Error())
			continue
		}
		if warn != "" {
			p.warnings = append(p.warnings, cfg.Allow.Where("numbers", i)+": "+warn)
		}
		p.numbers = append(p.numbers, pat)
	}
	for i, raw := range cfg.Allow.Extensions {
		r, err := parseExtension(raw)
		if err != nil {
			errs = append(errs, cfg.Allow.Where("extensions", i)+": "+err.Error())
			continue
		}
		p.exts = append(p.exts, r)
	}
	for i, raw := range cfg.Allow.Hosts {
		h, err := parseHostPattern(raw)
		if err != nil {
			errs = append(errs, cfg.Allow.Where("hosts", i)+": "+err.Error())
			continue
		}
		p.hosts = append(p.hosts, h)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	for _, a := range cfg.Agents {
		if a.Username != "" {
			p.usernames[a.Username] = true
		}
	}
	for _, d := range cfg.Domains {
		if h, err := parseHost(strings.TrimSpace(d)); err == nil && !slices.Contains(p.domains, h) {
			p.domains = append(p.domains, h)
		}
	}
	for _, a := range cfg.Agents {
		if a.URI == "" {
			continue
		}
		if t, err := p.CheckURI(AgentURI, a.URI); err == nil {
			p.agentURIs[t.URI] = true
		}
	}
	p.lim = newLimiter(limits, cfg.Now, cfg.Location)
	return p, nil
}

// Warnings are entries that are valid but probably wider than meant (a
// prefix that covers a whole country); log them at start-up.
func (p *Policy) Warnings() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.warnings)
}

// CheckURI applies the policy for use to a URI as text (a registered
// contact, an agent URI). Errors wrap ErrRefused.
func (p *Policy) CheckURI(use Use, raw string) (Target, error) {
	a, err := ParseURI(raw)
	if err != nil {
		return Target{}, refuse(use, raw, err.Error())
	}
	return p.Check(use, a)
}

// Check applies the policy for use to an address whose user part is
// already decoded (a REFER target). Errors wrap ErrRefused.
func (p *Policy) Check(use Use, a Address) (Target, error) {
	shown := a.render(a.User)
	if a.Scheme == "" {
		a.Scheme = "sip"
	}
	if a.Scheme != "sip" && a.Scheme != "sips" {
		return Target{}, refuse(use, shown, fmt.Sprintf("scheme %q is not sip or sips", a.Scheme))
	}
	h, err := parseHost(a.Host)
	if err != nil {
		return Target{}, refuse(use, shown, err.Error())
	}
	port := a.Port
	if port == 0 {
		port = a.defaultPort()
	}
	kind, user, e164, err := p.classify(a.User, a.UserPhone)
	if err != nil {
		return Target{}, refuseErr(use, shown, err)
	}
	listed := p.listed(h, port)
	t := Target{User: user, E164: e164, Kind: kind}
	switch use {
	case Contact:
		if listed && kind != KindExtension && kind != KindNumber {
			return Target{}, refuse(use, shown, fmt.Sprintf("host %s is in allow.hosts (a trunk or PBX): only an extension or an allowed number may point there, not %s", h, kind.phrase()))
		}
	case AgentURI:
		if !listed {
			return Target{}, refuse(use, shown, fmt.Sprintf("host %s port %d is not in allow.hosts", h, port))
		}
	case Transfer:
		if kind != KindExtension && kind != KindNumber {
			return Target{}, refuse(use, shown, fmt.Sprintf("the user part is %s, not an extension or an allowed number", kind.phrase()))
		}
		if !listed {
			if !slices.Contains(p.domainList(), h) {
				return Target{}, refuse(use, shown, fmt.Sprintf("host %s port %d is neither in allow.hosts nor Hotline's own", h, port))
			}
			if tr := p.numberRoute(kind, e164); tr != nil {
				// A number, not one of ours: out through the trunk that
				// serves it (CheckDial may pick another with a free slot).
				t.Trunk, t.URI = tr.Name, "sip:"+escapeUser(e164)+"@"+tr.HostPort()
				return t, nil
			}
			t.Own = true
			return t, nil
		}
	default:
		return Target{}, refuse(use, shown, "unknown use")
	}
	dialUser := a.User
	if kind == KindNumber {
		dialUser = e164
	}
	t.URI = a.render(dialUser)
	return t, nil
}

// CheckNumber is the policy for a bare number Hotline would dial (a
// callback): it must be an allowed number; it returns its E.164 form.
// Errors wrap ErrRefused.
func (p *Policy) CheckNumber(raw string) (string, error) {
	s := stripVisual(strings.TrimSpace(raw))
	if len(s) > maxUser {
		return "", fmt.Errorf("%w: number longer than %d characters", ErrRefused, maxUser)
	}
	if !numeric(s) {
		return "", fmt.Errorf("%w: %q is not a telephone number", ErrRefused, raw)
	}
	e164, _, err := p.number(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return e164, nil
}

func refuse(use Use, uri, why string) error {
	return fmt.Errorf("%w: %s %s: %s", ErrRefused, use, uri, why)
}

// refuseErr is refuse for an error that may wrap ErrBlocked.
func refuseErr(use Use, uri string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrRefused, use, uri, err)
}

// classify applies the user-part rules; see the package comment.
func (p *Policy) classify(user string, userPhone bool) (Kind, string, string, error) {
	if len(user) > maxUser {
		return 0, "", "", fmt.Errorf("user part longer than %d bytes", maxUser)
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`;?@<>"\:`, c) >= 0 {
			return 0, "", "", fmt.Errorf("byte %q at %d is not allowed in a user part Hotline dials", rune(c), i)
		}
	}
	switch {
	case user == "" && userPhone:
		return 0, "", "", fmt.Errorf("user=phone without a number")
	case user == "":
		return KindNone, "", "", nil
	case userPhone && !looksNumeric(user):
		return 0, "", "", fmt.Errorf("user=phone but %q is not a number", user)
	case p.isUsername(user):
		return KindExtension, user, "", nil
	}
	if looksNumeric(user) {
		n := stripVisual(user)
		if !numeric(n) {
			return 0, "", "", fmt.Errorf("%q is not a telephone number or extension (digits and one leading +)", user)
		}
		if p.isExtension(n) {
			return KindExtension, n, "", nil
		}
		e164, _, err := p.number(n)
		if err == nil {
			return KindNumber, n, e164, nil
		}
		if errors.Is(err, ErrBlocked) {
			return 0, "", "", err
		}
		return 0, "", "", fmt.Errorf("number %q is neither an extension nor in allow.numbers", user)
	}
	if lead := leadingDigits(user); len(strings.TrimPrefix(lead, "+")) >= 3 && !p.isExtension(lead) {
		if _, _, err := p.number(lead); err != nil {
			return 0, "", "", fmt.Errorf("%q begins with the number %q, which is not an extension or a number Hotline may dial: %w", user, lead, err)
		}
	}
	return KindName, user, "", nil
}

// looksNumeric: digits, '+', '*', '#' and visual separators only, with at
// least one digit ("+84 (28) 3800-1234", "*11").
func looksNumeric(s string) bool {
	return strings.ContainsAny(s, "0123456789") && strings.Trim(s, "0123456789+*#-.()") == ""
}

// numeric: an optional leading '+' and 1-15 digits.
func numeric(s string) bool {
	d, _ := strings.CutPrefix(s, "+")
	return allDigits(d) && len(d) <= maxDigits
}

// leadingDigits is the number a user part begins with: an optional '+' and
// the digits up to the first other character.
func leadingDigits(s string) string {
	i := 0
	if strings.HasPrefix(s, "+") {
		i = 1
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return ""
	}
	return s[:j]
}

func (p *Policy) isUsername(s string) bool { return p != nil && p.usernames[s] }

func (p *Policy) isExtension(s string) bool {
	if p == nil {
		return false
	}
	if p.usernames[s] {
		return true
	}
	for _, r := range p.exts {
		if r.match(s) {
			return true
		}
	}
	return false
}

// number is the allow-list's verdict on a telephone number: its E.164
// form, whether an exact allow.numbers entry names it, or why it may not be
// dialled (an error wrapping ErrBlocked for a blocked range).
func (p *Policy) number(s string) (string, bool, error) {
	if p == nil || len(p.numbers) == 0 {
		return "", false, fmt.Errorf("%q is not in allow.numbers", s)
	}
	e164, err := phone.Normalize(s, p.country)
	if err != nil {
		return "", false, fmt.Errorf("%q is not a telephone number: %v", s, err)
	}
	allowed := false
	for _, n := range p.numbers {
		if n.e164 == e164 {
			return e164, true, nil // the admin named it: not blocked
		}
		allowed = allowed || n.match(e164)
	}
	if !allowed {
		return "", false, fmt.Errorf("%q is not in allow.numbers", s)
	}
	if why := p.block.blocked(e164); why != "" {
		return "", false, fmt.Errorf("%w: %s", ErrBlocked, why)
	}
	return e164, false, nil
}

// exactNumber: an exact allow.numbers entry names e164.
func (p *Policy) exactNumber(e164 string) bool {
	if p == nil {
		return false
	}
	for _, n := range p.numbers {
		if n.e164 == e164 {
			return true
		}
	}
	return false
}

// isAgentURI: uri is a configured agents[].uri (as the policy renders it).
func (p *Policy) isAgentURI(uri string) bool { return p != nil && p.agentURIs[uri] }

func (p *Policy) listed(h host, port int) bool {
	if p == nil {
		return false
	}
	if p.onTrunkHost(h, port) {
		return true
	}
	for _, hp := range p.hosts {
		if hp.match(h, port) {
			return true
		}
	}
	return false
}

func (p *Policy) domainList() []host {
	if p == nil {
		return nil
	}
	return p.domains
}
