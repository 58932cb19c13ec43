package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ProxyURI is a parsed sip.outbound_proxy: where out-of-dialog requests
// go first (RFC 3261 §8.1.2, a preloaded route set of one loose router).
type ProxyURI struct {
	Scheme    string // sip or sips
	Host      string // IP (IPv6 without brackets) or host name
	Port      int    // 0: the transport's default
	Transport string // udp, tcp, tls or "" (the default)
}

// String is the URI as a Route header carries it, always with ;lr: we
// only do loose routing (RFC 3261 §16.12.1.1; a strict router would get
// our Request-URI rewritten, which sipgo does not do for a first request).
func (p ProxyURI) String() string {
	host := p.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	s := p.Scheme + ":" + host
	if p.Port != 0 {
		s += ":" + strconv.Itoa(p.Port)
	}
	if p.Transport != "" {
		s += ";transport=" + p.Transport
	}
	return s + ";lr"
}

// ParseProxyURI parses sip:host[:port][;transport=udp|tcp|tls][;lr]: no
// user part (a proxy is a host), no headers, no other parameters, so a
// typo is an error at start rather than a next hop nobody meant.
func ParseProxyURI(v string) (ProxyURI, error) {
	var p ProxyURI
	if strings.ContainsAny(v, " \t\r\n<>\"") {
		return p, fmt.Errorf("%q: a bare URI, without spaces or <>", v)
	}
	scheme, rest, ok := strings.Cut(v, ":")
	switch strings.ToLower(scheme) {
	case "sip", "sips":
		p.Scheme = strings.ToLower(scheme)
	default:
		return p, fmt.Errorf("%q: scheme must be sip: or sips:", v)
	}
	if !ok || rest == "" {
		return p, fmt.Errorf("%q: no host", v)
	}
	if strings.ContainsAny(rest, "@?") {
		return p, fmt.Errorf("%q: a proxy URI has no user part and no headers", v)
	}
	hostport, params, _ := strings.Cut(rest, ";")
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return p, fmt.Errorf("%q: %w", v, err)
	}
	p.Host, p.Port = host, port
	if params != "" {
		for _, kv := range strings.Split(params, ";") {
			k, val, _ := strings.Cut(kv, "=")
			switch strings.ToLower(k) {
			case "lr":
				if val != "" {
					return p, fmt.Errorf("%q: lr takes no value", v)
				}
			case "transport":
				switch t := strings.ToLower(val); t {
				case "udp", "tcp", "tls":
					p.Transport = t
				default:
					return p, fmt.Errorf("%q: transport %q is not udp, tcp or tls", v, val)
				}
			default:
				return p, fmt.Errorf("%q: parameter %q not allowed (only transport and lr)", v, k)
			}
		}
	}
	if p.Scheme == "sips" && p.Transport != "" && p.Transport != "tls" {
		return p, fmt.Errorf("%q: sips needs transport tls", v)
	}
	return p, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, portStr := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.Index(hp, "]")
		if end < 0 {
			return "", 0, errors.New("unclosed [ in host")
		}
		host = hp[1:end]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", 0, fmt.Errorf("%q in [] is not an IPv6 address", host)
		}
		switch rest := hp[end+1:]; {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			portStr = rest[1:]
		default:
			return "", 0, fmt.Errorf("junk %q after the host", rest)
		}
	} else {
		if i := strings.LastIndex(hp, ":"); i >= 0 {
			host, portStr = hp[:i], hp[i+1:]
		}
		if !validHostName(host) {
			return "", 0, fmt.Errorf("host %q is not an IP or host name", host)
		}
	}
	port := 0
	if portStr != "" || strings.HasSuffix(hp, ":") {
		n, err := strconv.Atoi(portStr)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("port %q is not 1-65535", portStr)
		}
		port = n
	}
	return host, port, nil
}

// validHostName accepts an IPv4 address or an RFC 1123 host name.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return !strings.Contains(h, ":") // IPv6 only in []
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// NonceKey is sip.nonce_secret resolved ("env:NAME" read), nil when unset:
// the registrar then draws a random key per process.
func (s SIP) NonceKey() []byte {
	if s.NonceSecret == "" {
		return nil
	}
	return []byte(Secret(s.NonceSecret))
}
