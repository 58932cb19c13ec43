package registrar

import (
	"errors"

	"github.com/emiago/sipgo/sip"
)

// Authenticate verifies the digest credentials of any request from an
// agent's phone (RFC 3261 §22), not only REGISTER: the SIP server uses it
// for feature-code INVITEs (*11 log in, ...) so that only the agent's own
// phone changes its state. It returns the agent ID of the verified user, or
// the response to send instead:
//
//   - 401 with WWW-Authenticate challenges (RFC 3261 §22.1, RFC 8760 §2.4)
//     when there are no credentials for our realm, the nonce is stale
//     (stale=true) or the nonce count was replayed;
//   - 403 when the credentials do not verify or the user is unknown; the
//     failure counts towards the source's ban (MaxFailures in FailureWindow);
//   - 403 while the source is banned.
//
// A UAS challenges with 401/WWW-Authenticate, a proxy with 407 (§22.3); we
// are the UAS. The digest-uri must name the Request-URI (RFC 2617 §3.2.2.5)
// and every nonce count may be used once, as for REGISTER. It never panics
// on input.
func (r *Registrar) Authenticate(req *sip.Request) (agentID string, reject *sip.Response) {
	name, reject := r.verify(req)
	if reject != nil {
		return "", reject
	}
	return r.users[name].agentID, nil
}

// verify is the authentication step shared by HandleRegister and
// Authenticate: the digest username, or the response that refuses.
func (r *Registrar) verify(req *sip.Request) (name string, reject *sip.Response) {
	defer func() {
		if p := recover(); p != nil {
			r.cfg.Logger.Error("registrar: panic authenticating", "panic", p)
			name, reject = "", sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil)
		}
	}()
	ip := sourceIP(req.Source())
	r.mu.Lock()
	banned := r.bans.isBanned(ip, r.cfg.Now())
	r.mu.Unlock()
	if banned {
		return "", sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	name, err := r.authenticate(req)
	switch {
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrStaleNonce), errors.Is(err, ErrReplay):
		// RFC 3261 §22.1: challenge. stale=true lets a client retry without
		// asking its user (RFC 2617 §3.2.1).
		res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
		nonce := newNonce(r.key, r.cfg.Realm, r.cfg.Now())
		for _, v := range challenges(r.cfg.Realm, nonce, r.cfg.Algorithms, !errors.Is(err, ErrNoCredentials)) {
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", v))
		}
		return "", res
	case err != nil:
		r.mu.Lock()
		nowBanned := r.bans.fail(ip, r.cfg.Now(), &r.cfg)
		r.mu.Unlock()
		r.cfg.Logger.Warn("registrar: authentication failed", "method", req.Method.String(), "source", req.Source(),
			"err", err, "banned", nowBanned)
		return "", sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	return name, nil
}
