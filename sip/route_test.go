package sip

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestRouteURI(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "<sip:10.0.0.5:5060;lr>", want: "sip:10.0.0.5:5060;lr"},
		{in: "sip:10.0.0.5:5060", want: "sip:10.0.0.5:5060;lr"},
		{in: " <sip:p.example;transport=udp;lr> ", want: "sip:p.example;transport=udp;lr"},
		{in: "<sip:127.0.0.1:5090;lr;received=sip:127.0.0.1:4000>", want: "sip:127.0.0.1:5090;lr;received=sip:127.0.0.1:4000"},
		{in: "", err: "empty"},
		{in: "<sip:a;lr>\r\nX: y", err: "control"},
		{in: "<tel:+1555>", err: "sip: or sips:"},
		{in: "<sip:a", err: "name-addr"},
	} {
		u, err := routeURI(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("routeURI(%q) = %v, %v; want error %q", tc.in, u.String(), err, tc.err)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("routeURI(%q) = %q, %v; want %q", tc.in, u.String(), err, tc.want)
		}
	}
}

// hopUAS is a scriptedUAS that records every request it sees (method,
// Request-URI, Route headers), so a test can tell which hop got what.
type hopUAS struct {
	*scriptedUAS
	mu   sync.Mutex
	seen []string
}

func (h *hopUAS) record(req *sip.Request) {
	var routes []string
	for _, r := range req.GetHeaders("Route") {
		routes = append(routes, r.Value())
	}
	h.mu.Lock()
	h.seen = append(h.seen, req.Method.String()+" "+req.Recipient.String()+" route="+strings.Join(routes, ","))
	h.mu.Unlock()
}

func (h *hopUAS) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

func newHop(t *testing.T, script func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction)) *hopUAS {
	h := &hopUAS{}
	h.scriptedUAS = newScriptedUAS(t, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
		h.record(req)
		script(u, req, tx)
	})
	return h
}

// TestDialThroughRoute: an INVITE with a route set (a contact's Path, or
// the client's OutboundProxy) leaves for the first hop with the contact as
// Request-URI; with a Record-Route in the 200 the ACK and BYE follow it
// (sipgo's dialog route set, RFC 3261 §12.1.2), without one they go to
// the far end's Contact.
func TestDialThroughRoute(t *testing.T) {
	for _, tc := range []struct {
		name         string
		recordRoute  bool
		viaConfig    bool // the route is ClientConfig.OutboundProxy, not DialOptions.Route
		inDialogProx bool // ACK and BYE expected at the proxy
	}{
		{name: "path with record-route", recordRoute: true, inDialogProx: true},
		{name: "path without record-route"},
		{name: "outbound proxy with record-route", viaConfig: true, recordRoute: true, inDialogProx: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var agent *hopUAS
			agent = newHop(t, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
				tx.Respond(sip.NewResponseFromRequest(req, 500, "agent must not be reached directly", nil))
			})
			proxy := newHop(t, func(u *scriptedUAS, req *sip.Request, tx sip.ServerTransaction) {
				// The proxy answers for the agent: its Contact is the agent's address.
				ans, _ := BuildAnswer(LocalSDP{Addr: netip.MustParseAddrPort(u.rtp.LocalAddr().String())}, mustNeg(req.Body()))
				res := sip.NewSDPResponseFromRequest(req, ans)
				res.To().Params.Add("tag", "uas1")
				if tc.recordRoute {
					res.AppendHeader(sip.NewHeader("Record-Route", "<sip:"+u.addr+";lr>"))
				}
				ap := netip.MustParseAddrPort(agent.addr)
				res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "agent", Host: "127.0.0.1", Port: int(ap.Port())}})
				tx.Respond(res)
			})
			cfg := ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)}
			var o DialOptions
			if tc.viaConfig {
				cfg.OutboundProxy = "sip:" + proxy.addr + ";lr"
			} else {
				o.Route = []string{"<sip:" + proxy.addr + ";lr>"}
			}
			cli, err := NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			runDone := make(chan error, 1)
			go func() { runDone <- cli.Run(context.Background()) }()
			defer func() { cli.Close(); <-runDone }()

			target := "sip:1001@" + agent.addr
			oc, err := cli.DialContact(ctx, target, o)
			if err != nil {
				t.Fatalf("DialContact: %v", err)
			}
			first := proxy.requests()
			if len(first) != 1 || !strings.HasPrefix(first[0], "INVITE "+target+" route=<sip:"+proxy.addr+";lr>") {
				t.Fatalf("proxy got %q, want the INVITE for %s routed through it", first, target)
			}
			ackAt := proxy
			if !tc.inDialogProx {
				ackAt = agent
			}
			recv(t, ctx, ackAt.acks, "ACK")
			if err := oc.Hangup(ctx); err != nil {
				t.Fatalf("Hangup: %v", err)
			}
			recv(t, ctx, ackAt.byes, "BYE")
			select {
			case <-agent.invited:
				t.Fatal("the INVITE reached the agent directly")
			default:
			}
			other := agent
			if !tc.inDialogProx {
				other = proxy
			}
			select {
			case <-other.acks:
				t.Fatal("ACK went to the wrong hop")
			case <-other.byes:
				t.Fatal("BYE went to the wrong hop")
			default:
			}
		})
	}
}

func TestClientOutboundProxyValidated(t *testing.T) {
	for _, p := range []string{"<tel:1>", "sip:10.0.0.5;transport=tcp"} {
		if c, err := NewClient(ClientConfig{Addr: "127.0.0.1:0", OutboundProxy: p}); err == nil {
			c.Close()
			t.Errorf("OutboundProxy %q accepted", p)
		}
	}
}
