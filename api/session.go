package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Browser sessions. EventSource cannot send an Authorization header, so a
// browser signs in once (POST /api/v1/session, with a token or an agent's
// SIP credentials) and gets a cookie naming a session kept here. Sessions
// live in memory: a restart signs every browser out (docs/security.md).

// Session defaults for zero Config fields.
const (
	DefaultSessionIdle     = 12 * time.Hour     // unused this long: the session ends
	DefaultSessionLifetime = 7 * 24 * time.Hour // used or not, it ends this long after sign-in
	DefaultMaxSessions     = 1000               // live sessions in all
	// maxSessionsPerPrincipal bounds the sessions of one token or agent:
	// past it the one unused longest ends, so one credential signing in
	// in a loop cannot fill the table for the others.
	maxSessionsPerPrincipal = 32
)

// Cookie names. Over TLS (or with Config.SecureCookies) the __Host- prefix
// makes the browser refuse the cookie unless it is Secure, host-only and
// Path=/ (RFC 6265bis §4.1.3.2), so a plain-HTTP page or a sibling
// subdomain cannot plant one.
const (
	sessionCookie       = "hotline_session"
	secureSessionCookie = "__Host-hotline_session"
)

// sessionIDBytes is the entropy of a session id and of a CSRF token.
const sessionIDBytes = 32

type session struct {
	key     [sha256.Size]byte // the digest of the cookie's id: the table never holds the id itself
	p       principal         // its session field points back here
	csrf    string            // the synchronizer token for state changes (csrf.go)
	created time.Time
	used    time.Time     // last request; guarded by sessions.mu
	done    chan struct{} // closed when the session ends: its event streams end
}

type sessions struct {
	idle, lifetime time.Duration
	max            int

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*session
}

func newSessions(idle, lifetime time.Duration, max int) *sessions {
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	if max <= 0 {
		max = DefaultMaxSessions
	}
	return &sessions{idle: idle, lifetime: lifetime, max: max, byKey: map[[sha256.Size]byte]*session{}}
}

// randomToken is sessionIDBytes from crypto/rand, base64url without padding.
func randomToken() string {
	b := make([]byte, sessionIDBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for p and returns it with the id for the
// cookie. It returns nil when the table is full of live sessions.
func (st *sessions) create(p principal, now time.Time) (string, *session) {
	id := randomToken()
	sess := &session{key: sha256.Sum256([]byte(id)), p: p, csrf: randomToken(), created: now, used: now, done: make(chan struct{})}
	sess.p.session = sess
	st.mu.Lock()
	defer st.mu.Unlock()
	var mine []*session
	for _, o := range st.byKey {
		if !st.liveLocked(o, now) {
			st.endLocked(o)
		} else if o.p.name == p.name {
			mine = append(mine, o)
		}
	}
	if len(mine) >= maxSessionsPerPrincipal {
		oldest := mine[0]
		for _, o := range mine[1:] {
			if o.used.Before(oldest.used) {
				oldest = o
			}
		}
		st.endLocked(oldest)
	}
	if len(st.byKey) >= st.max {
		return "", nil
	}
	st.byKey[sess.key] = sess
	return id, sess
}

// get finds the live session of a cookie's id and marks it used; nil when
// there is none (never was, signed out, expired, or the server restarted).
func (st *sessions) get(id string, now time.Time) *session {
	if len(id) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return nil
	}
	key := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	sess := st.byKey[key]
	if sess == nil {
		return nil
	}
	if !st.liveLocked(sess, now) {
		st.endLocked(sess)
		return nil
	}
	sess.used = now
	return sess
}

// touch marks sess used (an open event stream is use) and reports whether
// it is still live.
func (st *sessions) touch(sess *session, now time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byKey[sess.key] != sess {
		return false
	}
	if !st.liveLocked(sess, now) {
		st.endLocked(sess)
		return false
	}
	sess.used = now
	return true
}

// end signs sess out; its event streams end.
func (st *sessions) end(sess *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byKey[sess.key] == sess {
		st.endLocked(sess)
	}
}

// expires is when sess ends unless it is used before.
func (st *sessions) expires(sess *session) time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.expiresLocked(sess)
}

func (st *sessions) expiresLocked(sess *session) time.Time {
	idle, hard := sess.used.Add(st.idle), sess.created.Add(st.lifetime)
	if hard.Before(idle) {
		return hard
	}
	return idle
}

func (st *sessions) liveLocked(sess *session, now time.Time) bool {
	return now.Before(st.expiresLocked(sess))
}

func (st *sessions) endLocked(sess *session) {
	delete(st.byKey, sess.key)
	close(sess.done)
}

// count is how many sessions the table holds (live or not yet swept).
func (st *sessions) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byKey)
}
