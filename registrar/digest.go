package registrar

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// Digest authentication for REGISTER: RFC 3261 §22 (HTTP digest as in RFC
// 2617, qop=auth) with the SHA-256 algorithm of RFC 8760. The nonce is
// stateless: "<unix-nanos hex>-<salt>.<hmac>" signed with a per-registrar
// key, so a restart invalidates old nonces and no nonce table can be
// flooded. The HMAC also covers the source IP the challenge was sent to
// (RFC 2617 §3.2.1 suggests the client's IP address in the nonce): only a
// client that received our challenge at that address can answer it, so a
// forged UDP source cannot produce a failure that counts against the
// address it forges (bans.go). The IP, not the port: a NAT may move a
// phone's port. Replay protection keeps the highest nonce count (nc) seen
// per nonce while the nonce is valid.

// supportedAlgorithm reports whether alg is one we issue challenges for.
func supportedAlgorithm(alg string) bool {
	switch strings.ToUpper(alg) {
	case "MD5", "SHA-256":
		return true
	}
	return false
}

// newNonce signs the issue time, 64 random bits and the source IP with
// key, so two challenges issued at the same instant still differ.
func newNonce(key []byte, realm, ip string, now time.Time) string {
	var salt [8]byte
	rand.Read(salt[:])
	ts := strconv.FormatInt(now.UnixNano(), 16) + "-" + hex.EncodeToString(salt[:])
	return ts + "." + nonceMAC(key, realm, ip, ts)
}

func nonceMAC(key []byte, realm, ip, ts string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(realm))
	m.Write([]byte{0})
	m.Write([]byte(ip))
	m.Write([]byte{0})
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// checkNonce verifies that we issued nonce to ip, and its age. A nonce
// that is not ours for this source is ErrUnknownNonce: answered with a
// fresh challenge, never counted as a failure.
func checkNonce(key []byte, realm, ip, nonce string, now time.Time, ttl time.Duration) error {
	ts, mac, ok := strings.Cut(nonce, ".")
	if !ok {
		return ErrUnknownNonce
	}
	want := nonceMAC(key, realm, ip, ts)
	if subtle.ConstantTimeCompare([]byte(mac), []byte(want)) != 1 {
		return ErrUnknownNonce
	}
	issued, err := nonceTime(nonce)
	if err != nil {
		return ErrUnknownNonce
	}
	if age := now.Sub(issued); age > ttl || age < -time.Minute {
		return ErrStaleNonce
	}
	return nil
}

// nonceTime is when a nonce was issued (for sweeping replay counters).
func nonceTime(nonce string) (time.Time, error) {
	stamp, _, _ := strings.Cut(nonce, "-")
	n, err := strconv.ParseInt(stamp, 16, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("nonce time: %w", err)
	}
	return time.Unix(0, n), nil
}

// challenges returns one WWW-Authenticate value per algorithm, most
// preferred first (RFC 8760 §2.4).
func challenges(realm, nonce string, algs []string, stale bool) []string {
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		c := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// verifyResponse recomputes the digest response for cred with password and
// compares it in constant time. qop=auth is required (RFC 8760 §2.5 keeps
// the RFC 2069 compatibility mode for MD5 only; we do not offer it).
func verifyResponse(cred *digest.Credentials, method, password string) error {
	if !strings.EqualFold(cred.QOP, "auth") || cred.Cnonce == "" || cred.Nc <= 0 {
		return fmt.Errorf("qop %q: %w", cred.QOP, ErrBadCredentials)
	}
	alg := strings.ToUpper(cred.Algorithm)
	if alg == "" {
		alg = "MD5" // RFC 2617 §3.2.1: absent means MD5
	}
	if !supportedAlgorithm(alg) {
		return fmt.Errorf("algorithm %q: %w", cred.Algorithm, ErrBadCredentials)
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: alg, QOP: []string{"auth"}, Opaque: cred.Opaque}
	want, err := digest.Digest(chal, digest.Options{
		Method: method, URI: cred.URI, Username: cred.Username, Password: password,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil {
		return fmt.Errorf("digest: %v: %w", err, ErrBadCredentials)
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cred.Response)), []byte(want.Response)) != 1 {
		return fmt.Errorf("response mismatch for %q: %w", cred.Username, ErrBadCredentials)
	}
	return nil
}
