package registrar

import (
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/hotline-dev/hotline/events"
)

// Authenticate verifies the digest credentials of any request from an
// agent's phone (RFC 3261 §22), not only REGISTER: the SIP server uses it
// for feature-code INVITEs (*11 log in, ...) so that only the agent's own
// phone changes its state. It returns the agent ID of the verified user, or
// the response to send instead:
//
//   - 401 with WWW-Authenticate challenges (RFC 3261 §22.1, RFC 8760 §2.4)
//     when there are no credentials for our realm, the nonce is stale
//     (stale=true), was not issued to this source, or the nonce count was
//     replayed;
//   - 403 when the credentials do not verify or the user is unknown; the
//     failure counts towards the bans of bans.go;
//   - 403 while that username from that source, or the whole source, is
//     banned (unless the request comes from a live binding's own address).
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
	src := req.Source()
	ip := sourceIP(src)
	claimed := r.banUser(credentialUser(req))
	now := r.cfg.Now()
	r.mu.Lock()
	banned := r.bans.isBanned(ip, claimed, now) && !r.holdsBinding(src, now)
	r.mu.Unlock()
	if banned {
		r.stats.refusedBanned.Add(1)
		return "", sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	name, err := r.authenticate(req, ip)
	switch {
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrStaleNonce), errors.Is(err, ErrReplay), errors.Is(err, ErrUnknownNonce):
		// RFC 3261 §22.1: challenge. stale=true lets a client retry without
		// asking its user (RFC 2617 §3.2.1).
		res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
		nonce := newNonce(r.key, r.cfg.Realm, ip, now)
		stale := errors.Is(err, ErrStaleNonce) || errors.Is(err, ErrReplay)
		for _, v := range challenges(r.cfg.Realm, nonce, r.cfg.Algorithms, stale) {
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", v))
		}
		return "", res
	case err != nil:
		r.failed(req, ip, claimed, now, err)
		return "", sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	return name, nil
}

// failed counts a failure that proved its source (a nonce we issued to
// it), then logs, counts and publishes any ban it causes.
func (r *Registrar) failed(req *sip.Request, ip, user string, now time.Time, err error) {
	if user == "" {
		user = unknownUser
	}
	r.mu.Lock()
	bans := r.bans.fail(ip, user, now, &r.cfg)
	r.mu.Unlock()
	r.stats.failures.Add(1)
	r.cfg.Logger.Warn("registrar: authentication failed", "method", req.Method.String(), "source", req.Source(),
		"user", user, "err", err)
	for _, b := range bans {
		data := Ban{Source: b.key.ip, User: b.key.user, Failures: b.failures,
			BanS: int(b.until.Sub(now) / time.Second), Withheld: b.withheld}
		if b.withheld {
			r.stats.withheld.Add(1)
			data.BanS = 0
			r.cfg.Logger.Warn("registrar: source not banned: it authenticated recently (agents register from it)",
				"source", b.key.ip, "failures", b.failures, "trust_time", r.cfg.TrustTime)
		} else {
			r.stats.bans.Add(1)
			scope := "username from source"
			if b.key.user == anyUser {
				scope = "whole source"
			}
			r.cfg.Logger.Warn("registrar: banned", "source", b.key.ip, "user", b.key.user, "scope", scope,
				"failures", b.failures, "ban_time", r.cfg.BanTime)
		}
		r.cfg.Bus.Publish(events.Event{Type: EventBanned, Agent: r.users[b.key.user].agentID, Payload: data})
	}
}

// credentialUser is the digest username a request claims, "" without
// usable credentials. It only chooses which ban applies; nothing is
// trusted before the digest verifies.
func credentialUser(req *sip.Request) string {
	h := req.GetHeader("Authorization")
	if h == nil || !digest.IsDigest(h.Value()) {
		return ""
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return ""
	}
	return cred.Username
}
