package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/time/rate"

	"github.com/hotline-dev/hotline/config"
)

// Token scopes. A write token may also read.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// principal is who a request acts as: a bearer token (read, write, or
// bound to an agent: http.tokens[].agent), or a browser session signed in
// with a token or an agent's SIP credentials.
type principal struct {
	name    string        // token name or "agent <id>", for logs (never a secret)
	write   bool          // may change anything (a write token)
	agent   string        // an agent session or agent-bound token: its agent id (read, plus its own state and wrap-up)
	limiter *rate.Limiter // nil: unlimited; shared by the token's requests and sessions
	session *session      // nil: a bearer token
}

type apiToken struct {
	principal
	digest [sha256.Size]byte // of the secret: equal-length inputs for the constant-time compare
}

// agentLogin is an agent who may sign in with the SIP username and
// password of the registrar (config agents:).
type agentLogin struct {
	principal
	user, pass [sha256.Size]byte // digests: equal-length inputs for the constant-time compare
}

// authenticator holds the tokens and agent logins resolved at start-up. It
// is read-only after newAuthenticator, apart from the limiters, which are
// safe for concurrent use.
type authenticator struct {
	tokens []apiToken
	agents []agentLogin
}

func newAuthenticator(tokens []config.Token, agents []config.Agent, perSecond float64, log *slog.Logger) *authenticator {
	if perSecond == 0 {
		perSecond = DefaultRateLimit
	}
	limiter := func() *rate.Limiter {
		if perSecond <= 0 {
			return nil
		}
		return rate.NewLimiter(rate.Limit(perSecond), int(math.Max(1, math.Ceil(perSecond))))
	}
	a := &authenticator{}
	known := map[string]bool{}
	for _, ag := range agents {
		known[ag.ID] = true
	}
	for i, t := range tokens {
		secret := config.Secret(t.Secret)
		if secret == "" {
			log.Warn("api token has an empty secret; it is ignored", "token", t.Name, "index", i)
			continue
		}
		scope := t.TokenScope()
		switch {
		case t.Agent != "" && (scope != ScopeAgent || !known[t.Agent]):
			// config.Validate refuses both; a caller that skipped it
			// must not get a token broader than the agent it names.
			log.Warn("api token bound to an unknown agent or with a scope other than agent; it is ignored", "token", t.Name, "agent", t.Agent, "scope", t.Scope)
			continue
		case t.Agent == "" && scope != ScopeRead && scope != ScopeWrite:
			log.Warn("api token has an unknown scope; it is ignored", "token", t.Name, "scope", t.Scope)
			continue
		}
		// An agent-bound token is the agent's principal in all but its
		// name and limiter: mayServe and mayWrapUp treat it as the agent's
		// desk session.
		at := apiToken{principal: principal{name: t.Name, write: scope == ScopeWrite, agent: t.Agent, limiter: limiter()}, digest: sha256.Sum256([]byte(secret))}
		if at.name == "" {
			at.name = fmt.Sprintf("tokens[%d]", i)
		}
		a.tokens = append(a.tokens, at)
	}
	// The registrar's rule: no username, or a password that resolved
	// empty, cannot sign in (an empty password would let anyone in).
	for _, ag := range agents {
		pw := config.Secret(ag.Password)
		if ag.Username == "" || pw == "" {
			continue
		}
		a.agents = append(a.agents, agentLogin{
			principal: principal{name: "agent " + ag.ID, agent: ag.ID, limiter: limiter()},
			user:      sha256.Sum256([]byte(ag.Username)), pass: sha256.Sum256([]byte(pw)),
		})
	}
	if len(a.tokens) == 0 {
		log.Warn("no API tokens configured: every /api/v1 request except openapi.json is refused")
	}
	return a
}

// find compares the presented secret with every token (no early exit, so
// the time taken does not say which token nearly matched).
func (a *authenticator) find(secret string) *apiToken {
	d := sha256.Sum256([]byte(secret))
	var found *apiToken
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = &a.tokens[i]
		}
	}
	return found
}

// findAgent compares the presented SIP credentials with every agent's,
// username and password alike, without an early exit.
func (a *authenticator) findAgent(username, password string) *agentLogin {
	u, p := sha256.Sum256([]byte(username)), sha256.Sum256([]byte(password))
	var found *agentLogin
	for i := range a.agents {
		okU := subtle.ConstantTimeCompare(u[:], a.agents[i].user[:])
		okP := subtle.ConstantTimeCompare(p[:], a.agents[i].pass[:])
		if okU&okP == 1 {
			found = &a.agents[i]
		}
	}
	return found
}

type principalKey struct{}

// principalOf is who the request acts as; nil before authentication.
func principalOf(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// tokenName is the name of the token (or session) that authenticated the
// request, for logs.
func tokenName(ctx context.Context) string {
	if p := principalOf(ctx); p != nil {
		return p.name
	}
	return ""
}

// requestNote is what the access log reports about a request that the
// handlers it wraps learn: the name of the token presented (never the
// secret), also when the request was then refused (403 read-only, 429).
type requestNote struct{ token string }

type requestNoteKey struct{}

func noteToken(ctx context.Context, name string) {
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		n.token = name
	}
}

// bearer extracts the token from "Authorization: Bearer <token>" (RFC 6750 §2.1).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func readOnlyMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate checks the bearer token, its scope for the method, and its
// rate. 401 carries WWW-Authenticate as RFC 6750 §3 asks. A source that
// presented too many unknown tokens is answered 429 with Retry-After before
// its token is looked at (throttle.go). A request without an Authorization
// header may instead carry a session cookie (session.go): the same scopes
// apply, and a state change must pass the CSRF checks (csrf.go).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return s.authenticateScoped(next, true)
}

// authenticateAnyScope authenticates without the scope check: for the
// session routes, which any principal may use (a read session signs out
// too).
func (s *Server) authenticateAnyScope(next http.Handler) http.Handler {
	return s.authenticateScoped(next, false)
}

func (s *Server) authenticateScoped(next http.Handler, scoped bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, hasAuth := r.Header["Authorization"]; !hasAuth {
			if c := s.sessionCookie(r); c != nil {
				s.authenticateSession(w, r, c, scoped, next)
				return
			}
		}
		secret, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: "send Authorization: Bearer <token>"})
			return
		}
		src := sourceOf(r)
		if wait := s.throttle.retryAfter(src, s.now()); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			s.writeError(w, r, &Error{Kind: ErrRateLimited, Message: "too many unknown tokens from this address"})
			return
		}
		t := s.auth.find(secret)
		if t == nil {
			s.throttle.fail(src, s.now())
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline", error="invalid_token"`)
			s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: "unknown token"})
			return
		}
		s.admit(w, r, &t.principal, scoped, next)
	})
}

// admit checks the principal's scope for the request (unless scoped is
// false) and its rate, then serves it.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, p *principal, scoped bool, next http.Handler) {
	noteToken(r.Context(), p.name)
	if scoped {
		if err := p.mayServe(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if p.limiter != nil && !p.limiter.Allow() {
		s.writeError(w, r, &Error{Kind: ErrRateLimited, Message: "too many requests for token " + p.name})
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

// mayServe is the scope check: read-only methods for every principal;
// changes for a write token (or its session); for an agent session, only
// its own state (POST /api/v1/agents/{its id}/state; the handler checks
// the id again, after routing) and the wrap-up of its calls' tickets
// (POST /api/v1/tickets/{id}/notes; the handler checks the ticket).
func (p *principal) mayServe(r *http.Request) *Error {
	switch {
	case readOnlyMethod(r.Method), p.write:
		return nil
	case p.agent != "":
		if r.Method == http.MethodPost && (ownAgentState(r.URL.Path, p.agent) || ticketNote(r.URL.Path)) {
			return nil
		}
		return &Error{Kind: ErrForbidden, Message: p.asAgent() + " may change only its own state and wrap up its calls' tickets"}
	}
	return &Error{Kind: ErrForbidden, Message: "token " + p.name + " is read-only"}
}

// asAgent names an agent principal for messages: "agent lan's session",
// or "token lan-desk (agent lan)" for an agent-bound token.
func (p *principal) asAgent() string {
	if p.name == "agent "+p.agent {
		return p.name + "'s session"
	}
	return "token " + p.name + " (agent " + p.agent + ")"
}

// ticketNote reports whether path is POST /api/v1/tickets/{id}/notes, the
// wrap-up: the handler lets an agent session through only for a ticket of
// a call it is handling or handled (mayWrapUp, notes.go).
func ticketNote(path string) bool {
	id, ok := strings.CutPrefix(path, Prefix+"/tickets/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/notes")
	return ok && id != "" && !strings.Contains(id, "/")
}

// ownAgentState reports whether path is POST /api/v1/agents/{agent}/state
// for this agent.
func ownAgentState(path, agent string) bool {
	id, ok := strings.CutPrefix(path, Prefix+"/agents/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/state")
	return ok && id == agent
}
