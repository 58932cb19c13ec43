package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/outbound"
)

// trunkLeg is what a dial through a trunk adds to the INVITE dial builds
// (DialOptions.leg): the From the provider expects, the P-Asserted-Identity,
// the outbound proxy and the transport.
type trunkLeg struct {
	fromUser  string // escaped user part
	fromHost  string
	asserted  string // P-Asserted-Identity user part, "" none
	assertNm  string // its display name
	proxy     string // host:port, "" none
	transport string // "udp", "tcp", "tls"
}

// from is the From user and host of the INVITE (RFC 3261 §8.1.1.3: the
// identity of the account at the provider, not Hotline's address).
func (l *trunkLeg) from() (string, string) { return l.fromUser, l.fromHost }

// DialOut places the call g admits and returns once it is answered and
// ACKed, like DialContact. On a trunk (g.Trunk) the Request-URI is g.User
// at the trunk's host, the From is g.CallerID at the trunk's from_domain
// (display name g.CallerName when set), P-Asserted-Identity (RFC 3325 §9.1)
// carries g.Asserted, a 401/407 challenge is answered with the trunk's
// credentials (RFC 3261 §22.2), the INVITE goes to the outbound proxy when
// there is one (a loose Route, RFC 3261 §8.1.2) and over the trunk's
// transport; in-dialog requests then follow the Record-Route set the answer
// brought (RFC 3261 §12.2.1.1, sipgo's dialog). Without a trunk g.URI is
// dialled as DialContact would.
//
// DialOut releases g when the call has ended (before Done is closed), or
// at once when the dial fails; a second Release is harmless.
func (c *Client) DialOut(ctx context.Context, g *outbound.Grant, o DialOptions) (*OutboundCall, error) {
	if g == nil {
		return nil, fmt.Errorf("%w: no grant", ErrBadURI)
	}
	target, err := c.grantTarget(g, &o)
	if err != nil {
		g.Release()
		return nil, err
	}
	o.onEnd = g.Release // before Done closes: after Done the slot is free
	oc, err := c.dial(ctx, target, o)
	if err != nil {
		g.Release()
		return nil, err
	}
	return oc, nil
}

// grantTarget is the Request-URI of a grant; for a trunk it also puts the
// trunk's identity, credentials and route into o.
func (c *Client) grantTarget(g *outbound.Grant, o *DialOptions) (sip.Uri, error) {
	t := g.Trunk
	if t == nil {
		return parseContactURI(g.URI)
	}
	var user string
	var err error
	if g.Number != "" {
		user, err = dialUser(g.User)
	} else {
		user, err = g.User, contactUser(g.User)
	}
	if err != nil {
		return sip.Uri{}, fmt.Errorf("sip: trunk %s: Request-URI user: %w", t.Name, err)
	}
	if !validHost(t.Host) {
		return sip.Uri{}, fmt.Errorf("%w: trunk %s: bad host %q", ErrBadURI, t.Name, t.Host)
	}
	leg := &trunkLeg{fromHost: t.FromDomain, proxy: t.Proxy, transport: strings.ToLower(t.Transport)}
	switch leg.fromUser = "hotline"; {
	case g.CallerID == "":
	case contactUser(g.CallerID) != nil:
		return sip.Uri{}, fmt.Errorf("%w: trunk %s: caller ID %q", ErrBadURI, t.Name, clean(g.CallerID))
	default:
		leg.fromUser = g.CallerID
	}
	if g.Asserted != "" {
		if err := contactUser(g.Asserted); err != nil {
			return sip.Uri{}, fmt.Errorf("%w: trunk %s: P-Asserted-Identity %q", ErrBadURI, t.Name, clean(g.Asserted))
		}
		leg.asserted = g.Asserted
	}
	if g.CallerName != "" {
		o.DisplayName = g.CallerName
	}
	leg.assertNm = o.DisplayName
	o.From, o.Username, o.Password, o.leg = "", t.Username, t.Password, leg
	return sip.Uri{Scheme: "sip", User: user, Host: t.Host, Port: t.Port}, nil
}

// trunkUA prepares an INVITE for a trunk and returns the dialog UA that
// sends it: the listener's for UDP, one whose requests go over pooled
// connections for TCP and TLS.
func (c *Client) trunkUA(l *trunkLeg, req *sip.Request) *sipgo.DialogUA {
	if l.proxy != "" {
		// RFC 3261 §8.1.2: the outbound proxy is a pre-existing route
		// set of one loose-routing URI; sipgo sends to the top Route.
		proxy := sip.Uri{Scheme: "sip", UriParams: sip.NewParams()}
		host, port, _ := net.SplitHostPort(l.proxy)
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		proxy.Host = host
		proxy.Port, _ = strconv.Atoi(port) // outbound.Trunk.Proxy is host:port
		proxy.UriParams.Add("lr", "")
		if l.transport != "udp" {
			proxy.UriParams.Add("transport", l.transport)
		}
		req.PrependHeader(&sip.RouteHeader{Address: proxy})
	}
	if l.asserted != "" {
		uri := sip.Uri{Scheme: "sip", User: l.asserted, Host: l.fromHost}
		v := "<" + uri.String() + ">"
		if name := cleanLimit(strings.NewReplacer(`"`, "", `\`, "").Replace(l.assertNm)); name != "" {
			v = `"` + name + `" ` + v
		}
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", v))
	}
	if l.transport == "udp" {
		return c.dua
	}
	req.SetTransport(strings.ToUpper(l.transport))
	// Our own Contact per request: sipgo writes the connection's port into
	// a Contact without one, and its shared ContactHDR must not be written.
	contact := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "hotline", Host: c.public.String(), UriParams: sip.NewParams()}}
	contact.Address.UriParams.Add("transport", l.transport)
	req.AppendHeader(contact)
	return c.streamUA()
}

// streamUA is the dialog UA for TCP and TLS trunks, made on first use. Its
// sipgo client has no fixed local address, so a request reuses the pooled
// connection to the provider (RFC 5923-style), which the provider's
// in-dialog requests come back on; Via names the connection's own port.
func (c *Client) streamUA() *sipgo.DialogUA {
	c.streamOnce.Do(func() {
		cl, err := sipgo.NewClient(c.ua, sipgo.WithClientLogger(c.log), sipgo.WithClientHostname(c.public.String()))
		if err != nil { // NewClient fails only on a bad option
			c.streamErr = err
			return
		}
		c.stream = &sipgo.DialogUA{Client: cl, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "hotline", Host: c.public.String()}}}
	})
	if c.stream == nil {
		c.log.Error("sip: stream client", "err", c.streamErr)
		return c.dua
	}
	return c.stream
}

// streamState is the lazily built stream dialog UA (Client embeds it).
type streamState struct {
	streamOnce sync.Once
	stream     *sipgo.DialogUA
	streamErr  error
}

// refusal is a dial the outbound policy refused, as the SIP status an
// agent's transfer is told (RFC 3515 §2.4.5 NOTIFY): 403 for good, 503 for
// a rate or cap that may clear. The *outbound.RefusedError is its Err.
func refusal(err error) error {
	var re *outbound.RefusedError
	if !errors.As(err, &re) {
		return err
	}
	if re.Temporary() {
		return statusErr(sip.StatusServiceUnavailable, "Outbound Limit ("+string(re.Reason)+")", err)
	}
	return statusErr(sip.StatusForbidden, "Refused By Outbound Policy ("+string(re.Reason)+")", err)
}

// admitted dials uri through the client's outbound policy: a dial the
// policy counts (a number, a trunk) is refused or admitted there and a URI
// on a trunk's host goes out through that trunk.
func (c *Client) admitted(ctx context.Context, uri string, o DialOptions) (*OutboundCall, error) {
	g, err := c.cfg.Policy.CheckDial(outbound.Dial{URI: uri, Source: o.Source, Caller: o.From, CallID: o.CallID})
	if err != nil {
		return nil, refusal(err)
	}
	return c.DialOut(ctx, g, o)
}
