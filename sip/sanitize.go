package sip

import (
	"fmt"
	"strings"
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
