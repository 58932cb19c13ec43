package queue

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/logbuf"
	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/outbound"
)

func registerContact(t *testing.T, ctx context.Context, hotlineAddr, user, password, contact string) int {
	t.Helper()
	status, err := siptest.Register(ctx, hotlineAddr, user, password, contact)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// TestLoopbackTollFraudContactNeverDialled is issue 8's toll fraud through
// a registered Contact, over UDP on 127.0.0.1. Mallory holds agent 2001's
// password and registered Contact: <sip:+88216000000@TRUNK> while the
// allow-list still let that number through (a planted binding: the
// registrar's policy is the laxer one). The allow-list has since been
// tightened. A caller joins the queue: mallory's agent is offered first
// (idle longest), the ringer re-checks the contact at dial time and
// refuses it (a log line), the offer fails, the call goes to the next
// agent — Debian's baresip, registered with digest auth — and the caller
// and baresip hear each other. The trunk (a sipgo UAS) receives nothing.
func TestLoopbackTollFraudContactNeverDialled(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	trunk := siptest.StartTrunk(t)
	ags := []config.Agent{
		{ID: "mallory", Username: "2001", Password: "pw2001", Queues: map[string]int{"q": 0}},
		{ID: "lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"q": 0}},
	}
	// The laxer policy blocked no ranges either (+882 is blocked by default).
	before, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+882*"}, Hosts: []string{trunk.Addr()}}, Agents: ags,
		DefaultCountry: "VN", Limits: config.Outbound{BlockPrefixes: []string{}, BlockTypes: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	now := policyFor(t, config.Allow{Numbers: []string{"+8428*"}, Hosts: []string{trunk.Addr()}}, ags...)
	logs := &logbuf.Buffer{}
	h := startHotlineWith(t, ctx, ags, rigOptions{registrarPolicy: before, ringerPolicy: now,
		log: slog.New(slog.NewTextHandler(logs, nil))})

	premium := "<sip:+88216000000@" + trunk.Addr() + ">"
	if got := registerContact(t, ctx, h.addr, "2001", "pw2001", premium); got != 200 {
		t.Fatalf("planting mallory's binding: %d", got)
	}
	agent := startBaresipAgent(t, h.addr, "lan", "s3cret")
	defer agent.Stop()
	for len(h.reg.Lookup("lan")) == 0 {
		select {
		case <-h.sub.C:
		case <-ctx.Done():
			t.Fatal("baresip did not register")
		}
	}
	for _, id := range []string{"mallory", "lan"} { // mallory idle longest: offered first
		if err := h.svc.Login(id); err != nil {
			t.Fatal(err)
		}
	}
	oc, stopPlay := dialTone(t, ctx, h.addr, 1000)
	defer stopPlay()
	callerHears := referphone.NewTone(440)
	oc.Media().SetAudioSink(callerHears.Sink)

	var offers []string
	for bridged := false; !bridged; {
		select {
		case e := <-h.sub.C:
			switch e.Type {
			case events.AgentOffered:
				offers = append(offers, e.Agent)
			case OfferEnded:
				if r := payload[OfferEnd](e).Result; e.Agent == "mallory" && r != ResultError {
					t.Fatalf("mallory's offer ended %v, want %s", r, ResultError)
				}
			case events.CallBridged:
				if e.Agent != "lan" {
					t.Fatalf("bridged to %q", e.Agent)
				}
				bridged = true
			}
		case <-ctx.Done():
			t.Fatalf("caller never bridged; offers %v", offers)
		}
	}
	if len(offers) < 2 || offers[0] != "mallory" || offers[len(offers)-1] != "lan" {
		t.Fatalf("offers %v, want mallory first, then lan", offers)
	}
	select {
	case <-callerHears.C:
	case <-ctx.Done():
		t.Fatal("caller did not hear baresip's 440 Hz")
	}
	if got := trunk.Received(); len(got) != 0 {
		t.Fatalf("the trunk received %q", got)
	}
	if l := logs.String(); !strings.Contains(l, "registered contact refused by the outbound policy") || !strings.Contains(l, "+88216000000") {
		t.Fatalf("no refusal logged:\n%s", l)
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitIdleAfterCall(t, ctx)
}

// TestLoopbackTollFraudContactRefusedAtRegister: with the current
// allow-list, the same REGISTERs are refused with 403 and nothing is
// bound; an allowed number on the trunk and the phone's own address are
// accepted.
func TestLoopbackTollFraudContactRefusedAtRegister(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	trunk := siptest.StartTrunk(t)
	ags := []config.Agent{{ID: "mallory", Username: "2001", Password: "pw2001", Queues: map[string]int{"q": 0}}}
	pol := policyFor(t, config.Allow{Numbers: []string{"+8428*"}, Hosts: []string{trunk.Addr()}}, ags...)
	logs := &logbuf.Buffer{}
	h := startHotlineWith(t, ctx, ags, rigOptions{registrarPolicy: pol, ringerPolicy: pol, log: slog.New(slog.NewTextHandler(logs, nil))})
	for _, tc := range []struct {
		contact string
		want    int
	}{
		{"<sip:+88216000000@" + trunk.Addr() + ">", 403},
		{"<sip:+88216000000@10.1.2.3:5060>", 403},
		{"<sip:%2B88216000000@10.1.2.3:5060>", 403},
		{"<sip:phone@" + trunk.Addr() + ">", 403},
		{"<sip:+842838001234@" + trunk.Addr() + ">", 200},
		{"<sip:2001@127.0.0.1:5099>", 200},
	} {
		if got := registerContact(t, ctx, h.addr, "2001", "pw2001", tc.contact); got != tc.want {
			t.Errorf("REGISTER Contact %s: %d, want %d", tc.contact, got, tc.want)
		}
	}
	if n := len(h.reg.Lookup("2001")); n != 2 {
		t.Errorf("%d bindings, want the 2 allowed ones: %+v", n, h.reg.Lookup("2001"))
	}
	if n := strings.Count(logs.String(), `msg="registrar: contact refused by the outbound policy`); n != 4 {
		t.Errorf("%d refusals logged, want 4:\n%s", n, logs.String())
	}
	if s := h.reg.Stats(); s.ContactsRefused != 4 {
		t.Errorf("stats %+v", s)
	}
	if got := trunk.Received(); len(got) != 0 {
		t.Fatalf("the trunk received %q", got)
	}
}
