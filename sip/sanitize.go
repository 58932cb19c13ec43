package sip

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// clean strips CR, LF and NUL from a caller-supplied value before it goes
// into a header, URI or log field (header injection, RFC 3261 §7.3.1 folding).
func clean(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', 0:
			return -1
		}
		return r
	}, s)
}

// maxHeaderValue bounds caller-supplied header values we copy.
const maxHeaderValue = 256

// cleanLimit cleans s and truncates it to maxHeaderValue bytes.
func cleanLimit(s string) string {
	s = clean(s)
	if len(s) > maxHeaderValue {
		s = s[:maxHeaderValue]
	}
	return s
}

// dialUser validates the user part of a dial URI: digits, '+', '*', '#' only
// (toll-fraud and injection guard). '#' is escaped per RFC 3261 §25.1.
func dialUser(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty user part", ErrBadURI)
	}
	if len(s) > 32 {
		return "", fmt.Errorf("%w: user part longer than 32", ErrBadURI)
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '*':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '#':
			b.WriteString("%23")
		default:
			return "", fmt.Errorf("%w: user part %q: character %q at %d is not 0-9, +, *, #", ErrBadURI, clean(s), r, i)
		}
	}
	return b.String(), nil
}

// parseDialURI accepts sip:USER@HOST[:PORT] with USER from [0-9+*#] only.
func parseDialURI(raw string) (sip.Uri, error) {
	var u sip.Uri
	raw = strings.TrimSpace(raw)
	if strings.ContainsAny(raw, "\r\n\x00 <>\"") {
		return u, fmt.Errorf("%w: %q contains forbidden characters", ErrBadURI, clean(raw))
	}
	if err := sip.ParseUri(raw, &u); err != nil {
		return u, fmt.Errorf("%w: %q: %v", ErrBadURI, raw, err)
	}
	if u.Scheme != "sip" {
		return u, fmt.Errorf("%w: %q: scheme must be sip", ErrBadURI, raw)
	}
	if u.Host == "" {
		return u, fmt.Errorf("%w: %q: no host", ErrBadURI, raw)
	}
	user, err := dialUser(strings.ReplaceAll(u.User, "%23", "#"))
	if err != nil {
		return u, err
	}
	return sip.Uri{Scheme: "sip", User: user, Host: u.Host, Port: u.Port}, nil
}

func validHeaderName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	switch strings.ToLower(n) {
	case "via", "from", "to", "call-id", "cseq", "contact", "content-length", "content-type", "max-forwards", "route", "record-route":
		return false
	}
	return true
}
