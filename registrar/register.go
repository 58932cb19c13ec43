package registrar

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
)

// HandleRegister answers one REGISTER (RFC 3261 §10.3). Its signature is
// sipgo's RequestHandler, so it can be passed to Server.OnRegister or to the
// sip.Server Register hook. It never panics on input.
func (r *Registrar) HandleRegister(req *sip.Request, tx sip.ServerTransaction) {
	defer func() {
		if p := recover(); p != nil {
			r.cfg.Logger.Error("registrar: panic in REGISTER handler", "panic", p)
			r.respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		}
	}()
	// Path first, before any digest work: only the proxy in front may
	// route our INVITEs (RFC 3327 §5.3 leaves whom to believe to policy).
	path, err := parsePath(req)
	if err != nil {
		r.cfg.Logger.Info("registrar: REGISTER refused", "call_id", callIDOf(req), "source", req.Source(), "err", err)
		r.respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	if len(path) > 0 && !r.trusted(sourceIP(req.Source())) {
		r.cfg.Logger.Warn("registrar: REGISTER with Path from a source not in sip.trusted refused",
			"call_id", callIDOf(req), "source", req.Source(), "path", path)
		r.respond(tx, req, sip.StatusForbidden, "Forbidden (Path from an untrusted source)")
		return
	}
	name, reject := r.verify(req)
	if reject != nil {
		r.send(tx, reject)
		return
	}
	log := r.cfg.Logger.With("source", req.Source(), "call_id", callIDOf(req))

	evs, status, err := r.update(req, name, path)
	if err != nil {
		if errors.Is(err, ErrContactRefused) {
			r.refusedContact(req, name, err)
		} else {
			log.Info("registrar: REGISTER refused", "user", name, "err", err)
		}
		res := sip.NewResponseFromRequest(req, status, reasonFor(status), nil)
		if status == sip.StatusIntervalToBrief {
			// RFC 3261 §10.3 step 7 / §20.23.
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second))))
		}
		r.send(tx, res)
		return
	}
	r.send(tx, r.okResponse(req, name, path))
	for _, e := range evs {
		r.cfg.Bus.Publish(e)
	}
}

// authenticate returns the digest username of a verified request from ip.
func (r *Registrar) authenticate(req *sip.Request, ip string) (string, error) {
	h := req.GetHeader("Authorization")
	if h == nil || !digest.IsDigest(h.Value()) {
		return "", ErrNoCredentials
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return "", fmt.Errorf("parse Authorization: %v: %w", err, ErrBadCredentials)
	}
	if cred.Realm != r.cfg.Realm {
		return "", ErrNoCredentials // credentials for another realm: challenge for ours
	}
	now := r.cfg.Now()
	// The nonce first: everything after it counts as a failure, and only a
	// client that received our challenge at ip can get this far.
	if err := checkNonce(r.key, r.cfg.Realm, ip, cred.Nonce, now, r.cfg.NonceTTL); err != nil {
		return "", err
	}
	u, ok := r.users[cred.Username]
	if !ok {
		return "", fmt.Errorf("unknown user %q: %w", cred.Username, ErrBadCredentials)
	}
	if !r.offered(cred.Algorithm) {
		// Only what we challenged with: no downgrade to an algorithm we did not offer.
		return "", fmt.Errorf("algorithm %q not offered: %w", cred.Algorithm, ErrBadCredentials)
	}
	if err := verifyResponse(cred, string(req.Method), u.password); err != nil {
		return "", err
	}
	// RFC 2617 §3.2.2.5: the digest-uri must name the Request-URI, so a
	// response captured for one target cannot be replayed at another.
	if !sameURI(cred.URI, req.Recipient) {
		return "", fmt.Errorf("digest uri %q is not the Request-URI: %w", cred.URI, ErrBadCredentials)
	}
	// RFC 3261 §10.3 step 6: the authenticated user may only modify its own
	// address of record. (Other methods: see Authenticate.)
	if to := req.To(); req.Method == sip.REGISTER && (to == nil || to.Address.User != cred.Username) {
		return "", fmt.Errorf("user %q may not register another AOR: %w", cred.Username, ErrBadCredentials)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cred.Nc <= r.nc[cred.Nonce] {
		return "", ErrReplay
	}
	r.nc[cred.Nonce] = cred.Nc
	r.bans.succeed(ip, cred.Username, now)
	return cred.Username, nil
}

func (r *Registrar) offered(alg string) bool {
	if alg == "" {
		alg = "MD5" // RFC 2617 §3.2.1
	}
	for _, a := range r.cfg.Algorithms {
		if strings.EqualFold(a, alg) {
			return true
		}
	}
	return false
}

func sameURI(raw string, r sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(raw, &u); err != nil {
		return false
	}
	port := func(p int) int {
		if p == 0 {
			return 5060
		}
		return p
	}
	return strings.EqualFold(u.Scheme, r.Scheme) && u.User == r.User &&
		strings.EqualFold(u.Host, r.Host) && port(u.Port) == port(r.Port)
}

type contactReq struct {
	uri      string
	expires  time.Duration
	q        float64
	wildcard bool
}

// parseContacts reads every Contact (several headers or comma lists) with
// its expiry: the contact's expires parameter, else the Expires header, else
// DefaultExpires (RFC 3261 §10.2.1.1).
func (r *Registrar) parseContacts(req *sip.Request) ([]contactReq, error) {
	hdrExp := r.cfg.DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("Expires %q: %w", h.Value(), ErrBadRequest)
		}
		hdrExp = time.Duration(n) * time.Second
	}
	var out []contactReq
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			c = &sip.ContactHeader{}
			if _, err := sip.ParseAddressValue(h.Value(), &c.Address, &c.Params); err != nil {
				return nil, fmt.Errorf("Contact %q: %w", h.Value(), ErrBadRequest)
			}
		}
		cr := contactReq{expires: hdrExp, wildcard: c.Address.Wildcard || strings.TrimSpace(h.Value()) == "*"}
		if !cr.wildcard {
			cr.uri = c.Address.String()
		}
		if c.Params != nil {
			if v, ok := c.Params.Get("expires"); ok {
				n, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("contact expires %q: %w", v, ErrBadRequest)
				}
				cr.expires = time.Duration(n) * time.Second
			}
			if v, ok := c.Params.Get("q"); ok {
				q, err := strconv.ParseFloat(v, 64)
				if err != nil || q < 0 || q > 1 {
					return nil, fmt.Errorf("contact q %q: %w", v, ErrBadRequest)
				}
				cr.q = q
			}
		}
		out = append(out, cr)
	}
	return out, nil
}

// update applies the request's contacts to the user's bindings atomically:
// either every contact is accepted or none is (RFC 3261 §10.3 step 7).
func (r *Registrar) update(req *sip.Request, name string, path []string) ([]events.Event, int, error) {
	cs, err := r.parseContacts(req)
	if err != nil {
		return nil, sip.StatusBadRequest, err
	}
	callID, cseq := "", uint32(0)
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	if h := req.CSeq(); h != nil {
		cseq = h.SeqNo
	}
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = h.Value()
	}
	for _, c := range cs {
		if c.wildcard {
			// RFC 3261 §10.2.2: "*" only alone and only with Expires: 0.
			if len(cs) != 1 || c.expires != 0 || req.GetHeader("Expires") == nil {
				return nil, sip.StatusBadRequest, fmt.Errorf("wildcard contact: %w", ErrBadRequest)
			}
		} else if c.expires > 0 && c.expires < r.cfg.MinExpires {
			return nil, sip.StatusIntervalToBrief, ErrIntervalTooBrief
		}
	}
	for _, c := range cs {
		// The toll-fraud guard: a contact is a URI Hotline will INVITE, so
		// the outbound policy says what it may be (outbound.Contact). An
		// un-REGISTER (expires 0) is always let through: it removes a
		// binding that may predate the current allow-list.
		if c.wildcard || c.expires == 0 {
			continue
		}
		if _, err := r.cfg.Policy.CheckURI(outbound.Contact, c.uri); err != nil {
			return nil, sip.StatusForbidden, fmt.Errorf("%w: %w", ErrContactRefused, err)
		}
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := append([]Contact(nil), r.bindings[name]...)
	var evs []events.Event
	for _, c := range cs {
		if c.wildcard {
			for _, b := range cur {
				evs = append(evs, r.event(name, b, ActionRemoved, 0, 0))
			}
			cur = nil
			continue
		}
		i := indexOf(cur, c.uri)
		if i >= 0 && cur[i].callID == callID && cseq <= cur[i].cseq {
			return nil, sip.StatusBadRequest, ErrOutOfOrder
		}
		exp := min(c.expires, r.cfg.MaxExpires)
		nb := Contact{URI: c.uri, Expires: now.Add(exp), Q: c.q, Source: req.Source(),
			Transport: req.Transport(), UserAgent: ua, Path: path, callID: callID, cseq: cseq, updated: now}
		switch {
		case exp == 0 && i >= 0:
			cur = append(cur[:i], cur[i+1:]...)
			evs = append(evs, r.event(name, nb, ActionRemoved, 0, 0))
		case exp == 0:
		case i >= 0:
			cur[i] = nb
			evs = append(evs, r.event(name, nb, ActionRefreshed, exp, 0))
		default:
			cur = append(cur, nb)
			evs = append(evs, r.event(name, nb, ActionAdded, exp, 0))
		}
	}
	live := cur[:0]
	for _, b := range cur {
		if now.Before(b.Expires) {
			live = append(live, b)
		}
	}
	if len(live) > r.cfg.MaxContacts {
		return nil, sip.StatusForbidden, ErrTooManyContacts
	}
	if len(live) == 0 {
		delete(r.bindings, name)
	} else {
		r.bindings[name] = live
	}
	r.saveLocked(name)
	setContacts(evs, len(live))
	return evs, 0, nil
}

// refusedContact logs, counts and publishes a REGISTER the outbound policy
// refused: someone who holds the agent's password tried to point its
// binding where Hotline must not call (or a phone is misconfigured).
func (r *Registrar) refusedContact(req *sip.Request, name string, err error) {
	r.stats.contactsRefused.Add(1)
	var contacts []string
	for _, h := range req.GetHeaders("Contact") {
		contacts = append(contacts, h.Value())
	}
	r.cfg.Logger.Warn("registrar: contact refused by the outbound policy (toll-fraud guard)", "user", name,
		"agent", r.users[name].agentID, "source", req.Source(), "contacts", contacts, "err", err)
	r.cfg.Bus.Publish(events.Event{Type: EventContactRefused, Agent: r.users[name].agentID, Payload: Refusal{
		User: name, Contact: strings.Join(contacts, ", "), Source: req.Source(), Reason: err.Error()}})
}

func indexOf(cs []Contact, uri string) int {
	for i, c := range cs {
		if c.URI == uri {
			return i
		}
	}
	return -1
}

// okResponse lists every current binding with its remaining time (RFC 3261
// §10.3 step 8).
//
// With a Path (RFC 3327 §5.3) the 200 carries the request's Path back when
// the UA said it supports the extension (Supported or Require: path), and
// always Supported: path, so the proxy and the UA see that we kept it.
func (r *Registrar) okResponse(req *sip.Request, name string, path []string) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Supported", "path"))
	if len(path) > 0 && supportsPath(req) {
		res.AppendHeader(sip.NewHeader("Path", strings.Join(path, ", ")))
	}
	now := r.cfg.Now()
	for _, c := range r.Lookup(name) {
		secs := int((c.Expires.Sub(now) + time.Second - 1) / time.Second)
		res.AppendHeader(sip.NewHeader("Contact", "<"+c.URI+">;expires="+strconv.Itoa(secs)))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(http.TimeFormat)))
	return res
}

// callIDOf is the request's Call-ID for log lines, "" without one.
func callIDOf(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func reasonFor(status int) string {
	switch status {
	case sip.StatusBadRequest:
		return "Bad Request"
	case sip.StatusForbidden:
		return "Forbidden"
	case sip.StatusIntervalToBrief:
		return "Interval Too Brief"
	}
	return "Error"
}

func (r *Registrar) respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string) {
	r.send(tx, sip.NewResponseFromRequest(req, status, reason, nil))
}

func (r *Registrar) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		r.cfg.Logger.Warn("registrar: respond failed", "status", res.StatusCode, "err", err)
	}
}
