package outbound

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// maxURI bounds a URI the policy reads; maxUser bounds a user part (no
// number or extension is longer, and a contact user this long is not a
// phone's).
const (
	maxURI  = 512
	maxUser = 64
)

// Address is a SIP URI as the policy sees it.
type Address struct {
	Scheme    string // "sip" or "sips"
	User      string // user part, %-escapes decoded
	Host      string // host name, IPv4 address or IPv6 reference ("[::1]" or "::1")
	Port      int    // 0: the scheme's default
	UserPhone bool   // ;user=phone (RFC 3261 §19.1.1): the user part is a telephone number
	TLS       bool   // ;transport=tls: the default port is 5061 as for sips

	uri *sip.Uri // the parsed URI when it came from text: rebuilt with its params
}

// ParseURI reads a sip: or sips: URI (RFC 3261 §19.1). It refuses what
// Hotline never dials: other schemes, URI headers ("?"), a password in the
// userinfo, escapes that decode to controls, a malformed host or port.
func ParseURI(raw string) (Address, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return Address{}, fmt.Errorf("empty URI")
	case len(raw) > maxURI:
		return Address{}, fmt.Errorf("URI longer than %d bytes", maxURI)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`<>"\^{}|`+"`", c) >= 0 {
			return Address{}, fmt.Errorf("byte 0x%02x at %d is not allowed in a SIP URI", c, i)
		}
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "sip" && scheme != "sips") {
		return Address{}, fmt.Errorf("scheme %q is not sip or sips", scheme)
	}
	// '?' starts URI headers (RFC 3261 §19.1.1), which would add headers to
	// our INVITE; RFC 3261 allows '?' in a user part, but no phone or trunk
	// needs one there, and an ambiguous user part is refused, not guessed.
	if strings.Contains(rest, "?") {
		return Address{}, fmt.Errorf("'?' (URI headers) in %q", raw)
	}
	// One '@' at most, after a non-empty userinfo: RFC 3261 §25.1 allows
	// '@' nowhere else, and parsers disagree about where such a URI's
	// host is ("sip:@a;b@c").
	if n := strings.Count(rest, "@"); n > 1 || n == 1 && strings.HasPrefix(rest, "@") {
		return Address{}, fmt.Errorf("'@' misplaced in %q", raw)
	}
	var u sip.Uri
	if err := sip.ParseUri(raw, &u); err != nil {
		return Address{}, fmt.Errorf("parse %q: %v", raw, err)
	}
	if u.Password != "" {
		return Address{}, fmt.Errorf("password in the userinfo of %q", raw)
	}
	user, err := unescape(u.User)
	if err != nil {
		return Address{}, fmt.Errorf("user part of %q: %w", raw, err)
	}
	a := Address{Scheme: scheme, User: user, Host: u.Host, Port: u.Port, uri: &u}
	if u.UriParams != nil {
		if v, ok := u.UriParams.Get("user"); ok && strings.EqualFold(v, "phone") {
			a.UserPhone = true
		}
		if v, ok := u.UriParams.Get("transport"); ok && strings.EqualFold(v, "tls") {
			a.TLS = true
		}
	}
	if a.Port < 0 || a.Port > 65535 {
		return Address{}, fmt.Errorf("port %d of %q", a.Port, raw)
	}
	return a, nil
}

// unescape decodes RFC 3261 §25.1 escapes ("%2B" is "+"). An escape that is
// malformed or decodes to a control, space or non-ASCII byte is an error.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape at %d", i)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q at %d", s[i:i+3], i)
		}
		if n <= ' ' || n >= 0x7f {
			return "", fmt.Errorf("escape %%%02X at %d decodes to a control or non-ASCII byte", n, i)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// host is a normalised host: a lower-case name without a trailing dot, or
// a canonical IP address (IPv4-mapped IPv6 unmapped, no brackets).
type host struct {
	name string
	ip   netip.Addr // valid for an address
}

func (h host) String() string {
	if h.ip.Is6() {
		return "[" + h.ip.String() + "]"
	}
	if h.ip.IsValid() {
		return h.ip.String()
	}
	return h.name
}

// parseHost normalises an RFC 3261 §25.1 host. Names compare
// case-insensitively (RFC 3261 §19.1.4); "HOST.example." and
// "host.example" are the same host, and so are "[::ffff:192.0.2.1]" and
// "192.0.2.1" (Go dials the mapped form as IPv4). Something that looks like
// an IPv4 address but is not one ("0127.0.0.1", "3232235777") is refused:
// resolvers disagree about such names.
func parseHost(s string) (host, error) {
	if s == "" {
		return host{}, fmt.Errorf("no host")
	}
	if len(s) > 255 {
		return host{}, fmt.Errorf("host longer than 255 bytes")
	}
	inner := s
	if s[0] == '[' {
		if len(s) < 3 || s[len(s)-1] != ']' {
			return host{}, fmt.Errorf("bad IPv6 reference %q", s)
		}
		inner = s[1 : len(s)-1]
	}
	if strings.Contains(inner, ":") {
		ip, err := netip.ParseAddr(inner)
		if err != nil || ip.Zone() != "" || !ip.Is6() {
			return host{}, fmt.Errorf("bad IPv6 address %q", s)
		}
		return host{ip: ip.Unmap()}, nil
	}
	if inner != s {
		return host{}, fmt.Errorf("bad IPv6 reference %q", s)
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return host{ip: ip}, nil
	}
	name := strings.TrimSuffix(strings.ToLower(s), ".")
	if name == "" || strings.Trim(name, "0123456789.") == "" {
		return host{}, fmt.Errorf("%q is neither an IPv4 address nor a host name", s)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return host{}, fmt.Errorf("%q is not a valid host name", s)
		}
	}
	return host{name: name}, nil
}

// defaultPort is RFC 3263 §4.2's: 5061 for sips or TLS, else 5060.
func (a Address) defaultPort() int {
	if a.Scheme == "sips" || a.TLS {
		return 5061
	}
	return 5060
}

// render is the URI to dial with user as its user part: the parsed URI with
// its params when there was one (a registered contact is dialled as
// registered, RFC 3261 §10), else scheme:user@host[:port].
func (a Address) render(user string) string {
	if a.uri != nil {
		u := *a.uri
		if user != a.User { // a number rewritten to E.164; otherwise as written
			u.User = escapeUser(user)
		}
		return u.String()
	}
	s := a.Scheme + ":"
	if user != "" {
		s += escapeUser(user) + "@"
	}
	h, err := parseHost(a.Host)
	if err != nil {
		s += a.Host
	} else {
		s += h.String()
	}
	if a.Port > 0 {
		s += ":" + strconv.Itoa(a.Port)
	}
	return s
}

// escapeUser escapes what RFC 3261 §25.1 does not allow bare in a user part.
func escapeUser(s string) string {
	const bare = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "-_.!~*'()" + "&=+$,;?/"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(bare, s[i]) >= 0 {
			b.WriteByte(s[i])
		} else {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
	}
	return b.String()
}
