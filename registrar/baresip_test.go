package registrar

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
)

// TestBaresipRegisters runs Debian's baresip (an independent SIP stack) as
// an agent phone against the registrar over UDP on 127.0.0.1: it must answer
// the challenge, get its contact bound, and un-REGISTER when stopped.
func TestBaresipRegisters(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(64)
	defer sub.Close()
	r := New(Config{Agents: []config.Agent{{ID: "lan", Username: "lan", Password: "s3cret"}}, Bus: bus})

	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(r.HandleRegister)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.ServeUDP(conn) }()
	defer func() { srv.Close(); conn.Close(); <-served }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	agent := baresiptest.Start(t, baresiptest.Config{Accounts: "accounts.agent.template", Tone: 440, Vars: map[string]string{
		"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret", "HOTLINE_SIP_PORT": strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)}})
	defer agent.Stop()
	next := func(action string) {
		t.Helper()
		for {
			select {
			case e := <-sub.C:
				if e.Data["action"] == action {
					return
				}
			case <-ctx.Done():
				t.Fatalf("baresip: no %q binding event", action)
			}
		}
	}
	next("added")
	if cs := r.Lookup("lan"); len(cs) != 1 {
		t.Fatalf("bindings %+v", cs)
	} else {
		t.Logf("baresip bound %s (%s)", cs[0].URI, cs[0].UserAgent)
	}
	agent.Stop() // SIGTERM: baresip unregisters, then exits
	next("removed")
	if cs := r.Lookup("lan"); len(cs) != 0 {
		t.Fatalf("bindings after un-REGISTER: %+v", cs)
	}
}
