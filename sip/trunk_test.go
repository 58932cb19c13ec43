package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/sipprovider"
	"github.com/hotline-dev/hotline/outbound"
)

// trunkRig is a client whose outbound policy has one trunk to prov.
type trunkRig struct {
	t      *testing.T
	cli    *Client
	policy *outbound.Policy
	prov   *sipprovider.Provider
}

func newTrunkRig(t *testing.T, pc sipprovider.ProviderConfig, trunk func(*config.Trunk)) *trunkRig {
	return newTrunkRigTLS(t, pc, trunk, nil)
}

func newTrunkRigTLS(t *testing.T, pc sipprovider.ProviderConfig, trunk func(*config.Trunk), roots *tls.Config) *trunkRig {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, lateMessage, tcpViaDial) }) // after the provider's cleanup
	prov := sipprovider.StartProvider(t, pc)
	tr := config.Trunk{Name: "provider", Host: prov.Addr(), Username: pc.Username, Password: pc.Password,
		CallerID: "+842838001234", Numbers: []string{"+84*"}}
	if trunk != nil {
		trunk(&tr)
	}
	p, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+84*"}}, DefaultCountry: "VN",
		Trunks: []config.Trunk{tr}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cli := runClient(t, ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t), Policy: p, TLS: roots})
	return &trunkRig{t: t, cli: cli, policy: p, prov: prov}
}

func within[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
	var zero T
	return zero
}

// released checks that the policy counts no call up: DialOut releases the
// grant before the call's Done closes, and at once when the dial fails.
func (r *trunkRig) released() {
	r.t.Helper()
	if s := r.policy.Stats(); s.Active != 0 {
		r.t.Fatalf("grant not released: %+v", s)
	}
}

// TestDialTrunkDigest: a provider that challenges with 401 (a registrar-
// style UAS) or 407 (a proxy) gets the trunk's credentials; the INVITE
// carries the number and caller ID in the trunk's format, From at the
// provider's domain and P-Asserted-Identity (RFC 3325). Wrong credentials
// are the provider's 403, and the grant is released either way.
func TestDialTrunkDigest(t *testing.T) {
	for _, code := range []int{401, 407} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			r := newTrunkRig(t, sipprovider.ProviderConfig{Challenge: code, Username: "842838001234", Password: "pr0vider"}, func(tr *config.Trunk) {
				tr.NumberFormat, tr.AssertID, tr.FromDomain, tr.CallerName = config.FormatNational, true, "provider.example", "Hotline"
			})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			g, err := r.policy.CheckDial(outbound.Dial{Number: "0912 345 678", Source: "api:test", CallID: "cb-1"})
			if err != nil {
				t.Fatal(err)
			}
			if g.TrunkName() != "provider" || g.User != "0912345678" || g.CallerID != "02838001234" {
				t.Fatalf("grant %+v", g)
			}
			oc, err := r.cli.DialOut(ctx, g, DialOptions{CallID: "cb-1"})
			if err != nil {
				t.Fatalf("DialOut: %v", err)
			}
			if c := within(t, r.prov.Challenges(), "challenge"); c != code {
				t.Errorf("challenge %d", c)
			}
			inv := within(t, r.prov.Invites(), "answered INVITE")
			want := sipprovider.Invite{RequestURI: "sip:0912345678@" + r.prov.Addr(), User: "0912345678", FromUser: "02838001234",
				FromHost: "provider.example", FromName: "Hotline", Asserted: `"Hotline" <sip:02838001234@provider.example>`,
				Transport: "UDP", Username: "842838001234"}
			if fmt.Sprint(inv) != fmt.Sprint(want) {
				t.Errorf("INVITE\n got %+v\nwant %+v", inv, want)
			}
			if s := r.policy.Stats(); s.Active != 1 || s.Trunks["provider"] != 1 {
				t.Errorf("stats while up: %+v", s)
			}
			if err := oc.Hangup(ctx); err != nil {
				t.Errorf("Hangup: %v", err)
			}
			within(t, r.prov.Byes(), "BYE")
			r.released()

			// The wrong password: the provider refuses, the dial fails
			// with its status and frees its slot.
			bad := newTrunkRig(t, sipprovider.ProviderConfig{Challenge: code, Username: "842838001234", Password: "pr0vider"}, func(tr *config.Trunk) {
				tr.Password = "guess"
			})
			g, err = bad.policy.CheckDial(outbound.Dial{Number: "+84912345678"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = bad.cli.DialOut(ctx, g, DialOptions{})
			var se *StatusError
			if !errors.As(err, &se) || se.Code != 403 {
				t.Fatalf("wrong password: %v, want the provider's 403", err)
			}
			if why := within(t, bad.prov.Refused(), "refusal"); !strings.Contains(why, "wrong digest response") {
				t.Errorf("provider refused for %q", why)
			}
			bad.released()
		})
	}
}

// TestDialTrunkProxyAndRecordRoute: with an outbound proxy the INVITE goes
// to the proxy with a loose Route (RFC 3261 §8.1.2) and the Request-URI
// still names the provider's host (which need not resolve); the answer's
// Record-Route is the route set of the dialog: the ACK (or the provider's
// 200 would never be confirmed) and the BYE go to the proxy, addressed to
// the far end's Contact (RFC 3261 §12.2.1.1), not straight to the Contact,
// where nothing listens.
func TestDialTrunkProxyAndRecordRoute(t *testing.T) {
	r := newTrunkRig(t, sipprovider.ProviderConfig{RecordRoute: true}, func(tr *config.Trunk) {
		tr.OutboundProxy, tr.Host = tr.Host, "provider.invalid"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g, err := r.policy.CheckDial(outbound.Dial{Number: "0912345678"})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := r.cli.DialOut(ctx, g, DialOptions{})
	if err != nil {
		t.Fatalf("DialOut: %v", err)
	}
	inv := within(t, r.prov.Invites(), "INVITE confirmed by its ACK")
	if inv.RequestURI != "sip:+84912345678@provider.invalid" || inv.FromUser != "+842838001234" || inv.Asserted != "" {
		t.Errorf("INVITE %+v", inv)
	}
	if want := "<sip:" + r.prov.Addr() + ";lr>"; len(inv.Routes) != 1 || inv.Routes[0] != want {
		t.Errorf("Route %q, want %q", inv.Routes, want)
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	bye := within(t, r.prov.Byes(), "BYE")
	if got := bye.Recipient.String(); got != "sip:gone@127.0.0.1:9" {
		t.Errorf("BYE Request-URI %s, want the far end's Contact", got)
	}
	if rt := bye.GetHeader("Route"); rt == nil || !strings.Contains(rt.Value(), r.prov.Addr()) {
		t.Errorf("BYE Route %v, want the Record-Route", rt)
	}
	r.released()
}

// TestDialTrunkTCP: a TCP trunk: the INVITE goes over TCP, and the
// provider's BYE comes back over the same connection and ends the call.
func TestDialTrunkTCP(t *testing.T) {
	r := newTrunkRig(t, sipprovider.ProviderConfig{Transport: "tcp", Challenge: 401, Username: "u", Password: "p"}, func(tr *config.Trunk) {
		tr.Transport = "tcp"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g, err := r.policy.CheckDial(outbound.Dial{Number: "0912345678"})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := r.cli.DialOut(ctx, g, DialOptions{})
	if err != nil {
		t.Fatalf("DialOut: %v", err)
	}
	if inv := within(t, r.prov.Invites(), "INVITE"); inv.Transport != "TCP" || inv.Username != "u" {
		t.Errorf("INVITE %+v", inv)
	}
	if err := r.prov.HangupAll(ctx); err != nil {
		t.Fatalf("provider BYE: %v", err)
	}
	within(t, oc.Done(), "the call to end on the provider's BYE")
	if cause, side := oc.Ended(); side != SideRemote {
		t.Errorf("ended %s %s", cause, side)
	}
	r.released()
}

// TestDialTrunkTLS: a TLS trunk: the provider's certificate is verified
// against ClientConfig.TLS's roots (for the host the trunk names), the
// call goes over TLS both ways; a provider the roots do not trust is not
// called at all.
func TestDialTrunkTLS(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	must(t, err)
	pc := sipprovider.ProviderConfig{Transport: "tls", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Challenge: 407, Username: "u", Password: "p"}
	r := newTrunkRigTLS(t, pc, func(tr *config.Trunk) { tr.Transport = "tls" }, &tls.Config{RootCAs: roots})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g, err := r.policy.CheckDial(outbound.Dial{Number: "0912345678"})
	must(t, err)
	oc, err := r.cli.DialOut(ctx, g, DialOptions{})
	if err != nil {
		t.Fatalf("DialOut: %v", err)
	}
	if inv := within(t, r.prov.Invites(), "INVITE"); inv.Transport != "TLS" || inv.Username != "u" {
		t.Errorf("INVITE %+v", inv)
	}
	must(t, oc.Hangup(ctx))
	within(t, r.prov.Byes(), "BYE over TLS")
	r.released()

	untrusted := newTrunkRigTLS(t, pc, func(tr *config.Trunk) { tr.Transport = "tls" }, nil) // the system's roots
	g, err = untrusted.policy.CheckDial(outbound.Dial{Number: "0912345678"})
	must(t, err)
	if _, err := untrusted.cli.DialOut(ctx, g, DialOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted provider: %v, want a certificate error", err)
	}
	untrusted.released()
}

// TestDialContactThroughPolicy: with a policy, DialContact to a number on
// the trunk's host (an external agent's uri, a transfer) goes out through
// the trunk with its credentials and caller ID; a refused dial never
// leaves, and says why in a status the transfer code passes on.
func TestDialContactThroughPolicy(t *testing.T) {
	r := newTrunkRig(t, sipprovider.ProviderConfig{Challenge: 401, Username: "u", Password: "p"}, func(tr *config.Trunk) {
		tr.PassCallerID = true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	oc, err := r.cli.DialContact(ctx, "sip:+84912345678@"+r.prov.Addr(), DialOptions{From: "0987654321", Source: "0987654321"})
	within(t, r.prov.Challenges(), "challenge")
	if err != nil {
		t.Fatalf("DialContact: %v", err)
	}
	if inv := within(t, r.prov.Invites(), "INVITE"); inv.Username != "u" || inv.FromUser != "+84987654321" || inv.User != "+84912345678" {
		t.Errorf("INVITE %+v: want the trunk's credentials and the caller's number passed on", inv)
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r.released()

	_, err = r.cli.DialContact(ctx, "sip:+8419001234@"+r.prov.Addr(), DialOptions{})
	var se *StatusError
	var re *outbound.RefusedError
	if !errors.As(err, &se) || se.Code != 403 || !errors.As(err, &re) || re.Reason != outbound.ReasonBlocked {
		t.Fatalf("premium number: %v, want 403 with reason blocked", err)
	}
	select {
	case c := <-r.prov.Challenges():
		t.Fatalf("the refused dial reached the provider (challenge %d)", c)
	default:
	}
}

// runClient is a Client running until the test ends (siptest.Client for
// this package, which siptest imports).
func runClient(t *testing.T, cfg ClientConfig) *Client {
	t.Helper()
	cli, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cli.Run(context.Background()) }()
	t.Cleanup(func() {
		cli.Close()
		if err := <-done; err != nil {
			t.Errorf("Client.Run: %v", err)
		}
	})
	return cli
}
