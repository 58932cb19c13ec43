package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"golang.org/x/time/rate"

	"github.com/hotline-dev/hotline/config"
)

// Token scopes. A write token may also read.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

type apiToken struct {
	name    string
	digest  [sha256.Size]byte // of the secret: equal-length inputs for the constant-time compare
	write   bool
	limiter *rate.Limiter // nil: unlimited
}

// authenticator holds the tokens resolved at start-up. It is read-only after
// newAuthenticator, apart from the limiters, which are safe for concurrent use.
type authenticator struct {
	tokens []apiToken
}

func newAuthenticator(tokens []config.Token, perSecond float64, log *slog.Logger) *authenticator {
	if perSecond == 0 {
		perSecond = DefaultRateLimit
	}
	a := &authenticator{}
	for i, t := range tokens {
		secret := config.Secret(t.Secret)
		if secret == "" {
			log.Warn("api token has an empty secret; it is ignored", "token", t.Name, "index", i)
			continue
		}
		if t.Scope != ScopeRead && t.Scope != ScopeWrite {
			log.Warn("api token has an unknown scope; it is ignored", "token", t.Name, "scope", t.Scope)
			continue
		}
		at := apiToken{name: t.Name, digest: sha256.Sum256([]byte(secret)), write: t.Scope == ScopeWrite}
		if at.name == "" {
			at.name = fmt.Sprintf("tokens[%d]", i)
		}
		if perSecond > 0 {
			burst := int(math.Max(1, math.Ceil(perSecond)))
			at.limiter = rate.NewLimiter(rate.Limit(perSecond), burst)
		}
		a.tokens = append(a.tokens, at)
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

type tokenKey struct{}

// tokenName is the name of the token that authenticated the request, for logs.
func tokenName(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey{}).(*apiToken)
	if t == nil {
		return ""
	}
	return t.name
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
// rate. 401 carries WWW-Authenticate as RFC 6750 §3 asks.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: "send Authorization: Bearer <token>"})
			return
		}
		t := s.auth.find(secret)
		if t == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline", error="invalid_token"`)
			s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: "unknown token"})
			return
		}
		if !t.write && !readOnlyMethod(r.Method) {
			s.writeError(w, r, &Error{Kind: ErrForbidden, Message: "token " + t.name + " is read-only"})
			return
		}
		if t.limiter != nil && !t.limiter.Allow() {
			s.writeError(w, r, &Error{Kind: ErrRateLimited, Message: "too many requests for token " + t.name})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	})
}
