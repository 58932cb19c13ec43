package registrar

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// RFC 3327 Path: a proxy between the phone and the registrar (Kamailio's
// path module) adds its own URI to the REGISTER; the registrar keeps the
// list with the binding and requests to the contact are routed through it
// (Route headers, loose routing).

// Bounds on what a Path may hold: a real deployment has one or two proxies.
const (
	maxPathEntries = 8
	maxPathLen     = 512 // per entry
)

// ErrUntrustedPath means a REGISTER carried Path from a source not in
// Config.Trusted (403).
var ErrUntrustedPath = fmt.Errorf("registrar: Path from a source not in sip.trusted")

// parsePath reads every Path header (several headers or comma lists, in
// order: the first value is the proxy nearest to us, RFC 3327 §5.3) as
// Route values "<uri>" (name-addr, parameters such as lr kept). Only
// sip:/sips: URIs; anything malformed is ErrBadRequest.
func parsePath(req *sip.Request) ([]string, error) {
	var out []string
	for _, h := range req.GetHeaders("Path") {
		for _, v := range splitComma(h.Value()) {
			if len(out) == maxPathEntries {
				return nil, fmt.Errorf("Path: more than %d entries: %w", maxPathEntries, ErrBadRequest)
			}
			if len(v) > maxPathLen {
				return nil, fmt.Errorf("Path: entry of %d bytes (max %d): %w", len(v), maxPathLen, ErrBadRequest)
			}
			var u sip.Uri
			var params sip.HeaderParams = sip.NewParams()
			if _, err := sip.ParseAddressValue(v, &u, &params); err != nil {
				return nil, fmt.Errorf("Path %q: %v: %w", clip(v), err, ErrBadRequest)
			}
			if s := strings.ToLower(u.Scheme); (s != "sip" && s != "sips") || u.Host == "" || u.Wildcard {
				return nil, fmt.Errorf("Path %q: not a sip: or sips: URI: %w", clip(v), ErrBadRequest)
			}
			if strings.ContainsAny(u.String(), "\r\n\x00<>") {
				return nil, fmt.Errorf("Path %q: bad characters: %w", clip(v), ErrBadRequest)
			}
			out = append(out, "<"+u.String()+">")
		}
	}
	return out, nil
}

// splitComma splits a header value on the commas outside <> and quotes.
func splitComma(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' && (i == 0 || v[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(v[start:]); last != "" || len(out) > 0 {
		out = append(out, last)
	}
	return out
}

// supportsPath reports whether the request lists "path" in Supported or
// Require (RFC 3327 §5.3: only then does the 200 carry the Path back).
func supportsPath(req *sip.Request) bool {
	for _, name := range []string{"Supported", "Require"} {
		for _, h := range req.GetHeaders(name) {
			for _, opt := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(opt), "path") {
					return true
				}
			}
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
