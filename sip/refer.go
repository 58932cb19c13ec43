package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Refer is the target of a REFER received in an OutboundCall's dialog
// (RFC 3515 §2.1): one sip: URI without embedded headers, CR/LF/NUL stripped.
type Refer struct {
	User       string // user part, %-escapes decoded; not yet checked against [0-9+*#]
	Host       string // lower case
	Port       int    // 0 when absent
	ReferredBy string // RFC 3892 Referred-By URI, cleaned; "" when absent
}

// URI renders the target as sip:user@host[:port] (for logs and events).
func (r Refer) URI() string {
	u := "sip:" + r.User + "@" + r.Host
	if r.Port > 0 {
		u += ":" + strconv.Itoa(r.Port)
	}
	return u
}

// ReferFunc decides on a REFER. It runs on the SIP handler goroutine and must
// not block. Returning nil accepts the transfer: Hotline answers 202 and
// sends the "100 Trying" NOTIFY (RFC 3515 §2.4.4), and whoever accepted must
// later call Transfer.Finish once. Returning an error refuses it with the
// error's SIP status (a *StatusError), else 403; the call goes on.
type ReferFunc func(t *Transfer) error

// Transfer is an accepted REFER: the implicit "refer" subscription whose
// final NOTIFY (Finish) reports how the transfer went.
type Transfer struct {
	Refer
	oc    *OutboundCall
	id    uint32        // CSeq of the REFER: Event id (RFC 3515 §2.4.6)
	sub   bool          // false: "Refer-Sub: false" (RFC 4488), no NOTIFY
	ready chan struct{} // closed once the first NOTIFY is done
	once  sync.Once
}

// Logger is the transferring leg's logger (call_id, leg_id).
func (t *Transfer) Logger() *slog.Logger { return t.oc.log }

// OnRefer installs f as the REFER decision for this call; nil refuses every
// REFER with 403 (the default).
func (o *OutboundCall) OnRefer(f ReferFunc) {
	o.mu.Lock()
	o.referFn = f
	o.mu.Unlock()
}

// Finish sends the final NOTIFY with a message/sipfrag status line
// (RFC 3515 §2.4.5, RFC 3420): code 200 when the transferee reached the
// target, the failure otherwise. Only the first call sends anything; later
// calls return ErrCallEnded, as does a call after the dialog has ended.
func (t *Transfer) Finish(ctx context.Context, code int, reason string) error {
	err := ErrCallEnded
	t.once.Do(func() {
		select {
		case <-t.ready:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		if !t.sub {
			err = nil
			return
		}
		err = t.oc.notify(ctx, t.id, code, reason, true)
	})
	return err
}

// onRefer handles REFER in a call we placed (RFC 3515 §2.4.2).
func (c *Client) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	respond := func(code int, reason string, hdrs ...sip.Header) {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		c.send(tx, res)
	}
	oc := c.lookup(req)
	if oc == nil {
		c.respondError(req, tx, ErrNoDialog)
		return
	}
	ref, err := parseRefer(req)
	if err == nil && req.CSeq() == nil {
		err = fmt.Errorf("%w: no CSeq", ErrBadRefer)
	}
	if err != nil {
		oc.log.Info("REFER refused", "status", statusOf(err).Code, "err", err)
		c.respondError(req, tx, err)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.respondError(req, tx, ErrClientClosed)
		return
	}
	c.wg.Add(1) // the NOTIFY below must finish before Close returns
	c.mu.Unlock()
	defer c.wg.Done()
	oc.mu.Lock()
	f, busy, ended := oc.referFn, oc.referring, oc.ended
	if f != nil && !busy && !ended {
		oc.referring = true
	}
	oc.mu.Unlock()
	switch {
	case ended:
		c.respondError(req, tx, ErrCallEnded)
		return
	case busy: // one transfer per call
		c.respondError(req, tx, ErrTransferPending)
		return
	case f == nil:
		c.respondError(req, tx, ErrTransferRefused)
		return
	}
	t := &Transfer{Refer: ref, oc: oc, id: req.CSeq().SeqNo, ready: make(chan struct{})}
	if h := req.GetHeader("Refer-Sub"); h == nil || !strings.EqualFold(strings.TrimSpace(h.Value()), "false") {
		t.sub = true
	}
	if err := f(t); err != nil {
		oc.mu.Lock()
		oc.referring = false
		oc.mu.Unlock()
		// The decision's own status if it names one, else 403.
		err = fmt.Errorf("%w: %w", ErrTransferRefused, err)
		oc.log.Info("REFER refused", "target", ref.URI(), "status", statusOf(err).Code, "err", err)
		c.respondError(req, tx, err)
		return
	}
	defer close(t.ready)
	oc.log.Info("REFER accepted", "target", ref.URI(), "referred_by", ref.ReferredBy)
	if !t.sub {
		respond(sip.StatusAccepted, "Accepted", sip.NewHeader("Refer-Sub", "false"))
		return
	}
	respond(sip.StatusAccepted, "Accepted")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := oc.notify(ctx, t.id, 100, "Trying", false); err != nil {
		oc.log.Info("REFER NOTIFY", "err", err)
	}
}

// notify sends a refer-event NOTIFY with a sipfrag status line (RFC 3515
// §2.4.4-§2.4.6, RFC 3420 §2): active until the final one terminates it.
func (o *OutboundCall) notify(ctx context.Context, id uint32, code int, reason string, final bool) error {
	select {
	case <-o.end_:
		return ErrCallEnded
	default:
	}
	to := o.dialog.InviteRequest.Recipient
	if ct := o.dialog.InviteResponse.Contact(); ct != nil {
		to = ct.Address
	}
	req := sip.NewRequest(sip.NOTIFY, to)
	req.AppendHeader(sip.NewHeader("Event", "refer;id="+strconv.FormatUint(uint64(id), 10)))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody(sipfrag(code, reason))
	res, err := o.dialog.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("sip: NOTIFY: %w", err)
	}
	if !res.IsSuccess() {
		return statusErr(res.StatusCode, clean(res.Reason), errors.New("NOTIFY refused"))
	}
	return nil
}

// sipfrag is a message/sipfrag body holding only a status line (RFC 3420).
func sipfrag(code int, reason string) []byte {
	if code < 100 || code > 699 {
		code, reason = 500, "Server Internal Error"
	}
	reason = strings.TrimSpace(cleanLimit(reason))
	if reason == "" {
		reason = "Unknown"
	}
	return []byte("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
}

// parseRefer checks RFC 3515 §2.4.1 (exactly one Refer-To) and that the
// value is one URI without embedded headers (no Replaces: blind transfer
// only). A non-sip scheme (sips, tel) is a refusal (*StatusError 403).
func parseRefer(req *sip.Request) (Refer, error) {
	var vals []string
	for _, name := range []string{"Refer-To", "r"} {
		for _, h := range req.GetHeaders(name) {
			vals = append(vals, h.Value())
		}
	}
	if len(vals) != 1 {
		return Refer{}, fmt.Errorf("%w: %d Refer-To values", ErrBadRefer, len(vals))
	}
	raw := strings.TrimSpace(clean(vals[0]))
	if len(raw) > 512 {
		return Refer{}, fmt.Errorf("%w: too long", ErrBadRefer)
	}
	if l := strings.IndexByte(raw, '<'); l >= 0 {
		r := strings.IndexByte(raw, '>')
		if r < l || strings.ContainsAny(raw[r+1:], ",<") {
			return Refer{}, fmt.Errorf("%w: %q", ErrBadRefer, raw)
		}
		raw = raw[l+1 : r]
	} else if strings.Contains(raw, ",") {
		return Refer{}, fmt.Errorf("%w: more than one value", ErrBadRefer)
	}
	if strings.ContainsAny(raw, "?\" <>") {
		return Refer{}, fmt.Errorf("%w: embedded headers or spaces in %q", ErrBadRefer, raw)
	}
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return Refer{}, fmt.Errorf("%w: no URI scheme in %q", ErrBadRefer, raw)
	}
	if !strings.EqualFold(scheme, "sip") {
		return Refer{}, statusErr(sip.StatusForbidden, "Forbidden", fmt.Errorf("%w: scheme of %q is not sip", ErrBadRefer, raw))
	}
	var u sip.Uri
	if err := sip.ParseUri(raw, &u); err != nil || u.Host == "" {
		return Refer{}, fmt.Errorf("%w: %q: %v", ErrBadRefer, raw, err)
	}
	user, err := url.PathUnescape(u.User)
	if err != nil || !referChars(user, "-_.!~*+#") || !referChars(u.Host, "-.:[]") {
		return Refer{}, fmt.Errorf("%w: user or host of %q", ErrBadRefer, raw)
	}
	ref := Refer{User: user, Host: strings.ToLower(u.Host), Port: u.Port}
	if rb := req.GetHeader("Referred-By"); rb != nil {
		ref.ReferredBy = cleanLimit(rb.Value())
	}
	return ref, nil
}

// referChars reports whether s is non-empty, at most 64 bytes, and only
// ASCII letters, digits and extra: what a queue name, a number or a host
// may hold, so nothing else reaches a header, a log or a dial URI.
func referChars(s, extra string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}
