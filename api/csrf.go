package api

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Cross-site request forgery. A cookie rides along on requests a page of
// another site makes, so every state change authenticated by the session
// cookie must prove it comes from a page of this origin:
//
//   - the X-CSRF-Token header must equal the session's synchronizer token
//     (random, kept server-side, handed out only in the body of GET or
//     POST /api/v1/session, which another origin cannot read: no CORS).
//     A form or a cross-site fetch cannot set a custom header without a
//     CORS preflight, which Hotline never grants;
//   - when the browser says where the request comes from, it must be this
//     origin: Sec-Fetch-Site (when present) is same-origin, Origin (when
//     present) is this server's scheme and host.
//
// SameSite=Strict on the cookie is a third, independent lock. Bearer-token
// requests need none of this: another site's page cannot know the token.

// CSRFHeader carries the session's CSRF token on state changes.
const CSRFHeader = "X-CSRF-Token"

// checkCSRF refuses a state change made with sess's cookie that lacks the
// session's token or comes from another origin.
func (s *Server) checkCSRF(r *http.Request, sess *session) *Error {
	if readOnlyMethod(r.Method) {
		return nil
	}
	if err := s.sameOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return &Error{Kind: ErrForbidden, Field: CSRFHeader, Message: "a change made with a session cookie needs the " + CSRFHeader + " header (csrf_token of GET /api/v1/session)"}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return &Error{Kind: ErrForbidden, Field: CSRFHeader, Message: "wrong " + CSRFHeader + " for this session"}
	}
	return nil
}

// sameOrigin refuses a request the browser marks as coming from another
// origin. A request with neither header (curl, an old browser) passes:
// the CSRF token is then the lock. Origin is compared with the Host the
// request was sent to (a reverse proxy must pass Host on) and, over TLS,
// must be https; without TLS here either scheme passes, since a proxy in
// front may terminate TLS.
func (s *Server) sameOrigin(r *http.Request) *Error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return &Error{Kind: ErrForbidden, Field: "Sec-Fetch-Site", Message: "cross-origin request refused (Sec-Fetch-Site: " + site + ")"}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	ok := err == nil && (u.Scheme == "https" || (u.Scheme == "http" && r.TLS == nil)) &&
		u.Host != "" && strings.EqualFold(u.Host, r.Host) && u.Path == "" && u.User == nil
	if !ok {
		return &Error{Kind: ErrForbidden, Field: "Origin", Message: "cross-origin request refused (Origin " + printable(origin) + " is not this server)"}
	}
	return nil
}

// printable bounds a header value quoted in an error message.
func printable(v string) string {
	const max = 100
	if len(v) > max {
		v = v[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, v)
}
