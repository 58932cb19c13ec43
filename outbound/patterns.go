package outbound

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/hotline-dev/hotline/phone"
)

// maxDigits is E.164's longest number (ITU-T E.164 §6.1).
const maxDigits = 15

// stripVisual removes RFC 3966 §3 visual separators ("-", ".", "(", ")")
// and spaces, as admins write numbers.
func stripVisual(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '.', '(', ')', ' ', '\t':
			return -1
		}
		return r
	}, s)
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// numberPattern is one allow.numbers entry: an exact E.164 number or an
// E.164 prefix (the digits before a trailing "*").
type numberPattern struct {
	e164   string // exact
	prefix string // or prefix, "+8428"
}

func (p numberPattern) match(e164 string) bool {
	if p.prefix != "" {
		return strings.HasPrefix(e164, p.prefix)
	}
	return e164 == p.e164
}

// parseNumber reads an allow.numbers entry. Exact numbers may be written in
// any form phone.Normalize accepts (national ones in country); a prefix
// must be E.164 ("+8428*"), since a national prefix ("028*") has no E.164
// form without knowing the country's trunk prefix, and a bare "1*" would
// allow every number that starts with 1 in any form (premium 1900 numbers
// included). It also returns a warning for a prefix that covers a whole
// country calling code or more.
func parseNumber(raw, country string) (numberPattern, string, error) {
	s := stripVisual(raw)
	if body, ok := strings.CutSuffix(s, "*"); ok {
		digits, plus := strings.CutPrefix(body, "+")
		if !plus || !allDigits(digits) || len(digits) > maxDigits {
			return numberPattern{}, "", fmt.Errorf("%q: a prefix must be in E.164 form, e.g. \"+8428*\" (internal extensions go in allow.extensions as exact ranges, e.g. \"100-199\")", raw)
		}
		warn, err := prefixCoverage(raw, digits)
		return numberPattern{prefix: body}, warn, err
	}
	if strings.ContainsAny(s, "*#") || strings.Trim(s, "+0123456789") != "" {
		return numberPattern{}, "", fmt.Errorf("%q is not a telephone number (digits, an optional leading +, and a trailing * for a prefix)", raw)
	}
	e164, err := phone.Normalize(s, country)
	if err != nil {
		return numberPattern{}, "", fmt.Errorf("%q is not a telephone number in E.164 or national (phone.default_country %s) form; internal extensions go in allow.extensions: %w", raw, country, err)
	}
	return numberPattern{e164: e164}, "", nil
}

// prefixCoverage warns when an E.164 prefix stops at (or before) the
// country calling code: "+84*" is every Vietnamese number, "+8*" several
// countries. A prefix whose digits start no country code is an error.
func prefixCoverage(raw, digits string) (string, error) {
	for l := 1; l <= 3 && l <= len(digits); l++ {
		cc, _ := strconv.Atoi(digits[:l])
		if phonenumbers.GetRegionCodeForCountryCode(cc) == "ZZ" {
			continue
		}
		if len(digits) == l {
			return fmt.Sprintf("%q allows every number of country calling code +%s: list exact numbers or longer prefixes", raw, digits), nil
		}
		return "", nil
	}
	if len(digits) < 3 {
		return fmt.Sprintf("%q is shorter than a country calling code: it allows numbers of several countries", raw), nil
	}
	return "", fmt.Errorf("%q: no country calling code starts +%s", raw, digits[:3])
}

// extRange is one allow.extensions entry: an exact extension or an
// inclusive range of equal-length extensions ("100-199").
type extRange struct{ lo, hi string }

func (r extRange) match(s string) bool {
	return len(s) == len(r.lo) && r.lo <= s && s <= r.hi
}

func parseExtension(raw string) (extRange, error) {
	s := strings.ReplaceAll(strings.TrimSpace(raw), " ", "")
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	switch {
	case !allDigits(lo) || !allDigits(hi):
		return extRange{}, fmt.Errorf("%q: an extension is digits (\"2001\") or a range of them (\"100-199\")", raw)
	case len(lo) > maxDigits:
		return extRange{}, fmt.Errorf("%q: longer than %d digits", raw, maxDigits)
	case len(lo) != len(hi):
		return extRange{}, fmt.Errorf("%q: both ends of a range need the same number of digits", raw)
	case lo > hi:
		return extRange{}, fmt.Errorf("%q: the range ends before it starts", raw)
	}
	return extRange{lo: lo, hi: hi}, nil
}

// hostPattern is one allow.hosts entry; port 0 matches every port.
type hostPattern struct {
	host host
	port int
}

func (p hostPattern) match(h host, port int) bool {
	return p.host == h && (p.port == 0 || p.port == port)
}

// parseHostPattern reads "name", "name:port", "192.0.2.1[:port]",
// "[2001:db8::1][:port]" or a bare "2001:db8::1".
func parseHostPattern(raw string) (hostPattern, error) {
	s := strings.TrimSpace(raw)
	if strings.Contains(s, "@") || strings.HasPrefix(strings.ToLower(s), "sip:") || strings.HasPrefix(strings.ToLower(s), "sips:") {
		return hostPattern{}, fmt.Errorf("%q: list a host (\"trunk.example\", \"192.0.2.10:5060\"), not a URI", raw)
	}
	h, portStr := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostPattern{}, fmt.Errorf("%q: unterminated IPv6 reference", raw)
		}
		h, portStr = s[:end+1], s[end+1:]
		if portStr != "" {
			p, ok := strings.CutPrefix(portStr, ":")
			if !ok {
				return hostPattern{}, fmt.Errorf("%q: junk after the IPv6 reference", raw)
			}
			portStr = p
		}
	case strings.Count(s, ":") == 1:
		h, portStr, _ = strings.Cut(s, ":")
	}
	hh, err := parseHost(h)
	if err != nil {
		return hostPattern{}, fmt.Errorf("%q: %v", raw, err)
	}
	pat := hostPattern{host: hh}
	if portStr != "" {
		n, err := strconv.Atoi(portStr)
		if err != nil || n < 1 || n > 65535 {
			return hostPattern{}, fmt.Errorf("%q: port %q is not 1-65535", raw, portStr)
		}
		pat.port = n
	}
	return pat, nil
}
