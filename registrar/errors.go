package registrar

import "errors"

// Sentinel errors. HandleRegister answers SIP itself; these surface in logs,
// in events and from the exported helpers.
var (
	// ErrNoCredentials means the request carried no usable Authorization
	// header; the registrar answers 401 with a challenge (RFC 3261 §22.1).
	ErrNoCredentials = errors.New("registrar: no credentials")
	// ErrBadCredentials means the digest response did not verify, the user is
	// unknown, or the user may not register the To address of record (403).
	ErrBadCredentials = errors.New("registrar: bad credentials")
	// ErrStaleNonce means the nonce was ours but has expired (401 stale=true).
	ErrStaleNonce = errors.New("registrar: stale nonce")
	// ErrUnknownNonce means the nonce was not issued by us to the request's
	// source IP (forged, or from another address): challenged afresh, and
	// not counted as a failure, so a forged source cannot get an address
	// banned.
	ErrUnknownNonce = errors.New("registrar: nonce not issued to this source")
	// ErrContactRefused means the outbound policy does not let Hotline dial
	// a Contact of a REGISTER (403): the toll-fraud guard.
	ErrContactRefused = errors.New("registrar: contact refused by the outbound policy")
	// ErrReplay means a nonce count (nc) was not higher than one already seen.
	ErrReplay = errors.New("registrar: nonce count replayed")
	// ErrBanned means the source address, or the username from it, failed
	// too often and is banned.
	ErrBanned = errors.New("registrar: source banned")
	// ErrIntervalTooBrief means a binding asked for less than MinExpires (423).
	ErrIntervalTooBrief = errors.New("registrar: interval too brief")
	// ErrBadRequest means the REGISTER is malformed (400).
	ErrBadRequest = errors.New("registrar: bad request")
	// ErrTooManyContacts means a user would exceed MaxContacts bindings.
	ErrTooManyContacts = errors.New("registrar: too many contacts")
	// ErrOutOfOrder means a REGISTER with a Call-ID we know carried a CSeq not
	// higher than the binding's (RFC 3261 §10.3 step 7).
	ErrOutOfOrder = errors.New("registrar: out-of-order CSeq")
)
