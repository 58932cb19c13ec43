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

// maxContactURI bounds a contact URI we dial.
const maxContactURI = 512

// uriChars are the characters RFC 3261 §25.1 allows in a SIP-URI outside
// escapes: unreserved, reserved and the escape '%'.
const uriChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
	"-_.!~*'()" + "&=+$,;?/:@[]" + "%"

// parseContactURI accepts a registered Contact URI to dial as is (RFC 3261
// §10.3, §16.5: a request to a registered user goes to the Contact URI,
// params such as transport=udp included). It is for URIs the registrar or
// the configuration supplied, never for numbers built from caller input
// (those go through parseDialURI). The user part may be empty or hold only
// unreserved, user-unreserved and escaped characters (RFC 3261 §25.1 user);
// escapes may not decode to controls, space, '<', '>' or '"'. '?' is refused
// everywhere: it starts URI headers ("?name=value"), which would add headers
// to our request, and no phone we know puts it in a contact user.
func parseContactURI(raw string) (sip.Uri, error) {
	var u sip.Uri
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return u, fmt.Errorf("%w: empty", ErrBadURI)
	case len(raw) > maxContactURI:
		return u, fmt.Errorf("%w: longer than %d", ErrBadURI, maxContactURI)
	}
	for i := 0; i < len(raw); i++ {
		if !strings.ContainsRune(uriChars, rune(raw[i])) {
			return u, fmt.Errorf("%w: %q: character %q at %d not allowed in a SIP URI", ErrBadURI, clean(raw), raw[i], i)
		}
	}
	if err := sip.ParseUri(raw, &u); err != nil {
		return u, fmt.Errorf("%w: %q: %v", ErrBadURI, raw, err)
	}
	if u.Scheme != "sip" {
		return u, fmt.Errorf("%w: %q: scheme must be sip", ErrBadURI, raw)
	}
	if len(u.Headers) > 0 || strings.Contains(raw, "?") {
		return u, fmt.Errorf("%w: %q: URI headers not allowed", ErrBadURI, raw)
	}
	if !validHost(u.Host) {
		return u, fmt.Errorf("%w: %q: bad host %q", ErrBadURI, raw, u.Host)
	}
	if err := contactUser(u.User); err != nil {
		return u, fmt.Errorf("%w: %q: %v", ErrBadURI, raw, err)
	}
	return u, nil
}

// contactUser checks an RFC 3261 §25.1 user part:
// 1*( unreserved / escaped / user-unreserved ).
func contactUser(s string) error {
	const ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
		"-_.!~*'()" + "&=+$,;/"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return fmt.Errorf("bad escape at %d", i)
			}
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if d <= ' ' || d >= 0x7f || d == '<' || d == '>' || d == '"' {
				return fmt.Errorf("escape %%%02X at %d decodes to a forbidden character", d, i)
			}
			i += 2
			continue
		}
		if !strings.ContainsRune(ok, rune(c)) {
			return fmt.Errorf("user part: character %q at %d", c, i)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// validHost accepts a hostname, IPv4 address or bracketed IPv6 reference
// (RFC 3261 §25.1 host).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		if h[len(h)-1] != ']' || len(h) < 4 {
			return false
		}
		return strings.Trim(h[1:len(h)-1], "0123456789abcdefABCDEF:.") == ""
	}
	return strings.Trim(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == ""
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

// callIDOf is a request's Call-ID for log lines, sanitised; "" when the
// header is absent (sipgo's accessor returns nil then).
func callIDOf(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return cleanLimit(h.Value())
	}
	return ""
}

// maxDialogID bounds a Call-ID or tag a dialler supplies (DialOptions).
const maxDialogID = 128

// tokenChars are RFC 3261 §25.1 token's characters besides alphanumerics;
// wordChars are a word's.
const (
	tokenChars = "-.!%*_+`'~"
	wordChars  = tokenChars + "()<>:\\\"/[]?{}"
)

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func only(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && !strings.ContainsRune(extra, r) {
			return false
		}
	}
	return true
}

// validToken reports whether s may be a tag parameter (RFC 3261 §19.3:
// a token).
func validToken(s string) bool { return len(s) <= maxDialogID && only(s, tokenChars) }

// validCallID reports whether s may be a Call-ID (RFC 3261 §25.1:
// word ["@" word]).
func validCallID(s string) bool {
	if len(s) > maxDialogID {
		return false
	}
	local, host, at := strings.Cut(s, "@")
	return only(local, wordChars) && (!at || only(host, wordChars))
}
