package sip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// routeURI parses one route set entry: a name-addr "<sip:host;lr>" (a
// Path value) or a bare URI "sip:host;lr" (sip.outbound_proxy). The URI
// must be sip: or sips: with a host; ;lr is added when missing: Hotline
// only loose-routes (RFC 3261 §16.12.1.1; sipgo keeps the Request-URI of
// a first request).
func routeURI(v string) (sip.Uri, error) {
	var u sip.Uri
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, "\r\n\x00") {
		return u, errors.New("empty or with control characters")
	}
	if strings.HasPrefix(v, "<") {
		params := sip.NewParams()
		if _, err := sip.ParseAddressValue(v, &u, &params); err != nil {
			return u, fmt.Errorf("not a name-addr: %w", err)
		}
	} else if err := sip.ParseUri(v, &u); err != nil {
		return u, fmt.Errorf("not a URI: %w", err)
	}
	if s := strings.ToLower(u.Scheme); s != "sip" && s != "sips" || u.Host == "" {
		return u, errors.New("not a sip: or sips: URI with a host")
	}
	if u.UriParams == nil {
		u.UriParams = sip.NewParams()
	}
	if !u.UriParams.Has("lr") {
		u.UriParams.Add("lr", "")
	}
	return u, nil
}
