package outbound

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hotline-dev/hotline/events"
)

// Events the policy publishes.
const (
	// EventDialRefused is a refused dial (DialRefusal).
	EventDialRefused = "outbound.dial_refused"
	// EventCapAlarm is a cap alarm (CapAlarm). The daily alarms fire once
	// a day each; max_calls at most once a minute while dials are refused.
	EventCapAlarm = "outbound.cap_alarm"
)

// Dial is an outbound call the policy is asked to admit: either a URI the
// policy allowed for its use (a static agent URI, a transfer target: the
// Target.URI of Check or CheckURI, or a registered contact), or a bare
// number (a callback), which goes out through a trunk.
type Dial struct {
	URI    string
	Number string
	// Source is on whose behalf Hotline dials, the key of the per-source
	// rate: the caller's number for transfers and agent rings, the
	// requester for callbacks ("+84912345678", "api:helpdesk"); "" counts
	// towards no source.
	Source string
	// Caller is the original caller's number, presented as the caller ID
	// by trunks with pass_caller_id.
	Caller string
	CallID string // the call this dial serves, for the log
}

// Grant is an admitted dial. Exactly one Release must follow it, when the
// call has ended or was never placed (sip.Client.DialOut releases the
// grants it is given); Release is idempotent.
type Grant struct {
	URI        string // the Request-URI to dial
	Number     string // the destination's E.164 number, "" when it is not a telephone number
	Trunk      *Trunk // the trunk that carries the call; nil: straight to URI
	User       string // on a trunk: the Request-URI user part, in the trunk's number format
	CallerID   string // on a trunk: the From user part
	CallerName string // on a trunk: the From display name, "" the dialler's own
	Asserted   string // on a trunk: the P-Asserted-Identity user part (RFC 3325), "" none

	counted bool
	once    sync.Once
	lim     *limiter
}

// TrunkName is the carrying trunk's name, or "".
func (g *Grant) TrunkName() string {
	if g == nil || g.Trunk == nil {
		return ""
	}
	return g.Trunk.Name
}

// Release frees the dial's slots (outbound.max_calls, the trunk's
// max_calls). The day's count and the rates keep the dial.
func (g *Grant) Release() {
	if g == nil {
		return
	}
	g.once.Do(func() {
		if g.counted && g.lim != nil {
			g.lim.release(g.TrunkName())
		}
	})
}

// CheckDial decides an outbound dial and, if it is admitted, counts it.
//
// Every dial is classified as the allow-list classifies it: a number must
// be allowed and outside the blocked ranges, wherever it appears. A dial
// to a telephone number, or through a trunk, is then counted: against the
// per-number and per-source hourly rates (not for a destination the admin
// wrote exactly: a configured agent uri or an exact allow.numbers entry),
// the daily cap, outbound.max_calls and the trunk's max_calls. A number
// goes out through the best trunk that serves it and has a free slot; a
// URI on a trunk's host through that trunk, or when it is full the next
// that serves the number. Anything else (an agent's
// phone, an extension or name on a PBX) is admitted uncounted.
//
// A refusal is a *RefusedError (wrapping ErrRefused), logged with call_id
// and published as EventDialRefused.
func (p *Policy) CheckDial(d Dial) (*Grant, error) {
	g, cands, exact, err := p.resolve(d)
	if err != nil {
		return nil, p.refused(d, err, "")
	}
	if p == nil || !g.counted || p.lim == nil {
		g.counted = false
		return g, nil
	}
	number, source := g.Number, strings.TrimSpace(d.Source)
	if exact {
		number, source = "", ""
	}
	a := p.lim.admit(number, source, cands, len(cands) > 0)
	if a.reason != "" {
		p.publishAlarms(a.alarms, d)
		trunk := ""
		if len(cands) == 1 {
			trunk = cands[0].Name
		}
		return nil, p.refused(d, &RefusedError{Reason: a.reason, Dest: dest(d, g), Detail: a.detail}, trunk)
	}
	g.lim = p.lim
	if t := a.trunk; t != nil {
		g.onTrunk(t, d.Caller)
	}
	p.log.Info("outbound: dial admitted", "call_id", d.CallID, "dest", dest(d, g), "trunk", g.TrunkName(), "uri", g.URI, "source", d.Source)
	p.publishAlarms(a.alarms, d)
	return g, nil
}

// resolve classifies a dial: the grant (not yet counted), the candidate
// trunks, and whether the admin wrote the destination exactly.
func (p *Policy) resolve(d Dial) (*Grant, []*Trunk, bool, error) {
	if d.Number != "" {
		raw := strings.TrimSpace(d.Number)
		s := stripVisual(raw)
		switch {
		case d.URI != "":
			return nil, nil, false, &RefusedError{Reason: ReasonNotAllowed, Dest: raw, Detail: "a dial is a URI or a number, not both"}
		case len(s) > maxUser || !numeric(s):
			return nil, nil, false, &RefusedError{Reason: ReasonNotAllowed, Dest: raw, Detail: fmt.Sprintf("%q is not a telephone number", raw)}
		}
		e164, exact, err := p.number(s)
		if err != nil {
			return nil, nil, false, numberRefusal(raw, err)
		}
		cands := p.route(e164)
		if len(cands) == 0 {
			return nil, nil, false, &RefusedError{Reason: ReasonNoTrunk, Dest: e164, Detail: fmt.Sprintf("no trunk lists a prefix of %s and none is the default", e164)}
		}
		return &Grant{Number: e164, counted: true}, cands, exact, nil
	}
	a, err := ParseURI(d.URI)
	if err != nil {
		return nil, nil, false, &RefusedError{Reason: ReasonNotAllowed, Dest: d.URI, Detail: err.Error()}
	}
	h, err := parseHost(a.Host)
	if err != nil {
		return nil, nil, false, &RefusedError{Reason: ReasonNotAllowed, Dest: d.URI, Detail: err.Error()}
	}
	port := a.Port
	if port == 0 {
		port = a.defaultPort()
	}
	kind, _, e164, err := p.classify(a.User, a.UserPhone)
	if err != nil {
		return nil, nil, false, numberRefusal(d.URI, err)
	}
	g := &Grant{URI: d.URI, Number: e164}
	exact := p.isAgentURI(d.URI) || (kind == KindNumber && p.exactNumber(e164))
	if t := p.trunkAt(h, port); t != nil {
		g.counted = true
		if kind == KindNumber {
			// The trunk the URI names first; when it is full, the others
			// that serve the number, best first.
			cands := []*Trunk{t}
			for _, o := range p.route(e164) {
				if o != t {
					cands = append(cands, o)
				}
			}
			return g, cands, exact, nil
		}
		// A name or extension on the trunk's host is dialled as written,
		// with the trunk's account: the provider bills it like a number.
		// Without a user part there is nothing the trunk could route.
		if a.User == "" {
			return nil, nil, false, &RefusedError{Reason: ReasonNotAllowed, Dest: d.URI,
				Detail: fmt.Sprintf("%s is trunk %s's host without a number or name to call", d.URI, t.Name)}
		}
		g.User = a.User
		return g, []*Trunk{t}, exact, nil
	}
	g.counted = kind == KindNumber
	return g, nil, exact, nil
}

// onTrunk fills in what the trunk sends: the Request-URI in its number
// format and the caller ID it presents.
func (g *Grant) onTrunk(t *Trunk, caller string) {
	g.Trunk = t
	if g.Number != "" {
		g.User = t.Format(g.Number)
	}
	cid := t.presented(caller)
	g.CallerID = cid
	if t.fromUser != "" {
		g.CallerID = t.fromUser
	}
	if t.assert && cid != "" {
		g.Asserted = cid
	}
	g.CallerName = t.callerName
	g.URI = "sip:" + escapeUser(g.User) + "@" + t.HostPort()
}

func dest(d Dial, g *Grant) string {
	switch {
	case g != nil && g.Number != "":
		return g.Number
	case d.Number != "":
		return strings.TrimSpace(d.Number)
	}
	return d.URI
}

// numberRefusal is the refusal for an allow-list error: blocked or not allowed.
func numberRefusal(dest string, err error) *RefusedError {
	r := ReasonNotAllowed
	if errors.Is(err, ErrBlocked) {
		r = ReasonBlocked
	}
	return &RefusedError{Reason: r, Dest: dest, Detail: err.Error(), Err: err}
}

// refused logs and publishes a refusal and returns it as a *RefusedError.
func (p *Policy) refused(d Dial, err error, trunk string) error {
	re, ok := err.(*RefusedError)
	if !ok {
		re = &RefusedError{Reason: ReasonNotAllowed, Dest: dest(d, nil), Detail: err.Error(), Err: err}
	}
	if p == nil {
		return re
	}
	if p.lim != nil && !isLimit(re.Reason) {
		p.lim.refusedFor(re.Reason)
	}
	p.log.Warn("outbound: dial refused", "call_id", d.CallID, "reason", string(re.Reason), "dest", re.Dest, "source", d.Source,
		"trunk", trunk, "detail", re.Detail)
	if p.bus != nil {
		p.bus.Publish(events.Event{Type: EventDialRefused, CallID: d.CallID, Payload: DialRefusal{
			Reason: re.Reason, Dest: re.Dest, Source: d.Source, Trunk: trunk, Detail: re.Detail}})
	}
	return re
}

// isLimit: reasons the limiter counted itself.
func isLimit(r Reason) bool {
	switch r {
	case ReasonNumberRate, ReasonSourceRate, ReasonMaxCalls, ReasonTrunkBusy, ReasonDailyCap:
		return true
	}
	return false
}

func (p *Policy) publishAlarms(as []alarm, d Dial) {
	for _, a := range as {
		p.log.Warn("outbound: cap alarm", "call_id", d.CallID, "cap", a.cap, "level", a.level, "count", a.count, "limit", a.max)
		if p.bus != nil {
			p.bus.Publish(events.Event{Type: EventCapAlarm, CallID: d.CallID, Payload: CapAlarm{
				Cap: a.cap, Level: a.level, Count: a.count, Limit: a.max}})
		}
	}
}
