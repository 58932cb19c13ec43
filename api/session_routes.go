package api

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The session routes:
//
//	POST   /api/v1/session  sign in: {"token"} or {"username", "password"} (JSON or a form)
//	GET    /api/v1/session  who the request acts as (and the session's CSRF token)
//	DELETE /api/v1/session  sign out

// signInInput is the body of POST /api/v1/session: a token's secret, or an
// agent's SIP username and password (config agents:).
type signInInput struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// sessionOut is what GET and POST /api/v1/session answer.
type sessionOut struct {
	Kind      string     `json:"kind"`  // "session" (a cookie) or "token" (a bearer token)
	Name      string     `json:"name"`  // the token's name, or "agent <id>"
	Scope     string     `json:"scope"` // read, write or agent
	Agent     string     `json:"agent,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`    // a session unused until then ends
	CSRFToken string     `json:"csrf_token,omitempty"` // send it as X-CSRF-Token with every change
}

// Scope of an agent session: read, plus its own agent state.
const ScopeAgent = "agent"

func (p *principal) scope() string {
	switch {
	case p.write:
		return ScopeWrite
	case p.agent != "":
		return ScopeAgent
	}
	return ScopeRead
}

func (s *Server) sessionOut(p *principal) sessionOut {
	out := sessionOut{Kind: "token", Name: p.name, Scope: p.scope(), Agent: p.agent}
	if p.session != nil {
		exp := s.sessions.expires(p.session).UTC()
		out.Kind, out.Expires, out.CSRFToken = "session", &exp, p.session.csrf
	}
	return out
}

// signIn is POST /api/v1/session. A wrong credential spends one of the
// source's allowances of the same throttle as unknown bearer tokens (a
// guesser gains nothing by switching between the two), and once they are
// spent the credential is not even compared.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// Login CSRF: another site's form must not sign this browser in as
	// someone else.
	if err := s.sameOrigin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	src := sourceOf(r)
	if wait := s.throttle.retryAfter(src, s.now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		s.writeError(w, r, &Error{Kind: ErrRateLimited, Message: "too many failed sign-ins or unknown tokens from this address"})
		return
	}
	in, err := decodeSignIn(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p *principal
	if in.Token != "" {
		if t := s.auth.find(in.Token); t != nil {
			p = &t.principal
		}
	} else if a := s.auth.findAgent(in.Username, in.Password); a != nil {
		p = &a.principal
	}
	if p == nil {
		s.throttle.fail(src, s.now())
		w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
		msg := "wrong username or password"
		if in.Token != "" {
			msg = "unknown token"
		}
		s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: msg})
		return
	}
	noteToken(r.Context(), p.name)
	id, sess := s.sessions.create(*p, s.now())
	if sess == nil {
		s.setRetryAfter(w)
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "too many sessions are open; try again later"})
		return
	}
	s.log.Info("api session signed in", "token", p.name, "scope", p.scope(), "source", src)
	http.SetCookie(w, s.cookie(r, id))
	writeJSON(w, http.StatusCreated, s.sessionOut(&sess.p))
}

// decodeSignIn reads a JSON or form body and checks that it holds one
// kind of credential.
func decodeSignIn(r *http.Request) (signInInput, error) {
	var in signInInput
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	b, err := readBody(r)
	if err != nil {
		return in, err
	}
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return in, &Error{Kind: ErrBadJSON, Message: "malformed form body: " + err.Error()}
		}
		for k := range form {
			if k != "token" && k != "username" && k != "password" {
				return in, &Error{Kind: ErrUnknownField, Field: k, Message: "unknown field " + strconv.Quote(k)}
			}
		}
		in = signInInput{Token: form.Get("token"), Username: form.Get("username"), Password: form.Get("password")}
	} else if err := decodeJSON(b, &in); err != nil {
		return in, err
	}
	switch {
	case in.Token != "" && (in.Username != "" || in.Password != ""):
		return in, invalid("token", "send a token, or a username and password, not both")
	case in.Token == "" && in.Username == "":
		return in, invalid("token", "send a token, or an agent's username and password")
	case in.Token == "" && in.Password == "":
		return in, invalid("password", "required with username")
	}
	return in, nil
}

// whoAmI is GET /api/v1/session: the principal of the request, a session
// with its expiry and CSRF token, or a bearer token.
func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.sessionOut(principalOf(r.Context())))
}

// signOut is DELETE /api/v1/session: the session ends, its event streams
// with it, and the cookie is cleared.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if p.session == nil {
		s.writeError(w, r, &Error{Kind: ErrConflict, Message: "this request used a bearer token, not a session: nothing to sign out"})
		return
	}
	s.sessions.end(p.session)
	http.SetCookie(w, s.clearedCookie(r))
	w.WriteHeader(http.StatusNoContent)
}

// authenticateSession admits a request by its session cookie: the session
// must be live, a change must pass the CSRF checks, and then the scope and
// rate of its principal apply as to a bearer token. An unknown or expired
// session is 401 with the cookie cleared, and is not counted as a guess: a
// restart signs every browser out, and their boards reconnecting must not
// throttle the office's address (a 256-bit id is not guessed).
func (s *Server) authenticateSession(w http.ResponseWriter, r *http.Request, c *http.Cookie, scoped bool, next http.Handler) {
	sess := s.sessions.get(c.Value, s.now())
	if sess == nil {
		http.SetCookie(w, s.clearedCookie(r))
		w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
		s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: "session expired or signed out: sign in again (POST /api/v1/session)"})
		return
	}
	if err := s.checkCSRF(r, sess); err != nil {
		noteToken(r.Context(), sess.p.name)
		s.writeError(w, r, err)
		return
	}
	s.admit(w, r, &sess.p, scoped, next)
}

// secureCookie: the cookie is Secure when the request came over TLS, or
// when the configuration says a TLS proxy stands in front.
func (s *Server) secureCookie(r *http.Request) bool { return r.TLS != nil || s.cfg.SecureCookies }

func (s *Server) cookieName(r *http.Request) string {
	if s.secureCookie(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

// sessionCookie is the request's session cookie, or nil. Over TLS only
// the __Host- cookie counts.
func (s *Server) sessionCookie(r *http.Request) *http.Cookie {
	c, err := r.Cookie(s.cookieName(r))
	if err != nil || c.Value == "" {
		return nil
	}
	return c
}

// cookie carries a session id: HttpOnly (no script reads it), SameSite
// Strict (no other site's request carries it), Path=/ with no Domain (this
// host only), Secure over TLS. No Max-Age: it lives as long as the browser
// does, and the server ends the session when it is idle.
func (s *Server) cookie(r *http.Request, id string) *http.Cookie {
	return &http.Cookie{Name: s.cookieName(r), Value: id, Path: "/", HttpOnly: true, Secure: s.secureCookie(r), SameSite: http.SameSiteStrictMode}
}

func (s *Server) clearedCookie(r *http.Request) *http.Cookie {
	c := s.cookie(r, "")
	c.MaxAge = -1
	return c
}
