package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
)

// TestBaresipAgentFeatureCodes: baresip, registered as agent "lan", dials
// the feature codes from its own account. Hotline challenges each INVITE
// (401), baresip answers it with its digest credentials, the code changes
// the agent's presence, and the call is answered and hung up by Hotline; an
// unknown code is refused with 404 and changes nothing.
func TestBaresipAgentFeatureCodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ags := []config.Agent{{ID: "lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"q": 0}}}
	bus := events.NewBus()
	sub := bus.Subscribe(1024)
	defer sub.Close()
	reg := registrar.New(registrar.Config{Agents: ags, Bus: bus})
	svc := New(Config{Agents: ags, Ringer: newFakeRinger(), Bus: bus, Queues: one(config.Queue{
		Strategy: "longest-idle", RingTimeout: 10 * time.Second, MaxMisses: 3, MaxWait: time.Minute, MaxLength: 10})})
	pool, _ := media.NewPortPool(47000, 47498)
	hotline, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: bus, InbandDTMF: "never",
		Register: reg.HandleRegister, Authenticate: reg.Authenticate,
		FeatureCode: func(_ context.Context, agent, code string) error {
			err := svc.FeatureCode(agent, code)
			if errors.Is(err, ErrUnknownFeatureCode) {
				return fmt.Errorf("%w: %w", sip.ErrNotFound, err)
			}
			return err
		}}, sip.HandlerFunc(func(context.Context, *sip.Call) { t.Error("feature code reached the call handler") }), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hotline.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hotline.Serve(context.Background()) }()
	defer func() {
		hotline.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := hotline.Addr().String()
	agent := startBaresipAgent(t, addr, "lan", "s3cret")
	defer agent.Stop()
	for len(reg.Lookup("lan")) == 0 { // registration: wait for the binding event
		select {
		case <-sub.C:
		case <-ctx.Done():
			t.Fatal("baresip did not register")
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	steps := []struct {
		code        string
		established bool // answered (then hung up by Hotline)
		presence    Presence
		reason      string
	}{
		{"*11", true, Available, ""},
		{"*132", true, Paused, "code-2"},
		{"*14", true, Available, ""},
		{"*99", false, Available, ""}, // 404
		{"*12", true, LoggedOut, ""},
	}
	for _, st := range steps {
		agent.Command("dial", "sip:"+st.code+"@127.0.0.1:"+port)
		established := false
		e := agent.WaitEvent(10*time.Second, "CALL_ESTABLISHED", "CALL_CLOSED")
		if e.Type == "CALL_ESTABLISHED" {
			established = true
			e = agent.WaitEvent(10*time.Second, "CALL_CLOSED")
		}
		closed := e.Param
		t.Logf("%s: established %v, closed %q", st.code, established, closed)
		if established != st.established {
			t.Errorf("%s: established %v, want %v (closed: %s)", st.code, established, st.established, closed)
		}
		if !st.established && !strings.HasPrefix(closed, "404") {
			t.Errorf("%s: closed %q, want 404", st.code, closed)
		}
		a, err := svc.Agent("lan")
		if err != nil {
			t.Fatal(err)
		}
		if a.Presence != st.presence || a.Reason != st.reason {
			t.Errorf("%s: agent %s/%q, want %s/%q (closed: %s)", st.code, a.Presence, a.Reason, st.presence, st.reason, closed)
		}
	}
}
